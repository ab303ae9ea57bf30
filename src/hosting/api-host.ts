/**
 * ApiHost: the Durable Object that serves REST requests next to a pool of PostgreSQL connections
 * (DATABASE_CONNECTIONS=pooled, the default without Hyperdrive).
 *
 * Why an object. A stateless Worker cannot keep a connection from one request to the next, so
 * every request that touches the database would connect: through PgBouncer with SCRAM that cost
 * about 1.7 ms of workerd's CPU and 4.7 ms of PgBouncer's per request, and a postgres.js client
 * built per request kept memory for good. An object can keep connections across requests; the
 * Worker hands it the request as it came (about 0.15-0.3 ms of CPU), and the same Hono app answers
 * it with the pool as its database. Socket upgrades stay in the Worker: they go on to the channel,
 * thread or feed object that holds the socket, and a second hand-off would only add one.
 *
 * Concurrency: the object serves many requests at once. Each runs until it awaits the database,
 * the store or another object, and meanwhile the others run; nothing here uses the object's
 * storage, so no input gate holds requests back. The pool queues queries beyond its size.
 *
 * One object serves a deployment (the name below). On standalone workerd that costs nothing: the
 * Worker and all objects run on the process's one JavaScript thread anyway. On Cloudflare one
 * object is one machine; deployments there bind Hyperdrive and connect per request instead.
 */
import { DurableObject } from "cloudflare:workers";
import type { ExecutionContext as AppExecutionContext } from "hono";
import { type App, type AppOptions, createApp } from "../app";
import { loadConfig } from "../config";
import { createDatabase, type Database } from "../db/client";
import type { Env } from "../env";

const HOST_NAME = "api";

export class ApiHost extends DurableObject<Env> {
  private pool: Database | undefined;
  private app: App | undefined;
  /** What the app needs of an execution context (Hono's shape): the object's own waitUntil. */
  private readonly executionContext: AppExecutionContext = {
    waitUntil: (promise) => this.ctx.waitUntil(promise),
    passThroughOnException: () => {},
    props: {},
  };

  override fetch(request: Request): Promise<Response> {
    this.app ??= this.createApp({
      database: (config) => {
        this.pool ??= createDatabase(config.database, { maxConnections: config.database.poolSize });
        return this.pool;
      },
    });
    return Promise.resolve(this.app.fetch(request, this.env, this.executionContext));
  }

  /** The app this object serves (the test entry adds its test-only routes here). */
  protected createApp(options: AppOptions): App {
    return createApp(options);
  }
}

/**
 * Routes whose reads and writes all go to a conversation's object (which keeps its own connection):
 * the Worker serves them itself, which spares them the hand-off to the ApiHost (about 0.1-0.2 ms
 * of CPU). Their one need of the database, a session check missing from memory, is rare (once per
 * SESSION_CACHE_SECONDS per session) and opens and ends a connection of its own.
 */
const CONVERSATION_ROUTES =
  /^\/(channels\/\d+\/(messages|read|presence)|dm\/threads\/\d+\/(messages|read|read-status))(\/|$)/;

/**
 * The ApiHost that should serve this request, or null when the Worker serves it itself: socket
 * upgrades (see above), conversation routes, per-request connections, broken settings (the app
 * answers 503 naming them), or a deployment without the binding.
 */
export function apiHostFor(request: Request, env: Env): DurableObjectStub<ApiHost> | null {
  const namespace = env.API_HOST;
  if (!namespace) return null;
  if (request.headers.get("Upgrade")?.toLowerCase() === "websocket") return null;
  if (CONVERSATION_ROUTES.test(new URL(request.url).pathname)) return null;
  const result = loadConfig(env);
  if (!result.ok || result.config.database.connections !== "pooled") return null;
  return namespace.get(namespace.idFromName(HOST_NAME));
}

/**
 * The first middleware: gives each request its id, logger, settings and lazily opened
 * connections, and when the response is ready writes one log line and the request metrics.
 *
 * The log line: request_id (X-Request-Id when the caller sent a plain one, else generated, and
 * returned either way), method, route (the template, e.g. /channels/{channel_id}/messages),
 * path (without the query string), query_keys (the names of the query parameters, never their
 * values: a value may be a token, a search term or anything else a client puts there), status,
 * duration_ms, and user_id when the request was authenticated. Bodies and headers are never logged.
 */
import type { MiddlewareHandler } from "hono";
import { type Config, describeProblems, loadConfig } from "../config";
import type { AppEnv, Dependencies } from "../context";
import { createDatabase, type Database, endDatabase } from "../db/client";
import type { Env } from "../env";
import { AppError } from "../errors";
import { createLogger, type Logger } from "../log";
import { metrics } from "../observability/metrics";
import { routeTemplate } from "../observability/route";
import { createNotifier } from "../realtime/notifier";
import { createRealtime } from "../realtime/port";
import type { Notifier } from "../services/notifier";
import type { Realtime } from "../services/realtime";
import { createStore } from "../store";
import type { KeyValueStore } from "../store/store";

/** Paths that must answer even when the settings are broken: liveness and readiness probes. */
const PROBE_PATHS = new Set(["/health", "/healthz", "/heath", "/readyz"]);

/** A caller's X-Request-Id is kept only if it is short and plain, so it cannot forge log lines. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** At most this many query parameter names, each cut to QUERY_KEY_MAX characters, reach a line. */
const QUERY_KEYS_MAX = 16;
const QUERY_KEY_MAX = 64;

/** The distinct names of the query parameters, or undefined without a query string. */
function queryKeys(url: URL): string[] | undefined {
  if (url.search === "") return undefined;
  const names = new Set<string>();
  for (const name of url.searchParams.keys()) {
    if (names.size >= QUERY_KEYS_MAX) break;
    names.add(name.slice(0, QUERY_KEY_MAX));
  }
  return [...names];
}

// Once-per-isolate notices: a broken setting or the memory store is worth one line, not one per request.
const noticed = new WeakSet<object>();
const MEMORY_STORE_NOTICE = {};

function once(key: object, action: () => void) {
  if (!noticed.has(key)) {
    noticed.add(key);
    action();
  }
}

/**
 * Where a request's database comes from: a pool kept by the object serving the request (an
 * ApiHost, see db/client.ts), or, without one, a connection of the request's own.
 */
export type DatabaseSource = (config: Config) => Database;

interface RequestDependencies extends Dependencies {
  /** Ends the request's own connection, if it opened one. */
  release(): Promise<void>;
}

export function createDependencies(
  config: Config,
  log: Logger,
  env?: Env,
  pooled?: DatabaseSource,
): RequestDependencies {
  let db: Database | undefined;
  let ownDb: Database | undefined;
  let store: KeyValueStore | undefined;
  let notifier: Notifier | undefined;
  let realtime: Realtime | undefined;
  return {
    get db() {
      if (!db) {
        if (pooled) db = pooled(config);
        else db = ownDb = createDatabase(config.database);
      }
      return db;
    },
    release: () => (ownDb ? endDatabase(ownDb) : Promise.resolve()),
    get store() {
      if (!store) {
        store = createStore(config.store);
        if (store.kind === "memory") {
          once(MEMORY_STORE_NOTICE, () =>
            log.warn("no UPSTASH_REDIS_REST_URL configured: using the in-memory store (development only)"),
          );
        }
      }
      return store;
    },
    get notifier() {
      notifier ??= createNotifier(env?.NOTIFICATION_FEED, log);
      return notifier;
    },
    get realtime() {
      if (!env) throw new Error("the realtime layer needs the Worker's bindings");
      realtime ??= createRealtime(env, log);
      return realtime;
    },
  };
}

export interface RequestContextOptions {
  /** The pool of the object serving the request; absent, each request opens its own connection. */
  database?: DatabaseSource;
}

export const requestContext =
  (options: RequestContextOptions = {}): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    const started = Date.now();
    const incoming = c.req.header("X-Request-Id");
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    c.set("requestId", requestId);

    const result = loadConfig(c.env);
    const log = createLogger(result.ok ? result.config.logLevel : "info", { request_id: requestId });
    c.set("log", log);
    let deps: RequestDependencies | undefined;

    if (!result.ok) {
      once(result, () =>
        log.error("invalid configuration", {
          problems: result.problems,
          summary: describeProblems(result.problems),
        }),
      );
      if (!PROBE_PATHS.has(c.req.path)) {
        throw new AppError(503, `Service misconfigured: ${describeProblems(result.problems)}`);
      }
      c.set("configProblems", result.problems);
    } else {
      c.set("config", result.config);
      deps = createDependencies(result.config, log, c.env, options.database);
      c.set("deps", deps);
    }

    try {
      await next();
    } finally {
      // A connection of the request's own is ended once the response is ready: never ending it
      // left about 37 KB behind per request (db/client.ts).
      if (deps) waitUntil(c, deps.release());
    }

    if (c.res.status !== 101) {
      const res = new Response(c.res.body, c.res);
      res.headers.set("X-Request-Id", requestId);
      c.res = res;
    }
    const durationMs = Date.now() - started;
    const route = routeTemplate(c);
    // /metrics is left out of its own numbers (scrapes would otherwise count themselves).
    if (c.req.path !== "/metrics") {
      metrics.observeRequest(c.req.method, route, c.res.status, durationMs / 1000);
    }
    const url = new URL(c.req.url);
    log.info("request", {
      method: c.req.method,
      route,
      path: url.pathname,
      query_keys: queryKeys(url),
      status: c.res.status,
      duration_ms: durationMs,
      user_id: c.get("caller")?.userId,
    });
  };

/** Runs `work` after the response where the runtime allows it (a Worker), else just lets it run. */
function waitUntil(c: Parameters<MiddlewareHandler<AppEnv>>[0], work: Promise<unknown>) {
  try {
    c.executionCtx.waitUntil(work);
  } catch {
    // No execution context (an object's own call): the promise still settles by itself.
  }
}

/**
 * Operational routes (docs/http-api.md#operational-routes): liveness probes that touch nothing, and a
 * readiness probe that checks the database and the store within a bounded time.
 */
import { Hono } from "hono";
import { describeProblems } from "../config";
import type { AppEnv } from "../context";

const READINESS_TIMEOUT_MS = 5_000;

const alive = { status: "ok" } as const;

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => {
    if (timer !== undefined) clearTimeout(timer);
  });
}

async function check(probe: () => Promise<unknown>, what: string): Promise<string> {
  try {
    await withTimeout(probe(), READINESS_TIMEOUT_MS, what);
    return "ok";
  } catch (error) {
    return `error: ${error instanceof Error ? error.message : String(error)}`;
  }
}

export const healthRoutes = new Hono<AppEnv>()
  .get("/health", (c) => c.json(alive))
  .get("/healthz", (c) => c.json(alive))
  // The original's typo, kept because deployed probes may call it.
  .get("/heath", (c) => c.json(alive))
  .get("/readyz", async (c) => {
    const problems = c.var.configProblems;
    if (problems) {
      return c.json(
        { detail: "Service Unavailable", status: "error", config: describeProblems(problems), problems },
        503,
      );
    }
    const { deps, log } = c.var;
    const [db, redis] = await Promise.all([
      // A parameter on purpose: postgres.js writes the next query right behind one without
      // parameters (pipelining), and PgBouncer in transaction mode hands the server connection
      // back at the first one's answer, so the second one's answer is dropped and that pooled
      // connection waits for ever. With a parameter the client waits for each answer.
      check(() => deps.db.sql`select ${1}::int as ready`, "database"),
      check(() => deps.store.ping(), "store"),
    ]);
    if (db === "ok" && redis === "ok") return c.json({ status: "ok", db, redis });
    log.warn("not ready", { db, redis });
    return c.json({ detail: "Service Unavailable", status: "error", db, redis }, 503);
  });

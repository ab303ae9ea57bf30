/**
 * Starts the Worker bundle in the real workerd runtime (Miniflare) against a fresh
 * PostgreSQL database of its own and the shared Redis bridge under a key prefix of its own,
 * so every test file is isolated and repeatable.
 */
import postgres from "postgres";
import { inject } from "vitest";
import { createTestDatabase, type TestDatabase } from "./database";
import { uniqueKeyPrefix } from "./store";
import { startWorker } from "./worker";

/** A JWT secret that passes the production length rule; tests never use it elsewhere. */
export const TEST_JWT_SECRET = "test-secret-that-is-at-least-32-bytes-long!";

export interface StartAppOptions {
  /** Extra or overriding settings; `undefined` removes a default one. */
  env?: Record<string, string | undefined>;
  /** Reuse a database instead of creating one (it is then not dropped by close()). */
  database?: TestDatabase;
  /** Start without the shared store, so the Worker uses its in-memory fallback. */
  memoryStore?: boolean;
  /** Run this bundle instead of the test entry's (e.g. the deployed Worker, built by the test). */
  bundlePath?: string;
}

export interface TestApp {
  /** Base URL of the running Worker, e.g. http://127.0.0.1:41234 */
  url: string;
  database: TestDatabase;
  /** A direct connection to the app's database, for arranging and inspecting data. */
  sql: postgres.Sql;
  keyPrefix: string;
  /** Lines the Worker wrote to stdout/stderr (its JSON logs). */
  logs: string[];
  fetch(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

export async function startApp(options: StartAppOptions = {}): Promise<TestApp> {
  const ownDatabase = !options.database;
  const database = options.database ?? (await createTestDatabase());
  const store = options.memoryStore ? null : inject("store");
  const keyPrefix = uniqueKeyPrefix("app");

  const settings: Record<string, string | undefined> = {
    ENV: "test",
    DATABASE_URL: database.url,
    JWT_SECRET: TEST_JWT_SECRET,
    CORS_ORIGINS: "http://localhost:3000,http://app.example",
    STORE_KEY_PREFIX: keyPrefix,
    UPSTASH_REDIS_REST_URL: store?.restUrl,
    UPSTASH_REDIS_REST_TOKEN: store?.token,
    LOG_LEVEL: "info",
    // Rate limits stay on (every request exercises the limiter and the store), far above what any
    // test file does from 127.0.0.1; test/ratelimit passes low limits. The channel post limit keeps
    // its default of 20 per 10 s, which test/messages relies on.
    RATE_LIMIT_HTTP_PER_MINUTE: "1000000",
    RATE_LIMIT_WS_CONNECT_PER_MINUTE: "1000000",
    RATE_LIMIT_LOGIN_PER_MINUTE: "1000000",
    RATE_LIMIT_LOGIN_PER_MINUTE_PER_USER: "1000000",
    RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT_PER_15_MINUTES: "1000000",
    RATE_LIMIT_REFRESH_PER_MINUTE: "1000000",
    RATE_LIMIT_REGISTER_PER_HOUR: "1000000",
    RATE_LIMIT_DM_MESSAGE_PER_10_SECONDS: "10000",
    RATE_LIMIT_DM_THREAD_CREATE_PER_MINUTE: "1000000",
    RATE_LIMIT_SEARCH_PER_MINUTE: "1000000",
    ...options.env,
  };
  const bindings = Object.fromEntries(
    Object.entries(settings).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );

  const worker = await startWorker(
    { bundlePath: options.bundlePath ?? inject("bundlePath"), workerOptions: inject("workerOptions") },
    bindings,
  );
  const url = worker.url;
  const sql = postgres(database.url, { max: 2, onnotice: () => {} });

  return {
    url,
    database,
    sql,
    keyPrefix,
    logs: worker.logs,
    fetch: (path, init) => fetch(`${url}${path}`, init),
    async close() {
      await sql.end({ timeout: 1 });
      await worker.dispose();
      if (ownDatabase) await database.drop();
    },
  };
}

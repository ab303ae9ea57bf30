/**
 * Starts what a benchmark measures: the Worker bundle (built as deployed) in workerd, a fresh
 * migrated PostgreSQL database, and Redis behind the Upstash bridge — the same pieces and the
 * same code as the test rig, minus vitest.
 */

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { buildBundle, repositoryRoot } from "../../test/support/bundle";
import { stopperFor } from "../../test/support/child-process";
import { createTestDatabase, type TestDatabase } from "../../test/support/database";
import { freePort, startTestStore, uniqueKeyPrefix } from "../../test/support/store";
import { runtimeOptionsFromWranglerToml, startWorker } from "../../test/support/worker";
import { type Pooler, startPgBouncer } from "./pooler";

export interface BenchStack {
  url: string;
  /**
   * With `directSocket`: a workerd socket served by the Worker itself, bypassing Miniflare's entry
   * worker (which sits in front of `url`), as a deployed or self-hosted Worker is reached.
   */
  directUrl?: string;
  /** The compatibility flags the Worker runs with. */
  compatibilityFlags: string[];
  /** With `bridgeProcess`: the pid of the Upstash bridge's own process. */
  bridgePid?: number;
  /** With `pooler`: the Worker reaches PostgreSQL through PgBouncer (see lib/pooler.ts). */
  pooled: boolean;
  database: TestDatabase;
  stop(): Promise<void>;
}

export interface StackOptions {
  /** Rewrites wrangler.toml's compatibility flags (e.g. to drop `no_web_socket_compression`). */
  compatibilityFlags?: (flags: string[]) => string[];
  /** Also open a socket straight to the Worker (see BenchStack.directUrl). */
  directSocket?: boolean;
  /**
   * Run the Upstash bridge in a child process (`scripts/upstash-bridge.ts`) instead of in this
   * one, so the benchmark's clients and the store's bridge neither share an event loop nor blur
   * each other's CPU figures.
   */
  bridgeProcess?: boolean;
  /** Put PgBouncer (transaction pooling) between the Worker and PostgreSQL, as self-hosting does. */
  pooler?: boolean;
}

async function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** The bridge in its own process, in front of the same Redis. */
async function spawnBridge(redisUrl: string) {
  const port = await freePort();
  const token = randomBytes(24).toString("hex");
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/upstash-bridge.ts"], {
    cwd: repositoryRoot,
    env: {
      ...process.env,
      REDIS_URL: redisUrl,
      UPSTASH_BRIDGE_TOKEN: token,
      UPSTASH_BRIDGE_PORT: String(port),
    },
    stdio: "ignore",
  });
  const stop = stopperFor(child);
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && child.exitCode === null) {
    if (await portAnswers(port)) return { url: `http://127.0.0.1:${port}`, token, pid: child.pid, stop };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await stop();
  throw new Error("the Upstash bridge process did not start");
}

export async function startStack(
  settings: Record<string, string> = {},
  options: StackOptions = {},
): Promise<BenchStack> {
  const bundlePath = buildBundle();
  const [workerOptions, store, database] = await Promise.all([
    runtimeOptionsFromWranglerToml(),
    startTestStore(),
    createTestDatabase(),
  ]);
  const flags = (workerOptions.compatibilityFlags as string[] | undefined) ?? [];
  const compatibilityFlags = options.compatibilityFlags ? options.compatibilityFlags([...flags]) : flags;
  workerOptions.compatibilityFlags = compatibilityFlags;
  let directUrl: string | undefined;
  if (options.directSocket) {
    const port = await freePort();
    workerOptions.unsafeDirectSockets = [{ host: "127.0.0.1", port }];
    directUrl = `http://127.0.0.1:${port}`;
  }
  const bridge = options.bridgeProcess && store ? await spawnBridge(store.redisUrl) : undefined;
  const storeUrl = bridge?.url ?? store?.restUrl;
  const storeToken = bridge?.token ?? store?.token;
  let pooler: Pooler | undefined;
  if (options.pooler) pooler = await startPgBouncer(database.url);
  const bindings: Record<string, string> = {
    ENV: "test",
    LOG_LEVEL: "warn",
    // Benchmarks measure the service, not the limiter (a caller may still pass limits in `settings`).
    RATE_LIMITS_ENABLED: "false",
    DATABASE_URL: pooler?.url ?? database.url,
    ...(pooler ? { DATABASE_PREPARE: "false" } : {}),
    JWT_SECRET: "bench-secret-that-is-at-least-32-bytes-long",
    STORE_KEY_PREFIX: uniqueKeyPrefix("bench"),
    ...(storeUrl && storeToken
      ? { UPSTASH_REDIS_REST_URL: storeUrl, UPSTASH_REDIS_REST_TOKEN: storeToken }
      : {}),
    ...settings,
  };
  const worker = await startWorker({ bundlePath, workerOptions }, bindings, { keepLogs: false });
  return {
    url: worker.url,
    directUrl,
    compatibilityFlags,
    bridgePid: bridge?.pid,
    pooled: pooler !== undefined,
    database,
    async stop() {
      await worker.dispose();
      await pooler?.stop();
      await bridge?.stop();
      await store?.stop();
      await database.drop();
    },
  };
}

/** Runs `task` `total` times with `concurrency` in flight; returns each duration in ms. */
export async function measure(total: number, concurrency: number, task: (i: number) => Promise<void>) {
  const durations: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const t0 = performance.now();
        await task(i);
        durations.push(performance.now() - t0);
      }
    }),
  );
  const elapsedMs = performance.now() - started;
  return { durations, elapsedMs, perSecond: (total / elapsedMs) * 1000 };
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

export function summarise(label: string, result: Awaited<ReturnType<typeof measure>>) {
  const { durations, perSecond } = result;
  return `${label.padEnd(44)} ${perSecond.toFixed(0).padStart(6)} req/s   p50 ${percentile(durations, 50)
    .toFixed(1)
    .padStart(6)} ms   p99 ${percentile(durations, 99).toFixed(1).padStart(6)} ms   (n=${durations.length})`;
}

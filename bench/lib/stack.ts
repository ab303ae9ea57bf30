/**
 * Starts what a benchmark measures: the Worker bundle (built as deployed) in workerd, a fresh
 * migrated PostgreSQL database, and Redis behind the Upstash bridge — the same pieces and the
 * same code as the test rig, minus vitest.
 */
import { buildBundle } from "../../test/support/bundle";
import { createTestDatabase, type TestDatabase } from "../../test/support/database";
import { startTestStore, uniqueKeyPrefix } from "../../test/support/store";
import { runtimeOptionsFromWranglerToml, startWorker } from "../../test/support/worker";

export interface BenchStack {
  url: string;
  database: TestDatabase;
  stop(): Promise<void>;
}

export async function startStack(settings: Record<string, string> = {}): Promise<BenchStack> {
  const bundlePath = buildBundle();
  const [workerOptions, store, database] = await Promise.all([
    runtimeOptionsFromWranglerToml(),
    startTestStore(),
    createTestDatabase(),
  ]);
  const bindings: Record<string, string> = {
    ENV: "test",
    LOG_LEVEL: "warn",
    DATABASE_URL: database.url,
    JWT_SECRET: "bench-secret-that-is-at-least-32-bytes-long",
    STORE_KEY_PREFIX: uniqueKeyPrefix("bench"),
    ...(store ? { UPSTASH_REDIS_REST_URL: store.restUrl, UPSTASH_REDIS_REST_TOKEN: store.token } : {}),
    ...settings,
  };
  const worker = await startWorker({ bundlePath, workerOptions }, bindings, { keepLogs: false });
  return {
    url: worker.url,
    database,
    async stop() {
      await worker.dispose();
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

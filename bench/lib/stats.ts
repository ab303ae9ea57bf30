/** Small helpers every benchmark shares: running tasks at a concurrency, percentiles, formatting. */

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

export function percentile(values: ArrayLike<number>, p: number): number {
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

export const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** BENCH_SMOKE=1: a tiny run that checks a benchmark works (its figures mean nothing). */
export const SMOKE = process.env.BENCH_SMOKE === "1";

/** A number from the environment, or `fallback` (the smoke value when BENCH_SMOKE=1). */
export function setting(name: string, full: number, smoke = full): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return SMOKE ? smoke : full;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number, not ${raw}`);
  return value;
}

/**
 * A closed loop in this process: `connections` loops, each starting its next attempt as soon as
 * the previous one is done, until the time is up. Each attempt reports whether it was answered
 * with success, answered otherwise, or not answered at all; answered attempts are timed.
 */
import type { LoadOptions, LoadResult } from "./load";
import { percentile } from "./stats";

export type Outcome = "ok" | "refused" | "no answer";

export async function closedLoop(
  driver: string,
  options: LoadOptions,
  attempt: (n: number) => Promise<Outcome>,
): Promise<LoadResult> {
  const latencies: number[] = [];
  let refused = 0;
  let unanswered = 0;
  let n = 0;
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  await Promise.all(
    Array.from({ length: options.connections }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        const outcome = await attempt(n++);
        if (outcome === "no answer") unanswered++;
        else latencies.push(performance.now() - t0);
        if (outcome === "refused") refused++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu0);
  return {
    driver,
    requests: latencies.length,
    seconds,
    perSecond: latencies.length / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: percentile(latencies, 100),
    non2xx: refused,
    socketErrors: unanswered,
    clientCpuSeconds: (used.user + used.system) / 1e6,
  };
}

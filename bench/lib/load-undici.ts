/**
 * The undici driver: a keep-alive Pool of `connections` in this process, one request in flight
 * per connection. Its CPU is this process's (which also reads the stack's log output).
 */
import { Pool } from "undici";
import type { LoadOptions, LoadRequest, LoadResult } from "./load";
import { percentile } from "./stats";

export async function undiciLoad(
  base: string,
  request: LoadRequest,
  options: LoadOptions,
): Promise<LoadResult> {
  const pool = new Pool(base, { connections: options.connections, pipelining: 1 });
  const headers = request.tokens.map((token) => ({
    authorization: `Bearer ${token}`,
    ...(request.body !== undefined ? { "content-type": "application/json" } : {}),
  }));
  const latencies: number[] = [];
  let sent = 0;
  let non2xx = 0;
  let socketErrors = 0;
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  await Promise.all(
    Array.from({ length: options.connections }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        try {
          const res = await pool.request({
            method: request.method,
            path: request.path,
            headers: headers[sent++ % headers.length],
            body: request.body,
            headersTimeout: 10_000,
            bodyTimeout: 10_000,
          });
          await res.body.dump({ limit: Number.POSITIVE_INFINITY });
          if (res.statusCode < 200 || res.statusCode > 299) non2xx++;
          latencies.push(performance.now() - t0);
        } catch {
          socketErrors++;
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu0);
  await pool.close();
  return {
    driver: "undici",
    requests: latencies.length,
    seconds,
    perSecond: latencies.length / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: percentile(latencies, 100),
    non2xx,
    socketErrors,
    clientCpuSeconds: (used.user + used.system) / 1e6,
  };
}

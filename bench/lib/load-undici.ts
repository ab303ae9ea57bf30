/**
 * The undici driver: a keep-alive Pool of `connections` in this process, one request in flight
 * per connection. Its CPU is this process's (which also reads the stack's log output).
 */
import { Pool } from "undici";
import { closedLoop } from "./closed-loop";
import type { LoadOptions, LoadRequest, LoadResult } from "./load";

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
  try {
    return await closedLoop("undici", options, async (n) => {
      try {
        const res = await pool.request({
          method: request.method,
          path: request.path,
          headers: headers[n % headers.length],
          body: request.body,
          headersTimeout: 10_000,
          bodyTimeout: 10_000,
        });
        await res.body.dump({ limit: Number.POSITIVE_INFINITY });
        return res.statusCode >= 200 && res.statusCode <= 299 ? "ok" : "refused";
      } catch {
        return "no answer";
      }
    });
  } finally {
    await pool.close();
  }
}

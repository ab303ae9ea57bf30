/**
 * Closed-loop HTTP load: `connections` keep-alive connections, each sending its next request as
 * soon as the previous answer is in, for a while. Two drivers do it: wrk (C, with a Lua script)
 * and undici's Pool in this process. Both report the same figures, the CPU the client itself
 * spent included, so the client can be shown not to be the bottleneck (BENCH_CLIENT picks one;
 * wrk is the default when installed: it costs the client several times less CPU per request).
 */
import { existsSync } from "node:fs";
import { undiciLoad } from "./load-undici";
import { wrkLoad } from "./load-wrk";
import { fmt } from "./stats";

export interface LoadRequest {
  method: "GET" | "POST";
  path: string;
  /** JSON body (sent with Content-Type: application/json). */
  body?: string;
  /** Bearer tokens, used in turn, so the requests come from several users. */
  tokens: string[];
}

export interface LoadOptions {
  connections: number;
  seconds: number;
}

export interface LoadResult {
  driver: string;
  requests: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Answers outside 200-299. */
  non2xx: number;
  /** Connection errors and timeouts (no answer at all). */
  socketErrors: number;
  /** CPU seconds the load generator used. */
  clientCpuSeconds: number;
}

export type LoadDriver = (base: string, request: LoadRequest, options: LoadOptions) => Promise<LoadResult>;

const WRK = ["/usr/bin/wrk", "/usr/local/bin/wrk"].find((path) => existsSync(path));

export function loadDriver(name = process.env.BENCH_CLIENT): { name: string; run: LoadDriver } {
  const chosen = name ?? (WRK ? "wrk" : "undici");
  if (chosen === "wrk") {
    if (!WRK) throw new Error("BENCH_CLIENT=wrk, but wrk is not installed (Debian: apt-get install wrk)");
    return { name: "wrk", run: (base, request, options) => wrkLoad(WRK, base, request, options) };
  }
  if (chosen === "undici") return { name: "undici", run: undiciLoad };
  throw new Error(`BENCH_CLIENT must be wrk or undici, not ${chosen}`);
}

export function describeLoad(r: LoadResult): string {
  return (
    `${fmt(r.perSecond, 0).padStart(6)} req/s  p50 ${fmt(r.p50Ms).padStart(6)} ms  p99 ${fmt(r.p99Ms).padStart(6)} ms  ` +
    `(n=${r.requests}, non-2xx ${r.non2xx}, no answer ${r.socketErrors}; ${r.driver} used ` +
    `${fmt((r.clientCpuSeconds / r.requests) * 1000, 3)} ms CPU per request)`
  );
}

/**
 * GET /metrics (docs/original-defects.md#d6-metrics): the Prometheus text format of observability/metrics.ts.
 * Not counted by the rate limits nor in http_requests_total. METRICS_ENABLED=false makes it a
 * 404; with METRICS_TOKEN set it requires `Authorization: Bearer <METRICS_TOKEN>` (401 otherwise).
 */
import { Hono } from "hono";
import type { AppEnv } from "../context";
import { notAuthenticated, notFound } from "../errors";
import { bearerToken } from "../http/auth";
import { METRICS_CONTENT_TYPE, metrics } from "../observability/metrics";

const encoder = new TextEncoder();

/** Compares two secrets in time independent of where they differ (digests of equal length). */
async function sameSecret(presented: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all(
    [presented, expected].map(
      async (s) => new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(s))),
    ),
  );
  let difference = 0;
  for (let i = 0; i < (a?.length ?? 0); i++) difference |= (a?.[i] ?? 0) ^ (b?.[i] ?? 0);
  return difference === 0;
}

export const metricsRoutes = new Hono<AppEnv>().get("/metrics", async (c) => {
  const config = c.var.config;
  if (!config?.metricsEnabled) throw notFound();
  if (config.metricsToken) {
    const token = bearerToken(c);
    if (!token || !(await sameSecret(token, config.metricsToken))) throw notAuthenticated();
  }
  return c.body(metrics.expose(), 200, { "Content-Type": METRICS_CONTENT_TYPE, "Cache-Control": "no-store" });
});

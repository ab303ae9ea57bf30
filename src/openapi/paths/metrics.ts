/** GET /metrics (docs/http-api.md#operational-routes; src/routes/metrics.ts). */
import { z } from "zod";
import { operation } from "../define";

export const metricsOperations = [
  operation({
    method: "get",
    path: "/metrics",
    tag: "health",
    summary: "Prometheus metrics",
    description:
      "The Prometheus text format. A 404 when METRICS_ENABLED is false; with METRICS_TOKEN set, it " +
      "requires `Authorization: Bearer <METRICS_TOKEN>` (not a user's token).",
    auth: false,
    rateLimited: false,
    security: [{ metricsToken: [] }, {}],
    ok: {
      description: "Metrics.",
      schema: z.string(),
      mediaType: "text/plain; version=0.0.4; charset=utf-8",
    },
    errors: {
      401: "`Not authenticated`: METRICS_TOKEN is set and was not presented.",
      404: "`Not Found`: metrics are disabled.",
    },
  }),
];

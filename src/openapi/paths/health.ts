/** Operational routes (docs/http-api.md#operational-routes; src/routes/health.ts). */
import { operation } from "../define";
import { Alive, NotReady, Ready } from "../schemas";

const tag = "health";

const probe = (path: string, summary: string, rateLimited: boolean) =>
  operation({
    method: "get",
    path,
    tag,
    summary,
    auth: false,
    rateLimited,
    ok: { description: "Alive; touches neither the database nor the store.", schema: Alive },
  });

export const healthOperations = [
  probe("/health", "Liveness (polled by the web app)", false),
  probe("/healthz", "Liveness", false),
  probe("/heath", "Liveness (the original's typo, kept for deployed probes)", true),
  operation({
    method: "get",
    path: "/readyz",
    tag,
    summary: "Readiness: the database and the store answer",
    auth: false,
    rateLimited: false,
    ok: { description: "Ready.", schema: Ready },
    extraResponses: {
      503: {
        description: "Not ready (a dependency failed, or the settings are invalid).",
        content: { "application/json": { schema: NotReady } },
      },
    },
  }),
];

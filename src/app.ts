/**
 * The HTTP application: middleware in the order that gives the documented behaviour, then
 * the route modules, each of which reads like its section of docs/http-api.md.
 */
import { Hono } from "hono";
import type { AppEnv } from "./context";
import { limitBodySize } from "./http/body-limit";
import { cors } from "./http/cors";
import { handleError, notFoundOrMethodNotAllowed } from "./http/error-handler";
import { globalRateLimit, socketConnectRateLimit } from "./http/rate-limit";
import { type RequestContextOptions, requestContext } from "./http/request-context";
import { parseJsonBody, rejectUnstorableUrl } from "./http/validation";
import { authRoutes } from "./routes/auth";
import { channelRoutes } from "./routes/channels";
import { dmRoutes } from "./routes/dm";
import { friendRoutes } from "./routes/friends";
import { healthRoutes } from "./routes/health";
import { inviteRoutes } from "./routes/invites";
import { mentionRoutes } from "./routes/mentions";
import { messageRoutes } from "./routes/messages";
import { metricsRoutes } from "./routes/metrics";
import { openApiRoutes } from "./routes/openapi";
import { searchRoutes } from "./routes/search";
import { socketRoutes } from "./routes/sockets";
import { threadRoutes } from "./routes/threads";
import { userRoutes } from "./routes/users";
import { workspaceRoutes } from "./routes/workspaces";

export interface AppOptions extends RequestContextOptions {
  /**
   * Mounts routes after the product's, under the same middleware: the test entry's test-only
   * routes (test/support/test-worker.ts), which the deployed Worker never contains.
   */
  extend?: (app: Hono<AppEnv>) => void;
}

/**
 * `options.database`: the pool of the object serving the app (an ApiHost, src/hosting/api-host.ts);
 * without it each request opens and ends a connection of its own (src/db/client.ts).
 */
export function createApp(options: AppOptions = {}) {
  const app = new Hono<AppEnv>();

  // Order matters: the request id, log line and metrics wrap everything; CORS wraps every answer,
  // errors included; a malformed body is refused (422) before authentication, as upstream.
  app.use(requestContext(options));
  app.use(async (c, next) => (c.var.config ? cors(c, next) : next()));
  // Rate limits inside CORS (a 429 carries CORS headers, docs/original-defects.md#d5-rate-limit-500s), after
  // preflights, before any body is read.
  app.use(globalRateLimit);
  app.use("/ws/*", socketConnectRateLimit);
  app.use(limitBodySize, parseJsonBody, rejectUnstorableUrl);

  // Chained, so the app's type carries every route for the typed client (src/client.ts). A module
  // mounted outside the chain works, but is missing from `AppType`.
  const routes = app
    .route("/", healthRoutes)
    .route("/", metricsRoutes)
    .route("/", authRoutes)
    .route("/", inviteRoutes)
    .route("/", workspaceRoutes)
    .route("/", channelRoutes)
    .route("/", messageRoutes)
    .route("/", dmRoutes)
    .route("/", threadRoutes)
    .route("/", mentionRoutes)
    .route("/", searchRoutes)
    .route("/", userRoutes)
    .route("/", friendRoutes)
    .route("/", socketRoutes)
    .route("/", openApiRoutes());

  options.extend?.(app);

  app.notFound(notFoundOrMethodNotAllowed(app));
  app.onError(handleError);
  return routes;
}

export type App = ReturnType<typeof createApp>;

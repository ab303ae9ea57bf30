/**
 * The HTTP application: middleware in the order that gives the contract's behaviour, then
 * the route modules, each of which reads like its section of ../shared/CONTRACT.md.
 */
import { Hono } from "hono";
import type { AppEnv } from "./context";
import { cors } from "./http/cors";
import { handleError, notFoundOrMethodNotAllowed } from "./http/error-handler";
import { requestContext } from "./http/request-context";
import { limitBodySize, parseJsonBody } from "./http/validation";
import { authRoutes } from "./routes/auth";
import { channelRoutes } from "./routes/channels";
import { friendRoutes } from "./routes/friends";
import { healthRoutes } from "./routes/health";
import { inviteRoutes } from "./routes/invites";
import { messageRoutes } from "./routes/messages";
import { realtimeRoutes } from "./routes/realtime";
import { testSupportRoutes } from "./routes/test-support";
import { userRoutes } from "./routes/users";
import { workspaceRoutes } from "./routes/workspaces";

export function createApp() {
  const app = new Hono<AppEnv>();

  // Order matters: the request id and log line wrap everything; CORS wraps every answer,
  // errors included; a malformed body is refused (422) before authentication, as upstream.
  app.use(requestContext);
  app.use(async (c, next) => (c.var.config ? cors(c, next) : next()));
  app.use(limitBodySize, parseJsonBody);

  app.route("/", healthRoutes);
  app.route("/", authRoutes);
  app.route("/", inviteRoutes);
  app.route("/", workspaceRoutes);
  app.route("/", channelRoutes);
  app.route("/", messageRoutes);
  app.route("/", userRoutes);
  app.route("/", friendRoutes);
  app.route("/", realtimeRoutes);

  app.route("/", testSupportRoutes);

  app.notFound(notFoundOrMethodNotAllowed(app));
  app.onError(handleError);
  return app;
}

export type App = ReturnType<typeof createApp>;

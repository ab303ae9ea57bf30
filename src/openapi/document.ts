/**
 * The OpenAPI 3.1 document (GET /openapi.json), generated from the operations in ./paths: their
 * request schemas are the ones the route modules validate with, their response schemas are
 * ./schemas.ts. @hono/zod-openapi's registry and generator do the conversion; the routes
 * themselves stay plain Hono routes (see README, "API documentation and typed client").
 *
 * test/openapi/document.test.ts fails when a route of the app is missing here, or the other way round.
 */
import { OpenAPIHono, type RouteConfig } from "@hono/zod-openapi";
import { HEADERS } from "./define";
import { authOperations } from "./paths/auth";
import { channelOperations } from "./paths/channels";
import { dmOperations } from "./paths/dm";
import { documentationOperations } from "./paths/documentation";
import { friendOperations } from "./paths/friends";
import { healthOperations } from "./paths/health";
import { inviteOperations } from "./paths/invites";
import { mentionOperations } from "./paths/mentions";
import { messageOperations } from "./paths/messages";
import { metricsOperations } from "./paths/metrics";
import { realtimeOperations } from "./paths/realtime";
import { searchOperations } from "./paths/search";
import { threadOperations } from "./paths/threads";
import { userOperations } from "./paths/users";
import { workspaceOperations } from "./paths/workspaces";

/** Every documented operation, in the order of the document. */
export const operations: readonly RouteConfig[] = [
  ...healthOperations,
  ...metricsOperations,
  ...authOperations,
  ...userOperations,
  ...inviteOperations,
  ...friendOperations,
  ...workspaceOperations,
  ...channelOperations,
  ...messageOperations,
  ...dmOperations,
  ...threadOperations,
  ...mentionOperations,
  ...searchOperations,
  ...realtimeOperations,
  ...documentationOperations,
];

const tags = [
  { name: "health", description: "Probes and metrics" },
  { name: "auth", description: "Accounts, tokens and sessions" },
  { name: "users", description: "Users" },
  { name: "invites", description: "Workspace invites, the invitee's side" },
  { name: "friends", description: "Friends and friend requests" },
  { name: "workspaces", description: "Workspaces, members, invites, audit log" },
  { name: "channels", description: "Channels and their members" },
  { name: "messages", description: "Channel messages, presence, read state" },
  { name: "direct messages", description: "Direct-message threads" },
  { name: "search", description: "Full-text search of messages" },
  { name: "sockets", description: "WebSocket handshakes" },
  { name: "documentation", description: "This document" },
];

const DESCRIPTION = `The Braumchat API (a Cloudflare Worker).

- Authenticate with \`Authorization: Bearer <access token>\` from \`POST /auth/login\`.
- Errors are \`{"detail": "<reason>"}\`, except 422, whose \`detail\` is a list of
  Pydantic-v1-style issues (\`loc\`, \`msg\`, \`type\`).
- Every request counts against a per-client limit (per user when authenticated, per IP otherwise);
  a limited request gets 429 with \`Retry-After\` and \`RateLimit-*\` headers.
- Creates answer 200, not 201. Timestamps are ISO 8601 with an offset.
- The sockets (\`/ws/...\`): their frames, events, close codes and limits are described by an
  AsyncAPI 3.0 document, [/asyncapi.json](/asyncapi.json), which [/docs/sockets](/docs/sockets) shows.`;

export function buildOpenApiDocument() {
  const generator = new OpenAPIHono();
  const registry = generator.openAPIRegistry;
  registry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "An access token from `POST /auth/login`, `/auth/refresh` or `/auth/google`.",
  });
  registry.registerComponent("securitySchemes", "metricsToken", {
    type: "http",
    scheme: "bearer",
    description: "GET /metrics, when METRICS_TOKEN is set: that token (not a user's).",
  });
  registry.registerComponent("securitySchemes", "socketToken", {
    type: "apiKey",
    in: "query",
    name: "token",
    description: "Socket handshakes: the access token in `?token=`.",
  });
  registry.registerComponent("securitySchemes", "socketSubprotocol", {
    type: "apiKey",
    in: "header",
    name: "Sec-WebSocket-Protocol",
    description: "Socket handshakes: the subprotocols `bearer, <access token>`.",
  });
  for (const [name, header] of Object.entries(HEADERS)) registry.registerComponent("headers", name, header);
  const seen = new Set<string>();
  for (const route of operations) {
    const key = `${route.method.toUpperCase()} ${route.path}`;
    if (seen.has(key)) throw new Error(`OpenAPI: ${key} is described twice`);
    seen.add(key);
    registry.registerPath(route);
  }
  return generator.getOpenAPI31Document({
    openapi: "3.1.0",
    info: { title: "Braumchat API", version: "0.1.0", description: DESCRIPTION },
    tags,
  });
}

let serialized: string | undefined;

/** The document as JSON text, built on first use and kept for the isolate's life. */
export function openApiJson(): string {
  serialized ??= JSON.stringify(buildOpenApiDocument());
  return serialized;
}

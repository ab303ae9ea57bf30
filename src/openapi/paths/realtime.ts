/**
 * The socket endpoints (docs/socket-protocol.md#handshake; src/routes/sockets.ts), described
 * as the GET requests they are; what goes over them is /asyncapi.json's (src/openapi/asyncapi/). Their
 * handshakes parse the path and query by hand (a refusal is a 403 before the upgrade, not a 422), so these
 * parameter schemas are documentation only.
 */
import { z } from "zod";
import { type Operation, operation } from "../define";
import { ValidationError } from "../schemas";

const tag = "sockets";

const tokenQuery = {
  token: z
    .string()
    .optional()
    .meta({
      description:
        "The access token. Alternatively offer the subprotocols `bearer, <token>` " +
        "(`Sec-WebSocket-Protocol`), which keeps it out of URLs; the server then answers `bearer`.",
    }),
};

const since = z.number().int().min(0).optional().meta({ description: "The last message id the client has" });

const sinceRefused = {
  422: {
    description: "`since` is not a non-negative integer.",
    content: { "application/json": { schema: ValidationError } },
  },
};

const handshake: Omit<Operation, "method" | "path" | "tag" | "summary"> = {
  auth: false,
  unvalidated: true,
  routeLimit:
    "handshakes per user (or per IP without a valid token); a plain GET counts against the global limit; " +
    "or the user already holds WS_MAX_SOCKETS_PER_USER open sockets on this conversation or feed " +
    "(`Too many open sockets (at most N per user here)`)",
  security: [{ socketToken: [] }, { socketSubprotocol: [] }],
  ok: {
    status: 101,
    description:
      "Switching Protocols: the socket is open. Its frames and events: /asyncapi.json, shown at /docs/sockets.",
  },
  errors: {
    403: "The handshake was refused before the upgrade; `detail` names why (no or bad token, revoked session, no access, a browser Origin not in CORS_ORIGINS).",
    503: "The database could not be reached (`Retry-After`).",
    426: "`This endpoint only accepts WebSocket upgrades` (a plain GET, without `Upgrade: websocket`).",
  },
};

export const realtimeOperations = [
  operation({
    method: "get",
    path: "/ws/notifications",
    tag,
    summary: "The caller's notification socket",
    description: "Server → client events: `invite.*`, `friend.*`, `dm.unread`, ... (see /asyncapi.json).",
    query: z.object(tokenQuery),
    ...handshake,
  }),
  operation({
    method: "get",
    path: "/ws/chat/{workspace_id}/{channel_id}",
    tag,
    summary: "A channel's socket: messages, typing, presence",
    description:
      "The handshake makes the checks REST makes (membership, private channels, the channel being in " +
      "the workspace). With `since`, the socket first receives the messages after that id, or one " +
      "`resync` event when too many were missed.",
    params: z.object({ workspace_id: z.number().int(), channel_id: z.number().int() }),
    query: z.object({
      ...tokenQuery,
      since,
    }),
    ...handshake,
    extraResponses: sinceRefused,
  }),
  operation({
    method: "get",
    path: "/ws/dm/{thread_id}",
    tag,
    summary: "A direct-message thread's socket: messages, typing, presence, read receipts",
    description:
      "The handshake makes the checks REST makes (`Thread not found`, `Not part of this thread`), " +
      "and refuses a read-only thread, whose two people share no workspace and are not friends " +
      "(`Thread is read-only: ...`); its open sockets are closed (1008) when that happens. " +
      "`since` works as on the channel socket.",
    params: z.object({ thread_id: z.number().int() }),
    query: z.object({ ...tokenQuery, since }),
    ...handshake,
    extraResponses: sinceRefused,
  }),
];

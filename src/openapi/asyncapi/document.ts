/**
 * The AsyncAPI 3.0 document of the three sockets (GET /asyncapi.json), generated from the
 * protocol's zod schemas (components.ts) and its constants: the frames each socket accepts, the
 * events it sends, the handshake (token, `since`, Origin, refusals), close codes (`x-close-codes`),
 * error codes and limits (`x-limits`, with this deployment's settings). It describes the server:
 * its `send` operations are what clients receive, its `receive` operations what clients send.
 *
 * Checked by test/realtime/protocol-frames.test.ts, which records real frames of every type and
 * validates each against the served document, and by test/openapi/asyncapi.test.ts, which
 * validates the document against AsyncAPI's own JSON Schema. GET /docs/sockets renders it (page.ts).
 */
import type { Config } from "../../config";
import {
  BURST_SECONDS,
  FRAME_DEBT_TO_CLOSE,
  MAX_FRAME_CHARS,
  TYPING_INTERVAL_MS,
  TYPING_MAX_PER_INTERVAL,
} from "../../realtime/frame-budget";
import { PING_FRAME } from "../../realtime/names";
import {
  CLOSE_CODES,
  type CloseAdvice,
  type CloseCase,
  closeAdvice,
  closeCases,
} from "../../realtime/protocol/close-codes";
import { CATCH_UP_MAX, ERROR_CODE_MEANINGS } from "../../realtime/protocol/server-events";
import { IDLE_TIMEOUT_MS } from "../../realtime/socket-liveness";
import { THREAD_READ_ONLY } from "../../services/access";
import { CLIENT_ID_MAX_CHARS, MESSAGE_MAX_CHARS } from "../../services/message-rules";
import {
  clientFrames,
  conversationEvents,
  documentSchemas,
  type NamedMessage,
  notificationEvents,
  notificationFrames,
} from "./components";

/** The settings of this deployment the document states (config.ts). */
export interface ProtocolSettings {
  framesPerSecond: number;
  maxSocketsPerUser: number;
  connectsPerMinute: number;
  channelMessagesPer10Seconds: number;
  dmMessagesPer10Seconds: number;
}

export const protocolSettings = (config: Config): ProtocolSettings => ({
  framesPerSecond: config.sockets.framesPerSecond,
  maxSocketsPerUser: config.sockets.maxPerUser,
  connectsPerMinute: config.rateLimits.wsConnectPerMinute,
  channelMessagesPer10Seconds: config.messagePostLimitPer10Seconds,
  dmMessagesPer10Seconds: config.rateLimits.dmMessagePer10Seconds,
});

export interface Limits {
  maxFrameChars: number;
  framesPerSecond: number;
  frameBurst: number;
  /** Frames dropped over the budget, one after the other, before the socket is closed (1008). */
  framesDroppedBeforeClose: number;
  idleTimeoutMs: number;
  recommendedPingIntervalMs: number;
  typingBroadcastsPerSecond: number;
  catchUpMax: number;
  messageMaxChars: number;
  clientIdMaxChars: number;
  clientIdRememberedHours: number;
  channelMessagesPer10Seconds: number;
  dmMessagesPer10Seconds: number;
  maxSocketsPerUserPerConversation: number;
  handshakesPerMinute: number;
}

/** One socket: its channel in the document. */
interface SocketSpec {
  key: "chat" | "dm" | "notifications";
  address: string;
  title: string;
  description: string;
  parameters: Record<string, string>;
  since: boolean;
  frames: NamedMessage[];
  events: NamedMessage[];
  /** The content type of the client's frames (JSON, except the notification socket's keep-alive). */
  framesContentType?: string;
}

const HANDSHAKE = (settings: ProtocolSettings) =>
  "The handshake (a GET with `Upgrade: websocket`) is checked before any upgrade: the access token " +
  "comes from `?token=` or, to keep it out of URLs and logs, from the subprotocols `bearer, <token>` " +
  "(the server then answers the subprotocol `bearer`). A missing, bad, expired, refresh or revoked " +
  "token, a browser `Origin` not among the web app's origins (`Origin not allowed`) and a " +
  "conversation the user may not use are refused with 403 and a `detail`; a plain GET gets 426; " +
  `more than ${settings.maxSocketsPerUser} open sockets of one user on one conversation (or feed) ` +
  `get 429, as do more than ${settings.connectsPerMinute} handshakes a minute; a database that cannot ` +
  "be reached gets 503 with `Retry-After`.";

const SINCE =
  "With `?since=<last message id seen>` the socket first receives the messages after that id, in " +
  "id order and with their `client_id` while it is remembered, then live ones, none lost or repeated " +
  `in between; past ${CATCH_UP_MAX} missed messages it receives one \`resync\` event instead and ` +
  "re-fetches through REST. Send `message` frames with a `client_id`: a frame repeating one that " +
  "already created a message (within a day) stores nothing, and the sending socket gets that message " +
  "again as a `message` event, so a client resends what it has not seen echoed after a reconnect.";

function sockets(settings: ProtocolSettings): SocketSpec[] {
  const handshake = HANDSHAKE(settings);
  return [
    {
      key: "chat",
      address: "/ws/chat/{workspace_id}/{channel_id}",
      title: "A channel's socket",
      description:
        "Messages, edits, deletions, typing, presence and read receipts of one channel. The user must " +
        "be able to read the channel (a member of its workspace; of the channel too when it is " +
        `private), and the channel must be in that workspace. ${handshake}\n\n${SINCE}`,
      parameters: { workspace_id: "The channel's workspace", channel_id: "The channel" },
      since: true,
      frames: clientFrames("channel"),
      events: conversationEvents("channel"),
    },
    {
      key: "dm",
      address: "/ws/dm/{thread_id}",
      title: "A direct-message thread's socket",
      description:
        "Messages, edits, deletions, typing, presence and read receipts of one thread. Only its two " +
        "participants get in, and only while they can reach each other (a shared workspace, or " +
        `friends): a read-only thread refuses the handshake. ${handshake}\n\n${SINCE}`,
      parameters: { thread_id: "The thread" },
      since: true,
      frames: clientFrames("dm"),
      events: conversationEvents("dm"),
    },
    {
      key: "notifications",
      address: "/ws/notifications",
      title: "The user's notification socket",
      description:
        "Invites, friend requests, membership changes and unread direct messages of the user, on " +
        "every notification socket they hold. Delivery is best effort: events raised while no socket " +
        `is open are not kept, so a client re-fetches its lists when it (re)connects. ${handshake}`,
      parameters: {},
      since: false,
      frames: notificationFrames(),
      events: notificationEvents(),
      framesContentType: "text/plain",
    },
  ];
}

/** What the document's `info.description` says before the details. */
const OVERVIEW =
  "The WebSocket protocol of the Braumchat API: three sockets, their frames and events. Frames are " +
  'JSON text with their fields at the top level (`{"type":"message","content":"hi","client_id":"c1"}`); ' +
  'events are `{"type": string, "payload": object}`. This document describes the server: its ' +
  "`receive` operations list what clients send, its `send` operations what clients receive. Close " +
  "codes are in `x-close-codes` (with what a client should do after each), the codes of `error` " +
  "events in `x-error-codes`, limits in `x-limits`. " +
  "The REST API is described by /openapi.json; people read this document at /docs/sockets.";

export function limitsOf(settings: ProtocolSettings): Limits {
  return {
    maxFrameChars: MAX_FRAME_CHARS,
    framesPerSecond: settings.framesPerSecond,
    frameBurst: settings.framesPerSecond * BURST_SECONDS,
    framesDroppedBeforeClose: FRAME_DEBT_TO_CLOSE,
    idleTimeoutMs: IDLE_TIMEOUT_MS,
    recommendedPingIntervalMs: 10_000,
    typingBroadcastsPerSecond: TYPING_MAX_PER_INTERVAL * (1000 / TYPING_INTERVAL_MS),
    catchUpMax: CATCH_UP_MAX,
    messageMaxChars: MESSAGE_MAX_CHARS,
    clientIdMaxChars: CLIENT_ID_MAX_CHARS,
    clientIdRememberedHours: 24,
    channelMessagesPer10Seconds: settings.channelMessagesPer10Seconds,
    dmMessagesPer10Seconds: settings.dmMessagesPer10Seconds,
    maxSocketsPerUserPerConversation: settings.maxSocketsPerUser,
    handshakesPerMinute: settings.connectsPerMinute,
  };
}

export function closeCasesOf(): (CloseCase & { clientShould: string })[] {
  const cases: CloseCase[] = [
    ...closeCases(MAX_FRAME_CHARS),
    {
      code: CLOSE_CODES.policy,
      reason: THREAD_READ_ONLY,
      meaning: "Any other 1008 reason is the detail of the refusal that cost the user the conversation",
    },
  ];
  return cases.map((c) => ({ ...c, clientShould: adviceText(c) }));
}

const ADVICE: Record<CloseAdvice, string> = {
  reconnect: "reconnect, with since",
  refresh_token: "get a fresh token, then reconnect",
  signed_out: "stop: signed out",
  lost_access: "stop: the conversation is lost",
};

const adviceText = ({ code, reason }: CloseCase) =>
  code === CLOSE_CODES.normal ? "nothing: the client closed" : ADVICE[closeAdvice(code, reason)];

const messageRef = (socket: string, name: string) => ({ $ref: `#/channels/${socket}/messages/${name}` });

export interface ServerAddress {
  host: string;
  protocol: "ws" | "wss";
}

export function buildAsyncApiDocument(settings: ProtocolSettings, server: ServerAddress) {
  const specs = sockets(settings);
  const schemas = documentSchemas({
    frames: specs.flatMap((s) => s.frames),
    events: specs.flatMap((s) => s.events),
  });

  const messages: Record<string, unknown> = {};
  const describe = (m: NamedMessage, contentType: string) => {
    const schema = schemas[m.name] as { description?: string } | undefined;
    messages[m.name] = {
      name: m.type,
      title: m.type,
      summary: schema?.description ?? m.type,
      contentType,
      payload: { $ref: `#/components/schemas/${m.name}` },
    };
  };
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  for (const spec of specs) {
    for (const frame of spec.frames) describe(frame, spec.framesContentType ?? "application/json");
    for (const event of spec.events) describe(event, "application/json");
    const all = [...spec.frames, ...spec.events];
    channels[spec.key] = {
      address: spec.address,
      title: spec.title,
      description: spec.description,
      ...(Object.keys(spec.parameters).length > 0
        ? {
            parameters: Object.fromEntries(
              Object.entries(spec.parameters).map(([name, description]) => [name, { description }]),
            ),
          }
        : {}),
      messages: Object.fromEntries(all.map((m) => [m.name, { $ref: `#/components/messages/${m.name}` }])),
      bindings: { ws: handshakeBinding(spec.since) },
    };
    operations[`${spec.key}.receiveFrames`] = {
      action: "receive",
      channel: { $ref: `#/channels/${spec.key}` },
      title: `What a client sends on ${spec.address}`,
      messages: spec.frames.map((m) => messageRef(spec.key, m.name)),
    };
    operations[`${spec.key}.sendEvents`] = {
      action: "send",
      channel: { $ref: `#/channels/${spec.key}` },
      title: `What a client receives on ${spec.address}`,
      messages: spec.events.map((m) => messageRef(spec.key, m.name)),
    };
  }

  return {
    asyncapi: "3.0.0",
    info: {
      title: "Braumchat sockets",
      version: "0.1.0",
      description: OVERVIEW,
    },
    defaultContentType: "application/json",
    servers: {
      api: {
        host: server.host,
        protocol: server.protocol,
        description: "This deployment",
        security: [
          { $ref: "#/components/securitySchemes/subprotocol" },
          { $ref: "#/components/securitySchemes/queryToken" },
        ],
      },
    },
    channels,
    operations,
    components: {
      schemas,
      messages,
      securitySchemes: {
        subprotocol: {
          type: "httpApiKey",
          in: "header",
          name: "Sec-WebSocket-Protocol",
          description: "The subprotocols `bearer, <access token>`; the server answers `bearer`",
        },
        queryToken: {
          type: "httpApiKey",
          in: "query",
          name: "token",
          description: "The access token in `?token=` (kept in URLs and their logs: prefer the subprotocol)",
        },
      },
    },
    "x-close-codes": closeCasesOf(),
    "x-error-codes": Object.entries(ERROR_CODE_MEANINGS).map(([code, meaning]) => ({ code, meaning })),
    "x-limits": limitsOf(settings),
    "x-ping-frame": PING_FRAME,
  };
}

export type AsyncApiDocument = ReturnType<typeof buildAsyncApiDocument>;

/** The handshake's query and headers, as the WebSockets binding describes them. */
function handshakeBinding(since: boolean) {
  return {
    method: "GET",
    query: {
      type: "object",
      properties: {
        token: { type: "string", description: "The access token, unless sent as a subprotocol" },
        ...(since
          ? {
              since: {
                type: "string",
                pattern: "^\\s*\\d{1,10}\\s*$",
                description:
                  "The last message id the client has: the messages after it come first (422 if not a non-negative integer)",
              },
            }
          : {}),
      },
    },
    headers: {
      type: "object",
      properties: {
        "Sec-WebSocket-Protocol": { type: "string", description: "`bearer, <access token>`" },
        Origin: {
          type: "string",
          description: "Sent by browsers: it must be one of the web app's origins (CORS_ORIGINS)",
        },
      },
    },
    bindingVersion: "0.1.0",
  };
}

let cached: { key: string; document: AsyncApiDocument; json: string } | undefined;

/** The document and its JSON text, kept while the settings and the address stay the same. */
export function asyncApi(settings: ProtocolSettings, server: ServerAddress) {
  const key = JSON.stringify([settings, server]);
  if (cached?.key !== key) {
    const document = buildAsyncApiDocument(settings, server);
    cached = { key, document, json: JSON.stringify(document) };
  }
  return cached;
}

/**
 * What the server sends on channel and thread sockets (conversation-room.ts), as zod schemas:
 * `{"type": string, "payload": object}` text frames. The AsyncAPI document (/asyncapi.json) is
 * generated from these schemas, the realtime client (src/realtime-client.ts) is typed with them,
 * and the recording test (test/realtime/protocol-frames.test.ts) validates every frame the server
 * really sends against the served document. Where a payload is a REST shape it reuses that shape's
 * response schema (src/openapi/schemas.ts). The notification socket's events are in
 * notification-events.ts.
 *
 *   - `message`, `message.updated`, `message.deleted`: a message as REST shows it, with `client_id`
 *     echoed to everyone for a live send (and on a catch-up while the id is remembered);
 *     `workspace_id` on channels, `sender_id` on threads;
 *   - `typing`; `presence` (joins carry `display_name`, leaves do not);
 *   - `read`: a read pointer moved (a thread: to both participants; a channel: to the reader's
 *     other sockets, with the unread count);
 *   - `thread.updated`: a thread root's counters after a reply;
 *   - `reaction.added`, `reaction.removed`: someone's reaction on a message changed;
 *   - `resync`: more was missed than a reconnect replays;
 *   - `error`: a frame was refused (client-frames.ts) or a write was refused; nothing was changed;
 *   - `pong`: the runtime's answer to the exact text `{"type":"ping"}`.
 *
 * Objects are strict, so a field the server adds without describing it here fails the recording
 * test. Typed constructors (`serverEvent`, `errorEvent`) build them in the server.
 */
import { z } from "zod";
import { DirectMessageRead, MessageRead } from "../../openapi/schemas";
import { FRAME_ERROR_CODES } from "./client-frames";

const int = () => z.number().int();
const echoedClientId = z
  .string()
  .nullable()
  .describe(
    "The sender's client_id: on a live send (to everyone) and on a catch-up within a day; null otherwise",
  );

// -- Payloads -------------------------------------------------------------------------------

// Events go to every reader at once, so they leave out `reactions`, whose `me` differs per reader;
// `reaction.added` and `reaction.removed` carry the changes.
export const ChannelMessage = MessageRead.omit({ reactions: true })
  .extend({
    client_id: echoedClientId,
    workspace_id: int().describe("The channel's workspace"),
  })
  .describe("A channel message as REST shows it (MessageRead) without `reactions`, with its workspace");

export const DirectMessage = DirectMessageRead.omit({ reactions: true })
  .extend({
    client_id: echoedClientId,
    sender_id: int().describe("The sender (the same as user_id)"),
  })
  .describe("A direct message as REST shows it (DirectMessageRead) without `reactions`, with `sender_id`");

/** Where a thread or reaction event happened: the channel (and its workspace) or the DM thread. */
const channelPlace = { workspace_id: int(), channel_id: int() };
const threadPlace = { thread_id: int() };

const threadUpdated = (place: Record<string, z.ZodType>) =>
  z
    .strictObject({
      ...place,
      message_id: int().describe("The thread's root"),
      reply_count: int(),
      last_reply_at: z.string().nullable(),
      reply_user_ids: z.array(int()).describe("The latest repliers, newest first (at most 5)"),
    })
    .describe("A thread root's counters after a reply (the reply itself comes as `message`)");

const reactionChanged = (place: Record<string, z.ZodType>) =>
  z
    .strictObject({
      ...place,
      message_id: int(),
      emoji: z.string(),
      user_id: int().describe("Who reacted, or took their reaction back"),
      count: int().describe("How many reacted so with this emoji now"),
    })
    .describe("A reaction changed; a repeated add or remove changes nothing and is not told");

export const Typing = z.strictObject({
  user_id: int(),
  display_name: z.string().nullable(),
  is_typing: z.boolean(),
});

export const Presence = z
  .strictObject({
    user_id: int(),
    online: z.boolean(),
    display_name: z.string().nullable().optional().describe("Sent when the user comes online"),
  })
  .describe(
    "Someone's socket joined (online: true) or their last one left (online: false). Channels announce " +
      "a user's first socket and last close; threads every join, and a leave only when the user's " +
      "notification socket is closed too.",
  );

export const ChannelReadReceipt = z
  .strictObject({
    user_id: int(),
    channel_id: int(),
    last_read_message_id: int(),
    unread_count: int(),
  })
  .describe("The reader's pointer moved; sent to the reader's own sockets on the channel");

export const ThreadReadReceipt = z
  .strictObject({ thread_id: int(), user_id: int(), last_read_message_id: int() })
  .describe("A participant's pointer moved; sent to both participants' sockets");

/** A reconnecting client missed more than this: it is told to re-fetch through REST instead. */
export const CATCH_UP_MAX = 200;

export const Resync = z
  .strictObject({
    reason: z.literal("too_many_missed"),
    since: int().describe("The `since` of the handshake"),
    max_catch_up: int().describe("How many missed messages a reconnect replays at most"),
    detail: z.string(),
  })
  .describe("Sent instead of the catch-up: re-fetch the messages after `since` through REST");

/** Codes of refused writes, beside the frame errors of client-frames.ts. */
export const REFUSAL_CODES = [
  "not_found",
  "forbidden",
  "rate_limited",
  "unavailable",
  "internal_error",
  "invalid_parent",
  "too_many_reactions",
] as const;

export type ErrorCode = (typeof FRAME_ERROR_CODES)[number] | (typeof REFUSAL_CODES)[number];

/** What each error code means; the document lists them. */
export const ERROR_CODE_MEANINGS: Record<ErrorCode, string> = {
  invalid_frame: "Not a JSON object, or a binary frame",
  invalid_json: "Not JSON",
  unknown_type: "A `type` this socket does not know (`frame_type` names it)",
  invalid_field: "A field other than the content is invalid (`field` names it)",
  invalid_content: "The message content is refused (`field` is content; `client_id` is the frame's)",
  not_found: "The conversation or the message does not exist (any more)",
  forbidden:
    "Not allowed: no access (the socket is then closed with 1008), or an archived channel (it stays open)",
  rate_limited:
    "Too many messages (`Too many requests`, or `Rate limiter unavailable`; `client_id` is the " +
    "message's), or too many frames (`Too many frames; slow down`: that frame was dropped)",
  unavailable: "The database could not be reached for long enough; nothing was stored",
  internal_error: "The frame could not be processed",
  invalid_parent: "A reply names a reply: threads are one level deep (`client_id` is the message's)",
  too_many_reactions: "A message holds at most 20 different emoji (REST only)",
};

export const ErrorPayload = z
  .strictObject({
    code: z.enum([...FRAME_ERROR_CODES, ...REFUSAL_CODES]).describe(
      Object.entries(ERROR_CODE_MEANINGS)
        .map(([code, meaning]) => `\`${code}\`: ${meaning}.`)
        .join(" "),
    ),
    detail: z.string().describe("The reason, in words"),
    field: z.string().optional().describe("The field a frame error is about"),
    client_id: z
      .string()
      .nullable()
      .optional()
      .describe("The client_id of the refused message frame, so the client can mark that message"),
    frame_type: z.string().nullable().optional().describe("An unknown frame's type (null when not a string)"),
  })
  .describe("A frame or a write was refused; nothing was changed");

export const EmptyPayload = z.strictObject({});

// -- Events ---------------------------------------------------------------------------------

const event = <T extends string, P extends z.ZodType>(type: T, payload: P, description: string) =>
  z.strictObject({ type: z.literal(type), payload }).describe(description);

const shared = {
  typing: event("typing", Typing, "Someone started or stopped typing (throttled per user)"),
  presence: event("presence", Presence, "Someone came online here, or left"),
  resync: event(
    "resync",
    Resync,
    "Instead of the catch-up of a handshake with `since`: more messages were missed than a reconnect replays",
  ),
  error: event("error", ErrorPayload, "A frame or a write was refused; nothing was changed"),
  pong: event("pong", EmptyPayload, 'The answer to the exact text {"type":"ping"}'),
};

const threadEvents = (place: Record<string, z.ZodType>, where: string) => ({
  "thread.updated": event("thread.updated", threadUpdated(place), `A thread ${where} got a reply`),
  "reaction.added": event("reaction.added", reactionChanged(place), `Someone reacted to a message ${where}`),
  "reaction.removed": event(
    "reaction.removed",
    reactionChanged(place),
    `Someone took back their reaction to a message ${where}`,
  ),
});

const messageEvents = <P extends z.ZodType>(payload: P, where: string) => ({
  message: event(
    "message",
    payload,
    `A new message ${where}, in id order; also the answer to a repeated client_id (to the sending socket only)`,
  ),
  "message.updated": event("message.updated", payload, `A message ${where} was edited`),
  "message.deleted": event("message.deleted", payload, `A message ${where} was deleted (its content is "")`),
});

/** The events of each kind of conversation socket, by type. */
export const conversationEventSchemas = {
  channel: {
    ...messageEvents(ChannelMessage, "in the channel"),
    ...threadEvents(channelPlace, "in the channel"),
    read: event("read", ChannelReadReceipt, "The reader's pointer moved (to the reader's own sockets)"),
    ...shared,
  },
  dm: {
    ...messageEvents(DirectMessage, "in the thread"),
    ...threadEvents(threadPlace, "in the thread"),
    read: event("read", ThreadReadReceipt, "A participant's pointer moved (to both participants)"),
    ...shared,
  },
} as const;

type Schemas = typeof conversationEventSchemas;
/** Every event of a channel socket, as the client receives it. */
export type ChannelEvent = z.output<Schemas["channel"][keyof Schemas["channel"]]>;
/** Every event of a thread socket, as the client receives it. */
export type ThreadEvent = z.output<Schemas["dm"][keyof Schemas["dm"]]>;
export type ConversationEventType = keyof Schemas["channel"];

/** A message event's payload, of either kind. */
export type MessageEventPayload = z.output<typeof ChannelMessage> | z.output<typeof DirectMessage>;
export type MessageEventType = "message" | "message.updated" | "message.deleted";

type PayloadOf<T extends ConversationEventType> =
  | z.output<Schemas["channel"][T]>["payload"]
  | z.output<Schemas["dm"][T]>["payload"];

/**
 * An event on its way out, of either kind of conversation. The sending machinery (socket-host.ts,
 * fan-out.ts) takes any `{type, payload}`; building events as this type (or with `serverEvent`) is
 * what keeps them to the schemas above.
 */
export type ServerEvent = {
  [T in ConversationEventType]: { type: T; payload: PayloadOf<T> };
}[ConversationEventType];

type EventOf<T extends ServerEvent["type"]> = Extract<ServerEvent, { type: T }>;

/** An event of this type with a payload its schema accepts (checked when compiling). */
export const serverEvent = <T extends ServerEvent["type"]>(type: T, payload: EventOf<T>["payload"]) =>
  ({ type, payload }) as EventOf<T>;

export const errorEvent = (
  code: ErrorCode,
  detail: string,
  extra: Omit<z.input<typeof ErrorPayload>, "code" | "detail"> = {},
) => serverEvent("error", { code, detail, ...extra });

/**
 * The typed realtime client for the web app, beside the typed REST client (client.ts): the
 * channel, thread and notification sockets of /asyncapi.json, with reconnects, catch-up, resent
 * messages and refusals as typed errors. It runs in browsers and in Node (22+ has a global
 * WebSocket; or pass the `ws` package's class as `WebSocket`), and imports nothing of the Worker at
 * run time but the protocol's constants.
 *
 *   const chat = connectConversation({
 *     baseUrl: "https://api.example",
 *     token: ({ expired }) => (expired ? refreshAccessToken() : currentAccessToken()),
 *     conversation: { kind: "channel", workspaceId: 1, channelId: 7 },
 *     since: newestIdShown,
 *   });
 *   chat.on("message", (message) => show(message));
 *   chat.on("refused", (error) => warn(error.code, error.detail));
 *   await chat.send("hello"); // the message as stored, once its echo arrived
 *
 * See README, "Realtime client".
 */
export type {
  ConnectionOptions,
  ConnectionState,
  WebSocketConstructor,
  WebSocketLike,
} from "./realtime-client/connection";
export {
  ConversationClient,
  type ConversationEvents,
  type ConversationKind,
  type ConversationOptions,
  type ConversationTarget,
  connectConversation,
  type EventPayload,
} from "./realtime-client/conversation";
export { RealtimeError, type RealtimeErrorCode } from "./realtime-client/errors";
export {
  connectNotifications,
  NotificationClient,
  type NotificationEvents,
} from "./realtime-client/notifications";

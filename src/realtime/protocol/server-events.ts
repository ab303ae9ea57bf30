/**
 * What the server sends on its sockets: `{"type": string, "payload": object}` text frames.
 *
 * Channel and thread sockets (conversation-room.ts):
 *   - `message`, `message.updated`, `message.deleted`: a message as REST shows it (presenters/),
 *     with `client_id` echoed to everyone for a live send and `workspace_id` on channels;
 *   - `typing` {user_id, display_name, is_typing}; `presence` {user_id, online[, display_name]};
 *   - `read`: a read pointer moved (a thread: to both participants; a channel: to the reader's
 *     other sockets, with the unread count);
 *   - `resync` {reason, since, max_catch_up, detail}: more was missed than a reconnect replays;
 *   - `error` {code, detail[, field, client_id, frame_type]}: a frame was refused (protocol/
 *     client-frames.ts) or a write was refused (not_found, forbidden, archived, rate_limited,
 *     unavailable...); nothing was changed.
 * The notification socket (notification-feed.ts) carries the events services raise
 * (services/notifier.ts): dm.unread, invite.*, friend.*, and membership events.
 */
export interface ServerEvent {
  type: string;
  payload: unknown;
}

export const errorEvent = (
  code: string,
  detail: string,
  extra: Record<string, unknown> = {},
): ServerEvent => ({
  type: "error",
  payload: { code, detail, ...extra },
});

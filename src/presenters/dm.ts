/**
 * Direct messages on the wire (ThreadRead, DirectMessageRead, ReadStatus:
 * docs/http-api.md#direct-messages; the socket events: docs/socket-protocol.md#server-events).
 *
 * Socket `message` events carry one shape whether the message came over REST or a socket: the
 * original sent `sender_id` in one and `updated_at` in the other; here both are always present.
 * Additive fields: `unread_count` in ReadStatus, `thread_id` in `read` events, `read_only` in
 * ThreadRead (the two can no longer reach each other: services/access.ts). ThreadRead's
 * `workspace_id` is null once the workspace the thread was started from is deleted. A deleted
 * message never carries its content. Threads and reactions: threads.ts.
 */
import type { ReadState, StoredMessage } from "../services/conversation-messages";
import type { ThreadView } from "../services/dm";
import { toReactions, toThreadFields } from "./threads";
import { isoTime, toUserPublic } from "./users";

export function toThreadRead(view: ThreadView) {
  return {
    id: view.thread.id,
    workspace_id: view.thread.workspaceId,
    participants: view.participants.map(toUserPublic),
    unread_count: view.unreadCount,
    read_only: view.readOnly,
    created_at: isoTime(view.thread.createdAt),
    updated_at: isoTime(view.thread.updatedAt),
  };
}

export function toDirectMessageRead(message: StoredMessage, clientId: string | null = null) {
  return {
    id: message.id,
    thread_id: message.conversationId,
    user_id: message.userId,
    content: message.isDeleted ? "" : message.content,
    client_id: clientId,
    is_deleted: message.isDeleted,
    is_edited: message.isEdited,
    created_at: isoTime(message.createdAt),
    updated_at: isoTime(message.updatedAt),
    author: toUserPublic(message.author),
    ...toThreadFields(message),
    reactions: toReactions(message),
  };
}

/** The payload of the thread socket's `message`, `message.updated` and `message.deleted` events. */
export function toDirectMessageEvent(message: StoredMessage, clientId: string | null = null) {
  const { reactions: _perReader, ...shared } = toDirectMessageRead(message, clientId);
  return { ...shared, sender_id: message.userId };
}

export function toReadStatus(state: ReadState) {
  return {
    thread_id: state.conversationId,
    self_last_read_message_id: state.lastReadMessageId,
    other_last_read_message_id: state.peers[0]?.lastReadMessageId ?? 0,
    unread_count: state.unreadCount,
  };
}

/** The payload of a `read` event: who read up to where. */
export function toReadReceipt(threadId: number, userId: number, lastReadMessageId: number) {
  return { thread_id: threadId, user_id: userId, last_read_message_id: lastReadMessageId };
}

/**
 * Channel messages on the wire (MessageRead, docs/http-api.md#channel-messages; the socket events:
 * docs/socket-protocol.md#server-events). Additive fields:
 * `updated_at` everywhere, and `workspace_id` in every socket event (the original put it only in
 * socket-originated ones); the thread's fields and, over REST, the reactions (threads.ts). A deleted
 * message never carries its content.
 */
import type { ReadState, StoredMessage } from "../services/conversation-messages";
import { toReactions, toThreadFields } from "./threads";
import { isoTime, toUserPublic } from "./users";

export function toMessageRead(message: StoredMessage, clientId: string | null = null) {
  return {
    id: message.id,
    channel_id: message.conversationId,
    user_id: message.userId,
    content: message.isDeleted ? "" : message.content,
    client_id: clientId,
    is_edited: message.isEdited,
    is_deleted: message.isDeleted,
    created_at: isoTime(message.createdAt),
    updated_at: isoTime(message.updatedAt),
    author: toUserPublic(message.author),
    ...toThreadFields(message),
    reactions: toReactions(message),
  };
}

/** The payload of the `message`, `message.updated` and `message.deleted` socket events. */
export function toMessageEvent(message: StoredMessage, workspaceId: number, clientId: string | null = null) {
  const { reactions: _perReader, ...shared } = toMessageRead(message, clientId);
  return { ...shared, workspace_id: workspaceId };
}

export function toReadState(state: ReadState) {
  return {
    channel_id: state.conversationId,
    last_read_message_id: state.lastReadMessageId,
    unread_count: state.unreadCount,
  };
}

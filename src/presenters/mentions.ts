/** A mention on the wire (GET /users/me/mentions): where, how, and the message as the reader sees it. */
import type { MentionEntry } from "../services/mentions";
import { toDirectMessageRead } from "./dm";
import { toMessageRead } from "./messages";
import { isoTime } from "./users";

export function toMentionRead(entry: MentionEntry) {
  const channel = entry.conversationKind === "channel";
  return {
    id: entry.id,
    conversation_kind: entry.conversationKind,
    workspace_id: entry.workspaceId,
    channel_id: channel ? entry.conversationId : null,
    thread_id: channel ? null : entry.conversationId,
    via: entry.via,
    created_at: isoTime(entry.createdAt),
    message: channel ? toMessageRead(entry.message) : toDirectMessageRead(entry.message),
  };
}

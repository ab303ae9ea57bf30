/**
 * What channel and direct messages both carry beyond the original's fields: their thread
 * (`parent_id` on a reply; `reply_count`, `last_reply_at` and `reply_user_ids` on a root) and, in
 * REST answers, their reactions as the caller sees them. Socket events leave `reactions` out: one
 * event goes to every reader, and `me` differs per reader; `reaction.added` / `reaction.removed`
 * carry the changes.
 */
import type { ReactionSummary, StoredMessage } from "../services/conversation-messages";
import { isoTime } from "./users";

export function toThreadFields(message: StoredMessage) {
  return {
    parent_id: message.parentId,
    reply_count: message.replyCount,
    last_reply_at: isoTime(message.lastReplyAt),
    reply_user_ids: message.replyUserIds,
  };
}

export function toReactionRead(reaction: ReactionSummary) {
  return { emoji: reaction.emoji, count: reaction.count, me: reaction.me };
}

/** A REST message's reactions (empty when it has none). */
export const toReactions = (message: StoredMessage) => message.reactions.map(toReactionRead);

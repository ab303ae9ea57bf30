/**
 * What services ask of the realtime layer after a committed change, beside the Notifier: the
 * conversation objects decide access themselves, from what they remember (realtime/access-cache.ts),
 * so every change that can give or take access must tell them. Implemented by realtime/port.ts;
 * best effort like notifications (a failure is logged: the object's memory also expires within a
 * minute, and its sockets still close when their tokens expire).
 */

/** The two kinds of conversation: a channel, or a direct-message thread. */
export type ConversationKind = "channel" | "dm";

export interface Realtime {
  /**
   * Who may do what in these conversations changed (members added or removed, a role, the
   * conversation's settings): their objects forget what they knew about these users (everyone
   * when omitted) and close the sockets of whoever may no longer read.
   */
  accessChanged(
    kind: ConversationKind,
    conversationIds: readonly number[],
    userIds?: readonly number[],
  ): Promise<void>;
  /** These conversations were deleted: their sockets close. */
  conversationsDeleted(kind: ConversationKind, conversationIds: readonly number[]): Promise<void>;
}

/**
 * Direct-message threads as conversations (conversation-kind.ts):
 *   - Who may read: the thread's two participants. Who may write and hold its socket: the two, while
 *     they can reach each other (a shared workspace or a friendship, services/access.ts); once
 *     they cannot, the thread is read-only, and the change that made it so tells this object,
 *     which closes its sockets.
 *   - "Is the recipient looking at the thread?" The original answered it from a per-process
 *     dictionary, wrong as soon as there were two processes. Here the object that holds every
 *     socket of the thread answers it right after it publishes a message: a recipient with no
 *     socket open on the thread gets `dm.unread {thread_id, delta: 1}` on their notification feed.
 *   - Read receipts go to both participants' sockets, as `read {thread_id, user_id,
 *     last_read_message_id}`; readers see the other participant's pointer beside their own.
 *     Unread counts are computed from the pointers, so every device agrees and restarts lose
 *     nothing.
 *   - Presence: every socket's join is announced, the new socket included, as the original did; a
 *     user whose last socket on the thread closed is announced gone only when their notification
 *     feed has no socket either (the web app keeps that feed open as long as it is open at all).
 */
import { eq } from "drizzle-orm";
import { directMessageThreads } from "../../db/schema";
import { toDirectMessageEvent, toReadReceipt } from "../../presenters/dm";
import { canReach, isThreadParticipant, THREAD_READ_ONLY, threadReaders } from "../../services/access";
import { directMessageTable } from "../../services/conversation-messages";
import type { ConversationKindRules } from "../conversation-kind";
import { CLOSE_REASONS } from "../protocol/close-codes";
import type { Refusal } from "../write-ports";

export interface ThreadConversation {
  id: number;
  user1Id: number;
  user2Id: number;
}

const notFound: Refusal = { code: "not_found", detail: "Thread not found" };
const other = (thread: ThreadConversation, userId: number) =>
  userId === thread.user1Id ? thread.user2Id : thread.user1Id;

export const dmRules: ConversationKindRules<ThreadConversation> = {
  kind: "dm",
  endpoint: "dm",
  table: directMessageTable,
  notFound,
  removeNeeds: "read",
  deletedReason: CLOSE_REASONS.threadDeleted,

  async load(db, id) {
    const [row] = await db
      .select({
        id: directMessageThreads.id,
        user1Id: directMessageThreads.user1Id,
        user2Id: directMessageThreads.user2Id,
      })
      .from(directMessageThreads)
      .where(eq(directMessageThreads.id, id));
    return row;
  },

  async standing(db, thread, userId) {
    if (!isThreadParticipant(thread, userId)) {
      const outsider: Refusal = { code: "forbidden", detail: "Not part of this thread", closeSocket: true };
      return { readRefusal: outsider, writeRefusal: outsider, socketRefusal: outsider, moderator: false };
    }
    const live = await canReach(db, thread.user1Id, thread.user2Id);
    const readOnly: Refusal | null = live
      ? null
      : { code: "forbidden", detail: THREAD_READ_ONLY, closeSocket: true };
    return { readRefusal: null, writeRefusal: readOnly, socketRefusal: readOnly, moderator: false };
  },

  handshakeRefusal: () => null,
  auditWorkspace: () => null,
  rateScope: (thread) => ({ kind: "dm", threadId: thread.id }),
  conversationFields: (thread) => ({ thread_id: thread.id }),
  eventPayload: (message, _thread, clientId) => toDirectMessageEvent(message, clientId),
  readPeers: (thread, userId) => [other(thread, userId)],
  receipt: (state, userId) =>
    state.lastReadMessageId > 0
      ? {
          event: {
            type: "read",
            payload: toReadReceipt(state.conversationId, userId, state.lastReadMessageId),
          },
          onlyTheReader: false,
        }
      : null,
  presence: { announceEveryJoin: true, leaveWhenFeedEmpty: true },

  readers: (db, thread, options) => threadReaders(db, thread, options),

  async afterPublish(room, thread, created) {
    await Promise.all(
      created.map((message) => {
        const recipient = other(thread, message.userId);
        if (room.hasOpenSocket(recipient)) return undefined;
        return room.notifier.notify(recipient, {
          type: "dm.unread",
          payload: { thread_id: thread.id, delta: 1 },
        });
      }),
    );
  },
};

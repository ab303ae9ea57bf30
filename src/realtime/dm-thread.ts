/**
 * DmThread: one Durable Object per direct-message thread (named `dm:{id}`). It holds every open
 * `/ws/dm/{thread_id}` socket of the thread's two participants, and it is the thread's only
 * writer: posts (REST and socket alike), edits, deletes and read receipts all come here, are
 * stored in PostgreSQL, and are then broadcast, in one order.
 *
 * The machinery (the single-writer queue with batched inserts, `since` catch-up, idempotent
 * client_id, broadcast, typing, the liveness rules, hibernation) is shared with the channels and
 * explained in conversation.ts. What is the thread's own:
 *
 *   - Who may write: the two participants while they can reach each other (a shared workspace
 *     or a friendship; services/access.ts), checked by the Worker before the handshake and before
 *     every REST post and edit. Participation never changes but reach does: a thread whose two
 *     people no longer reach each other is read-only, and holds no sockets (they carry presence,
 *     typing and receipts). The change that ends their reach (a workspace deleted, a member
 *     removed or leaving, an unfriending) closes the thread's sockets (closeReadOnlyThreads), and
 *     socket posts re-check reach once per batch (senderRefusal), so a missed close still stops
 *     writes. A revoked session or an expired token closes a socket too (socket-liveness.ts).
 *     The ids of both participants travel with every handshake, attachment and RPC, so the object
 *     knows "the other one" even right after waking from hibernation.
 *   - "Is the recipient looking at the thread?" (D8). The original answered it from a per-process
 *     dictionary, wrong as soon as there were two processes. Here the object that holds every
 *     socket of the thread answers it, right when it broadcasts a new message: if the recipient has
 *     no socket open on the thread, their notifications feed gets `dm.unread {thread_id, delta: 1}`
 *     (through the Notifier, after the broadcast, without holding up the next write).
 *   - Read receipts are queue steps: `read` frames and POST /dm/threads/{id}/read both move the
 *     reader's pointer in PostgreSQL (forward only, never past the newest message) and broadcast
 *     `read {thread_id, user_id, last_read_message_id}` to both participants' sockets. As a queue
 *     step a receipt follows the messages it covers, and receipts of one user (several devices)
 *     are broadcast in the order their pointer moved, so a client never sees it move back.
 *   - Unread counts are not kept here: they are computed from the pointers
 *     (services/dm-reads.ts), so they are right on every device and across restarts (D15).
 *   - Presence (contract 3.4): every socket's join is announced to the thread as `presence`
 *     online, the new socket included, as the original did. A user whose last socket on the thread
 *     closed is announced offline only when their notifications feed has no socket either: the
 *     original announced offline only when the user had no socket of any kind, and the web app
 *     keeps that feed open for as long as it is open at all. (Channel sockets elsewhere are not
 *     asked about: a user with a channel open has the web app, and so its feed, open too.)
 */
import type { Env } from "../env";
import type { Logger } from "../log";
import { toDirectMessageEvent, toReadReceipt } from "../presenters/dm";
import { canReach, THREAD_READ_ONLY } from "../services/access";
import {
  type DirectChangeOutcome,
  type DirectMessageView,
  deleteDirectMessage,
  directMessagesSince,
  editDirectMessage,
  getDirectMessage,
  insertDirectMessage,
} from "../services/dm";
import { markThreadRead, type ReadStatus } from "../services/dm-reads";
import { createNotifier } from "../services/notifications";
import type { Notifier } from "../services/notifier";
import type { MessageScope } from "../services/rate-limits";
import {
  Conversation,
  type HandshakeBase,
  type Member,
  openConversationSocket,
  type PostInput,
  type PostResult,
  pickScope,
  type Refusal,
} from "./conversation";
import { feedName } from "./notification-feed";

/** The ids that name a thread's conversation: the thread and its two participants (user1 < user2). */
export interface ThreadScope {
  threadId: number;
  user1Id: number;
  user2Id: number;
}

export const threadName = (threadId: number) => `dm:${threadId}`;

/** The object of a thread, for RPC. */
export function dmThread(namespace: Env["DM_THREAD"], threadId: number) {
  return namespace.get(namespace.idFromName(threadName(threadId)));
}

/**
 * Closes every socket of these threads (1008, THREAD_READ_ONLY), whose two participants can no
 * longer reach each other (services/access.ts threadsOutOfReach). Best effort, like channels'
 * closes: an object that cannot be reached is logged, and its sockets' posts are refused anyway.
 */
export async function closeReadOnlyThreads(
  namespace: Env["DM_THREAD"],
  threadIds: readonly number[],
  log: Logger,
): Promise<void> {
  await Promise.all(
    threadIds.map(async (threadId) => {
      try {
        await dmThread(namespace, threadId).disconnectAll(THREAD_READ_ONLY);
      } catch (error) {
        log.warn("could not close a read-only thread's sockets", { thread_id: threadId, err: error });
      }
    }),
  );
}

/** The scope of a thread row, as the routes pass it. */
export const threadScope = (thread: { id: number; user1Id: number; user2Id: number }): ThreadScope => ({
  threadId: thread.id,
  user1Id: thread.user1Id,
  user2Id: thread.user2Id,
});

export type ThreadHandshake = HandshakeBase & ThreadScope;

/** Hands an authenticated upgrade of a participant to the thread's object, which answers the 101. */
export function openThreadSocket(namespace: Env["DM_THREAD"], handshake: ThreadHandshake) {
  return openConversationSocket(dmThread(namespace, handshake.threadId), handshake);
}

export type DirectPostInput = PostInput<ThreadScope>;
export type DirectPostResult = PostResult<DirectMessageView>;

export interface DirectEditInput extends ThreadScope {
  messageId: number;
  userId: number;
  content: string;
}

export interface DirectDeleteInput extends ThreadScope {
  messageId: number;
  userId: number;
}

export interface DirectReadInput extends ThreadScope {
  userId: number;
  /** null or 0: everything so far (services/dm-reads.ts markThreadRead). */
  lastReadMessageId: number | null;
}

const SCOPE_KEYS = ["threadId", "user1Id", "user2Id"] as const;

const threadRow = (scope: ThreadScope) => ({
  id: scope.threadId,
  user1Id: scope.user1Id,
  user2Id: scope.user2Id,
});
const otherParticipant = (scope: ThreadScope, userId: number) =>
  userId === scope.user1Id ? scope.user2Id : scope.user1Id;

export class DmThread extends Conversation<ThreadScope, DirectMessageView> {
  private notifierInstance: Notifier | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, "thread", "dm-thread");
  }

  private get notifier(): Notifier {
    this.notifierInstance ??= createNotifier(this.env.NOTIFICATION_FEED, this.log);
    return this.notifierInstance;
  }

  // -------------------------------------------------------------------------------------------
  // RPC from the Worker (routes/dm.ts)
  // -------------------------------------------------------------------------------------------

  /** Edits a message (its sender only) and broadcasts `message.updated`. */
  async edit(input: DirectEditInput): Promise<DirectChangeOutcome> {
    return this.runChange(this.scopeOf(input), "message.updated", () => editDirectMessage(this.db, input));
  }

  /** Soft-deletes a message (its sender only) and broadcasts `message.deleted` (without its content). */
  async remove(input: DirectDeleteInput): Promise<DirectChangeOutcome> {
    return this.runChange(this.scopeOf(input), "message.deleted", () => deleteDirectMessage(this.db, input));
  }

  /**
   * Moves a participant's read pointer and broadcasts the receipt to both participants' sockets
   * (POST /dm/threads/{id}/read, and `read` frames). Returns the fresh read status.
   */
  async markRead(input: DirectReadInput): Promise<ReadStatus> {
    const scope = this.scopeOf(input);
    this.claim(scope);
    return this.enqueueTask(async () => {
      const status = await markThreadRead(this.db, threadRow(scope), input.userId, input.lastReadMessageId);
      if (status.selfLastReadMessageId > 0) {
        this.broadcast({
          type: "read",
          payload: toReadReceipt(scope.threadId, input.userId, status.selfLastReadMessageId),
        });
      }
      return status;
    });
  }

  // -------------------------------------------------------------------------------------------
  // Hooks of Conversation
  // -------------------------------------------------------------------------------------------

  /** RATE_LIMIT_DM_MESSAGE_PER_10_SECONDS, per user and thread (the original had no DM limit, D14). */
  protected messageScope(input: DirectPostInput): MessageScope {
    return { kind: "dm", threadId: input.threadId };
  }

  protected scopeOf(value: ThreadScope): ThreadScope {
    return { threadId: value.threadId, user1Id: value.user1Id, user2Id: value.user2Id };
  }

  protected parseScope(value: Record<string, unknown>): ThreadScope | null {
    const scope = pickScope(value, SCOPE_KEYS);
    return scope && scope.user1Id < scope.user2Id ? scope : null;
  }

  protected nameOf(scope: ThreadScope): string {
    return threadName(scope.threadId);
  }

  protected insertMessage(input: DirectPostInput) {
    return insertDirectMessage(this.db, input);
  }

  protected loadMessage(scope: ThreadScope, messageId: number) {
    return getDirectMessage(this.db, scope.threadId, messageId);
  }

  protected loadSince(scope: ThreadScope, sinceId: number, max: number) {
    return directMessagesSince(this.db, scope.threadId, sinceId, max);
  }

  protected messagePayload(message: DirectMessageView, _scope: ThreadScope, clientId: string | null) {
    return toDirectMessageEvent(message, clientId);
  }

  /**
   * A socket post in a thread that became read-only is refused and its socket closed, as the
   * handshake would refuse it now (see the module comment); sessions are the liveness rules' part.
   */
  protected async senderRefusal(scope: ThreadScope, _userId: number): Promise<Refusal | null> {
    if (await canReach(this.db, scope.user1Id, scope.user2Id)) return null;
    return { status: 403, detail: THREAD_READ_ONLY, closeSocket: true };
  }

  /** `{"type":"read","last_read_message_id":n}` with a positive id: a read receipt, as POST .../read. */
  protected async handleReadFrame(
    ws: WebSocket,
    member: Member<ThreadScope>,
    fields: Record<string, unknown>,
  ) {
    const id = this.readFrameId(ws, fields, 1);
    if (id === null) return;
    await this.markRead({ ...this.scopeOf(member), userId: member.userId, lastReadMessageId: id });
  }

  /**
   * D8: a recipient with no socket on the thread is told through their notifications feed. Decided
   * here, right after the broadcast, from the sockets this object holds; delivered in the
   * background of the queue (the Notifier never throws).
   */
  protected override async afterBroadcast(
    created: { input: DirectPostInput; message: DirectMessageView }[],
  ): Promise<void> {
    const deliveries: Promise<void>[] = [];
    for (const { input } of created) {
      const recipient = otherParticipant(input, input.userId);
      if (this.hasOpenSocket(recipient)) continue;
      deliveries.push(
        this.notifier.notify(recipient, {
          type: "dm.unread",
          payload: { thread_id: input.threadId, delta: 1 },
        }),
      );
    }
    await Promise.all(deliveries);
  }

  protected override announceEveryJoin(): boolean {
    return true;
  }

  /**
   * A queue step, so the announcement takes its place among the thread's events: a message written
   * after the close is broadcast after the decision, whatever the feed answered and when.
   */
  protected override lastSocketGone(userId: number): void {
    void this.enqueueTask(() => this.announceLeaveUnlessConnected(userId));
  }

  private async announceLeaveUnlessConnected(userId: number): Promise<void> {
    try {
      const namespace = this.env.NOTIFICATION_FEED;
      const elsewhere = await namespace.get(namespace.idFromName(feedName(userId))).openSocketCount();
      if (elsewhere > 0) return;
    } catch (error) {
      // Unknown: saying nothing is better than announcing offline someone who may be online; the web
      // app also polls GET /users/online.
      this.log.warn("could not ask a user's feed before announcing them offline", {
        user_id: userId,
        err: error,
      });
      return;
    }
    this.announceLeave(userId);
  }
}

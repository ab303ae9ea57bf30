/**
 * The write side of a conversation's object (conversation-room.ts): posts (threads' replies
 * included), edits, deletes, reactions and read pointers, each checked at the gate, run through
 * the write queue (write-queue.ts) so their events come in one order, and published. Mentions are
 * resolved and delivered after a message is published (services/mentions.ts).
 */
import type { Config } from "../config";
import { connectionRefused, databaseUnavailable, foreignKeyViolation } from "../db/errors";
import type { Logger } from "../log";
import { metrics } from "../observability/metrics";
import type {
  ChangeOutcome,
  ReactionSummary,
  StoredMessage,
  ThreadCounters,
} from "../services/conversation-messages";
import {
  EVERYONE_HARD_CAP,
  EVERYONE_MAX_READERS,
  MAX_HANDLES_PER_MESSAGE,
  type MentionVia,
  mentionsAnyone,
  parseMentions,
  recordMentions,
} from "../services/mentions";
import type { PageQuery } from "../services/message-rules";
import type { Notifier } from "../services/notifier";
import { checkMessageRate, type MessageScope, refusalDetail } from "../services/rate-limits";
import { MAX_DISTINCT_REACTIONS } from "../services/reactions";
import { onlineKey } from "../store/keys";
import type { KeyValueStore } from "../store/store";
import type { ClientIdRecord } from "./client-ids";
import type { ConversationData } from "./conversation-data";
import { type ConversationGate, type Gated, type Need, refused } from "./conversation-gate";
import type { Conversation, ConversationKindRules, Standing } from "./conversation-kind";
import { userTag } from "./names";
import type { MessageEventType, ServerEvent } from "./protocol/server-events";
import { DatabaseUnavailableError, type PostOutcome, type Refusal, unavailable } from "./write-ports";
import { BATCH_MAX, WriteQueue } from "./write-queue";

/** What the writer needs of the object it works for. */
export interface WriterHost<C extends Conversation> {
  rules: ConversationKindRules<C>;
  gate: ConversationGate<C>;
  data: ConversationData;
  clientIds: ClientIdRecord;
  config: Config | undefined;
  log: Logger;
  store(): KeyValueStore | undefined;
  notifier(): Notifier;
  broadcast(event: ServerEvent, tag?: string): number;
  sendTo(ws: WebSocket, event: ServerEvent): void;
  hasOpenSocket(userId: number): boolean;
}

const messageNotFound: Refusal = { code: "not_found", detail: "Message not found" };
const parentNotFound: Refusal = { code: "not_found", detail: "Parent message not found" };
const replyToReply: Refusal = {
  code: "invalid_parent",
  detail: "Threads are one level deep: reply to the thread's first message",
};
const forbiddenChange: Refusal = { code: "forbidden", detail: "Forbidden" };

/** Mention notifications sent at once (each is a call to the person's feed object). */
const NOTIFY_AT_ONCE = 16;

export interface PostInput {
  conversationId: number;
  userId: number;
  content: string;
  clientId: string | null;
  parentId?: number | null;
}

/** A reaction added (`present`) or taken back by the caller. */
export interface ReactionInput {
  conversationId: number;
  userId: number;
  messageId: number;
  emoji: string;
  present: boolean;
}

export class ConversationWriter<C extends Conversation> {
  readonly queue: WriteQueue<StoredMessage & { thread?: ThreadCounters }, WebSocket>;

  constructor(private readonly host: WriterHost<C>) {
    const { data } = host;
    this.queue = new WriteQueue({
      now: () => Date.now(),
      clientIds: host.clientIds,
      rateRefusal: (userId) => this.rateRefusal(userId, (c) => host.rules.rateScope(c)),
      accessRefusals: (userIds) => this.writeRefusals(userIds),
      insert: (posts) => Promise.allSettled(posts.map((p) => data.insert(p.userId, p.content, p.parentId))),
      newestId: () => data.newestId(),
      storedAfter: (id) => data.after(id, BATCH_MAX * 10, { withDeleted: true }),
      load: (id) => data.load(id),
      classify: (error) =>
        foreignKeyViolation(error)
          ? "gone"
          : connectionRefused(error)
            ? "unreachable"
            : databaseUnavailable(error)
              ? "unavailable"
              : "other",
      publish: (created) =>
        this.publish(created.map((c) => ({ message: c.message, clientId: c.post.clientId }))),
      replay: (origin, post, message) => this.sendMessage(origin, message, post.clientId),
      afterPublish: (created) => this.afterPublish(created.map((c) => c.message)),
      logError: (message, error) => host.log.error(`${host.rules.kind}: ${message}`, { err: error }),
    });
  }

  /** `work` behind the gate; a database that cannot be reached is a refusal too ("unavailable"). */
  async guarded<T>(
    id: number,
    userId: number,
    need: Need,
    work: (conversation: C, standing: Standing) => Promise<T>,
  ): Promise<Gated<T>> {
    try {
      const gate = await this.host.gate.check(id, userId, need);
      if (!gate.ok) return gate;
      return { ok: true, value: await work(gate.value.conversation, gate.value.standing) };
    } catch (error) {
      if (error instanceof Refused) return refused(error.refusal);
      if (error instanceof DatabaseUnavailableError || databaseUnavailable(error))
        return refused(unavailable());
      throw error;
    }
  }

  /** Stores and publishes a message (a reply when `parentId` names a thread's root), or says why not. */
  async post(input: PostInput, origin: WebSocket | null): Promise<PostOutcome<StoredMessage>> {
    const checked = await this.guarded(input.conversationId, input.userId, "write", async () =>
      input.parentId ? this.parentRefusal(input.parentId) : null,
    );
    if (!checked.ok) return { kind: "refused", refusal: checked.refusal };
    if (checked.value) return { kind: "refused", refusal: checked.value };
    return this.queue.submit({
      userId: input.userId,
      content: input.content,
      clientId: input.clientId,
      parentId: input.parentId ?? null,
      origin,
    });
  }

  /** Edits a message (its author only) and broadcasts `message.updated`. */
  edit(input: { conversationId: number; userId: number; messageId: number; content: string }) {
    return this.change(input, "write", "message.updated", () =>
      this.host.data.edit(input.userId, input.messageId, input.content),
    );
  }

  /** Soft-deletes a message (its author, or a moderator) and broadcasts `message.deleted`. */
  remove(input: { conversationId: number; userId: number; messageId: number }) {
    const { rules, data } = this.host;
    return this.change(input, rules.removeNeeds, "message.deleted", (standing, conversation) =>
      data.remove(input.userId, input.messageId, standing.moderator, rules.auditWorkspace(conversation)),
    );
  }

  /**
   * Adds (`present`) or removes a reaction of the user on a message; idempotent. Tells everyone
   * (`reaction.added` / `reaction.removed`) when something changed. Answers the message's
   * reactions as the user sees them.
   */
  async react(input: ReactionInput): Promise<Gated<ReactionSummary[]>> {
    return this.guarded(input.conversationId, input.userId, "write", async (conversation) => {
      const rate = await this.rateRefusal(input.userId, () => ({ kind: "reaction" }));
      if (rate) throw new Refused(rate);
      return this.queue.enqueueTask(async () => {
        const message = await this.host.data.load(input.messageId);
        if (!message || message.isDeleted) throw new Refused(messageNotFound);
        const { data } = this.host;
        const change = input.present
          ? await data.addReaction(input.messageId, input.userId, input.emoji)
          : await data.removeReaction(input.messageId, input.userId, input.emoji);
        if (change.kind === "too_many") {
          throw new Refused({
            code: "too_many_reactions",
            detail: `A message has at most ${MAX_DISTINCT_REACTIONS} different reactions`,
          });
        }
        if (change.kind === "changed") {
          this.host.broadcast({
            type: input.present ? "reaction.added" : "reaction.removed",
            payload: {
              ...this.host.rules.conversationFields(conversation),
              message_id: input.messageId,
              emoji: input.emoji,
              user_id: input.userId,
              count: change.count,
            },
          });
        }
        const [seen] = await data.withReactions([{ ...message, reactionCount: 1 }], input.userId);
        return seen?.reactions ?? [];
      });
    });
  }

  /**
   * Moves the user's read pointer forward (null: to the newest message) as a queue step, so it
   * follows the messages it covers, and tells whom the kind says.
   */
  markRead(input: { conversationId: number; userId: number; lastReadMessageId: number | null }) {
    const { rules, data } = this.host;
    return this.guarded(input.conversationId, input.userId, "read", (conversation) =>
      this.queue.enqueueTask(async () => {
        await data.movePointer(input.userId, input.lastReadMessageId);
        const state = await data.readState(input.userId, rules.readPeers(conversation, input.userId));
        const receipt = rules.receipt(state, input.userId);
        if (receipt)
          this.host.broadcast(receipt.event, receipt.onlyTheReader ? userTag(input.userId) : undefined);
        return state;
      }),
    );
  }

  /** A page of a thread's replies; `rootId` must be a root of this conversation (deleted roots too). */
  replies(input: { conversationId: number; userId: number; rootId: number; page: PageQuery }) {
    const { data } = this.host;
    return this.guarded(input.conversationId, input.userId, "read", async () => {
      const root = await data.load(input.rootId);
      if (!root || root.parentId !== null) throw new Refused(messageNotFound);
      return data.withReactions(await data.replies(input.rootId, input.page), input.userId);
    });
  }

  /** Sends a message event to one socket (a catch-up, a replayed client_id). */
  sendMessage(ws: WebSocket, message: StoredMessage, clientId: string | null) {
    const conversation = this.host.gate.loaded;
    if (conversation) {
      this.host.sendTo(ws, {
        type: "message",
        payload: this.host.rules.eventPayload(message, conversation, clientId),
      });
    }
  }

  // -- Inside ------------------------------------------------------------------------------------

  /** A reply must name a root of this conversation (deleted roots keep their thread). */
  private async parentRefusal(parentId: number): Promise<Refusal | null> {
    const parent = await this.host.data.load(parentId);
    if (!parent) return parentNotFound;
    return parent.parentId === null ? null : replyToReply;
  }

  private async writeRefusals(userIds: number[]): Promise<Map<number, Refusal>> {
    const refusals = new Map<number, Refusal>();
    const id = this.host.gate.claimedId();
    for (const userId of userIds) {
      const gate = await this.host.gate.check(id, userId, "write");
      if (!gate.ok) refusals.set(userId, { ...gate.refusal, closeSocket: gate.refusal.code !== "archived" });
    }
    return refusals;
  }

  private async rateRefusal(
    userId: number,
    scopeOf: (conversation: C) => MessageScope,
  ): Promise<Refusal | null> {
    const { config, log } = this.host;
    const store = this.host.store();
    if (!store || !config) return null;
    const conversation = await this.host.gate.current();
    if (!conversation) return null;
    const rate = await checkMessageRate(store, config, userId, scopeOf(conversation), log);
    if (rate.allowed) return null;
    return {
      code: rate.outcome === "unavailable" ? "limiter_unavailable" : "rate_limited",
      detail: refusalDetail(rate),
      rate,
    };
  }

  private change(
    input: { conversationId: number; userId: number; messageId: number },
    need: Need,
    eventType: MessageEventType,
    run: (standing: Standing, conversation: C) => Promise<ChangeOutcome>,
  ): Promise<Gated<StoredMessage>> {
    return this.guarded(input.conversationId, input.userId, need, (conversation, standing) =>
      this.queue.enqueueTask(async () => {
        const outcome = await run(standing, conversation);
        if (outcome.kind === "not_found") throw new Refused(messageNotFound);
        if (outcome.kind === "forbidden") throw new Refused(forbiddenChange);
        this.host.broadcast({
          type: eventType,
          payload: this.host.rules.eventPayload(outcome.message, conversation, null),
        });
        // The caller's answer carries the reactions as they see them; events carry none.
        const [seen] = await this.host.data.withReactions([outcome.message], input.userId);
        return seen ?? outcome.message;
      }),
    );
  }

  /** Each message, then its thread's new counters when it is a reply (`thread.updated`). */
  private publish(
    created: { message: StoredMessage & { thread?: ThreadCounters }; clientId: string | null }[],
  ) {
    const { rules, gate } = this.host;
    const conversation = gate.loaded;
    if (!conversation) return;
    metrics.messageStored(rules.kind, created.length);
    for (const { message, clientId } of created) {
      this.host.broadcast({ type: "message", payload: rules.eventPayload(message, conversation, clientId) });
      const thread = message.thread;
      if (thread) {
        this.host.broadcast({
          type: "thread.updated",
          payload: {
            ...rules.conversationFields(conversation),
            message_id: thread.rootId,
            reply_count: thread.replyCount,
            last_reply_at: thread.lastReplyAt?.toISOString() ?? null,
            reply_user_ids: thread.replyUserIds,
          },
        });
      }
    }
  }

  private async afterPublish(created: StoredMessage[]) {
    const { rules, gate } = this.host;
    const conversation = gate.loaded;
    if (!conversation) return;
    await Promise.all([
      rules.afterPublish(
        { notifier: this.host.notifier(), hasOpenSocket: (id) => this.host.hasOpenSocket(id) },
        conversation,
        created,
        this.host.config,
      ),
      ...created.map((message) => this.deliverMentions(conversation, message)),
    ]);
  }

  /**
   * Resolves a message's mentions to readers and records them (awaited: the post's answer comes
   * after, so a listing right after it shows them), then tells each person without holding the
   * answer back (services/mentions.ts).
   */
  private async deliverMentions(conversation: C, message: StoredMessage): Promise<void> {
    const parsed = parseMentions(message.content);
    if (!mentionsAnyone(parsed)) return;
    const { rules, data, gate } = this.host;
    const db = data.database();
    const mentioned = new Map<number, MentionVia>();
    const named = await rules.readers(db, conversation, {
      handles: parsed.handles,
      limit: MAX_HANDLES_PER_MESSAGE,
    });
    for (const reader of named) mentioned.set(reader.id, "user");
    if (parsed.channel || parsed.here) {
      const standing = await gate.check(conversation.id, message.userId, "write");
      const moderator = standing.ok && standing.value.standing.moderator;
      const maxReaders = this.host.config?.mentionEveryoneMaxReaders ?? EVERYONE_MAX_READERS;
      const limit = moderator ? EVERYONE_HARD_CAP : maxReaders + 1;
      const readers = await rules.readers(db, conversation, { limit });
      if (moderator || readers.length <= maxReaders) {
        const online = parsed.here && !parsed.channel ? await this.online(readers.map((r) => r.id)) : null;
        for (const reader of readers) {
          if (mentioned.has(reader.id) || (online && !online.has(reader.id))) continue;
          mentioned.set(reader.id, parsed.channel ? "channel" : "here");
        }
      }
    }
    mentioned.delete(message.userId);
    if (mentioned.size === 0) return;
    const rows = [...mentioned].map(([userId, via]) => ({ userId, via }));
    await recordMentions(
      db,
      { kind: rules.kind, id: conversation.id },
      { id: message.id, authorId: message.userId },
      rows,
    );
    const fields = rules.conversationFields(conversation);
    const payload = rules.eventPayload(message, conversation, null);
    const notifier = this.host.notifier();
    void (async () => {
      for (let i = 0; i < rows.length; i += NOTIFY_AT_ONCE) {
        await Promise.all(
          rows
            .slice(i, i + NOTIFY_AT_ONCE)
            .map(({ userId, via }) =>
              notifier.notify(userId, { type: "mention", payload: { ...fields, via, message: payload } }),
            ),
        );
      }
    })();
  }

  /** Which of these users are online (their online key exists); everyone when the store cannot say. */
  private async online(userIds: number[]): Promise<Set<number> | null> {
    const store = this.host.store();
    if (!store || userIds.length === 0) return null;
    try {
      const flags = await store.getMany(userIds.map(onlineKey));
      return new Set(userIds.filter((_, index) => flags[index] !== null && flags[index] !== undefined));
    } catch {
      return null;
    }
  }
}

/** A write refused inside its queue step, carried out of it. */
export class Refused extends Error {
  constructor(readonly refusal: Refusal) {
    super(refusal.detail);
  }
}

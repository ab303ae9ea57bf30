/**
 * ConversationRoom: one Durable Object per conversation (a channel: ChannelRoom; a direct-message
 * thread: DmThread), written once for both kinds against their descriptors (conversation-kind.ts).
 *
 * Why an object per conversation. The original kept sockets in a per-process dictionary, so a
 * message posted on one process never reached sockets held by another, and two processes writing
 * one conversation could commit ids out of order. Every Worker request that names a
 * conversation's object reaches the same single object: "everyone in the conversation" means
 * everyone, and its writes form one sequence.
 *
 * The single gate. Every write of the conversation (REST and socket posts, replies, edits,
 * deletes, reactions, read pointers) and every read of its messages comes here, and here access is
 * decided, from what the object remembers (conversation-gate.ts; kept exact by `accessChanged`),
 * with refusals as typed codes. Writes are the writer's (conversation-writer.ts): they pass through
 * the write queue, which orders them with the sockets' catch-ups, batches inserts, makes client_ids
 * idempotent and holds socket posts while PostgreSQL cannot be reached. The object keeps its own
 * connection (closed after a few idle seconds so the object can hibernate; socket-host.ts explains
 * hibernation).
 *
 * Pings: the runtime answers the web app's exact `{"type":"ping"}` itself (names.ts) without
 * waking the object, and the idle rule still sees them (socket-liveness.ts). Presence: a user's
 * joins and leaves are announced as `presence` events, as the kind's descriptor says; while a user
 * has a socket here the object keeps their online key alive.
 */
import { createDatabase, type Database } from "../db/client";
import { databaseUnavailable } from "../db/errors";
import type { Env } from "../env";
import type { Author, ReactionSummary, ReadState, StoredMessage } from "../services/conversation-messages";
import type { PageQuery } from "../services/message-rules";
import type { Notifier } from "../services/notifier";
import { SOCKET_ROOMS_GRACE_SECONDS, socketRoomsKey } from "../store/keys";
import { type ClientIdRecord, sqliteClientIds } from "./client-ids";
import { ConversationData } from "./conversation-data";
import { ConversationGate, type Gated } from "./conversation-gate";
import type { Conversation, ConversationAttachment, ConversationKindRules } from "./conversation-kind";
import { ConversationWriter, type PostInput, type ReactionInput } from "./conversation-writer";
import { conversationName, feedName, PING_FRAME, PONG_FRAME } from "./names";
import { createNotifier } from "./notifier";
import { Presence } from "./presence";
import { parseClientFrame } from "./protocol/client-frames";
import { CLOSE_CODES, CLOSE_REASONS } from "./protocol/close-codes";
import { CATCH_UP_MAX, errorEvent } from "./protocol/server-events";
import { type HandOff, refuseHandshake, SocketHost } from "./socket-host";
import { closeQuietly, isOpen, type LeasedSocket } from "./socket-liveness";
import { DatabaseUnavailableError, type PostOutcome, type Refusal, unavailable } from "./write-ports";

export type { Gated };

/** Idle seconds after which the object closes its database connection, so it can hibernate. */
const OBJECT_DB_IDLE_SECONDS = 5;

export interface PresentUser {
  user_id: number;
  display_name: string | null;
}

/** How long a registration in the user's socket-rooms set is trusted (see registerSockets). */
const REGISTRATION_FRESH_MS = (SOCKET_ROOMS_GRACE_SECONDS * 1000) / 2;
/** Users whose registration is remembered; past it the memory starts again (it only saves writes). */
const MAX_REGISTRATIONS_REMEMBERED = 10_000;

export abstract class ConversationRoom<C extends Conversation> extends SocketHost<ConversationAttachment> {
  /** When this instance last added itself to a user's socket-rooms set (registerSockets). */
  private readonly registeredAt = new Map<number, number>();
  private database: Database | undefined;
  private notifierInstance: Notifier | undefined;
  private readonly clientIds: ClientIdRecord;
  private readonly gate: ConversationGate<C>;
  private readonly presenceOf: Presence;
  private readonly data: ConversationData;
  private readonly writer: ConversationWriter<C>;

  protected constructor(
    ctx: DurableObjectState,
    env: Env,
    protected readonly rules: ConversationKindRules<C>,
  ) {
    super(ctx, env, rules.endpoint, `${rules.kind}-room`);
    this.clientIds = sqliteClientIds(ctx.storage.sql);
    this.gate = new ConversationGate(rules, () => this.db, (this.config?.accessCacheSeconds ?? 60) * 1000);
    this.data = new ConversationData(
      rules.table,
      () => this.db,
      () => this.gate.claimedId(),
    );
    this.writer = new ConversationWriter({
      rules,
      gate: this.gate,
      data: this.data,
      clientIds: this.clientIds,
      config: this.config,
      log: this.log,
      store: () => this.store,
      notifier: () => this.notifier,
      broadcast: (event, tag) => this.broadcast(event, tag),
      sendTo: (ws, event) => this.sendTo(ws, event),
      hasOpenSocket: (userId) => this.hasOpenSocket(userId),
    });
    this.presenceOf = new Presence(rules.presence, {
      broadcast: (event) => this.broadcast(event),
      hasOpenSocket: (userId, except) => this.hasOpenSocket(userId, except),
      enqueue: (step) => this.writer.queue.enqueueTask(step),
      feedSockets: (userId) => {
        const feed = this.env.NOTIFICATION_FEED;
        return feed.get(feed.idFromName(feedName(userId))).openSocketCount();
      },
      warn: (message, fields) => this.log.warn(message, fields),
    });
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
  }

  // -- RPC from the Worker: the gate ----------------------------------------------------------

  /** Stores and broadcasts a message, or a reply to a thread's root (REST), or says why not. */
  post(input: PostInput): Promise<PostOutcome<StoredMessage>> {
    return this.writer.post(input, null);
  }

  /** Edits a message (its author only) and broadcasts `message.updated`. */
  edit(input: { conversationId: number; userId: number; messageId: number; content: string }) {
    return this.writer.edit(input);
  }

  /** Soft-deletes a message (its author, or a moderator) and broadcasts `message.deleted`. */
  remove(input: { conversationId: number; userId: number; messageId: number }) {
    return this.writer.remove(input);
  }

  /** Adds or removes the caller's reaction; answers the message's reactions as the caller sees them. */
  react(input: ReactionInput): Promise<Gated<ReactionSummary[]>> {
    return this.writer.react(input);
  }

  /** A page of messages (services/conversation-messages.ts listMessages), with the caller's reactions. */
  history(input: {
    conversationId: number;
    userId: number;
    page: PageQuery;
    includeReplies?: boolean;
  }): Promise<Gated<StoredMessage[]>> {
    return this.writer.guarded(input.conversationId, input.userId, "read", async () =>
      this.data.withReactions(await this.data.page(input.page, input.includeReplies ?? true), input.userId),
    );
  }

  /** A page of a thread's replies (its root must be a root of this conversation; deleted roots too). */
  replies(input: {
    conversationId: number;
    userId: number;
    rootId: number;
    page: PageQuery;
  }): Promise<Gated<StoredMessage[]>> {
    return this.writer.replies(input);
  }

  readState(input: { conversationId: number; userId: number }): Promise<Gated<ReadState>> {
    return this.writer.guarded(input.conversationId, input.userId, "read", async (conversation) =>
      this.data.readState(input.userId, this.rules.readPeers(conversation, input.userId)),
    );
  }

  /** Moves the caller's read pointer forward (null: to the newest message) and tells whom the kind says. */
  markRead(input: { conversationId: number; userId: number; lastReadMessageId: number | null }) {
    return this.writer.markRead(input);
  }

  /** The users holding a socket here right now. */
  presence(input: { conversationId: number; userId: number }): Promise<Gated<PresentUser[]>> {
    return this.writer.guarded(input.conversationId, input.userId, "read", async () => {
      const users = new Map<number, PresentUser>();
      for (const { lease } of this.leasedSockets()) {
        users.set(lease.userId, { user_id: lease.userId, display_name: lease.displayName });
      }
      return [...users.values()].sort((a, b) => a.user_id - b.user_id);
    });
  }

  /**
   * Who may do what here changed (a member removed or added, a role, the conversation's settings):
   * forget what the object knew about these users (everyone when omitted), and close the sockets
   * of those who may no longer hold one. Returns how many were closed.
   */
  async accessChanged(userIds?: number[]): Promise<number> {
    this.gate.forget(userIds);
    const sockets = this.leasedSockets();
    // Woken from hibernation by this call, the object learns its conversation from a socket.
    const id = this.gate.id ?? sockets[0]?.lease.conversationId;
    if (id === undefined) return 0;
    const affected = userIds ?? [...new Set(sockets.map((s) => s.lease.userId))];
    let closed = 0;
    for (const userId of affected) {
      if (!this.hasOpenSocket(userId)) continue;
      const gate = await this.gate.check(id, userId, "socket");
      if (gate.ok) continue;
      // Lost the conversation: "Access revoked"; still a reader (a read-only thread): why not live.
      const reader = (await this.gate.check(id, userId, "read")).ok;
      const reason = reader ? gate.refusal.detail : CLOSE_REASONS.accessRevoked;
      closed += this.closeUserSockets(userId, CLOSE_CODES.policy, reason).length;
      this.presenceOf.leaveIfGone(userId);
    }
    return closed;
  }

  /** The conversation was deleted: every socket closes (1008). Returns how many. */
  conversationDeleted(): number {
    this.gate.forget();
    const sockets = this.leasedSockets();
    for (const { ws } of sockets) closeQuietly(ws, CLOSE_CODES.policy, this.rules.deletedReason);
    for (const userId of new Set(sockets.map((s) => s.lease.userId))) this.presenceOf.leaveIfGone(userId);
    return sockets.length;
  }

  // -- Sockets ---------------------------------------------------------------------------------

  protected async admit(handOff: HandOff): Promise<Response> {
    const id = handOff.fields.conversationId;
    if (typeof id !== "number" || !Number.isSafeInteger(id))
      return refuseHandshake(400, "Bad socket hand-off");
    const since = handOff.fields.since;
    try {
      const gate = await this.gate.check(id, handOff.userId, "socket");
      if (!gate.ok) return refuseHandshake(403, gate.refusal.detail);
      const mismatch = this.rules.handshakeRefusal(gate.value.conversation, handOff.fields);
      if (mismatch) return refuseHandshake(403, mismatch.detail);
      const author = await this.data.author(handOff.userId);
      if (!author) return refuseHandshake(403, "User not found");
      const response = await this.writer.queue.enqueueTask(() =>
        this.join(handOff, gate.value.conversation, author, typeof since === "number" ? since : null),
      );
      // Awaited so that a client asking "who is online" right after connecting sees itself.
      await this.keepOnline([handOff.userId], Date.now());
      if (this.openSocketCount(handOff.userId) === 1) await this.registerSockets(handOff.userId, Date.now());
      return response;
    } catch (error) {
      if (error instanceof DatabaseUnavailableError || databaseUnavailable(error)) {
        return refuseHandshake(503, "Database unavailable", { "Retry-After": "5" });
      }
      throw error;
    }
  }

  /** A queue step: catch-up and acceptance are one step, so no write falls between them. */
  private async join(handOff: HandOff, conversation: C, author: Author, since: number | null) {
    // Read before accepting: a failing query refuses the handshake rather than leaving a socket
    // that silently missed messages. One more than the cap tells "too many" from "exactly the cap".
    const missed =
      since === null ? null : await this.data.after(since, CATCH_UP_MAX + 1, { withDeleted: false });
    const now = Date.now();
    const attachment: ConversationAttachment = {
      userId: handOff.userId,
      sessionId: handOff.sessionId,
      expiresAt: handOff.expiresAtSeconds * 1000,
      lastSeenAt: now,
      conversationId: conversation.id,
      displayName: author.displayName,
    };
    const { ws, response } = this.accept(handOff, attachment);
    if (missed && since !== null) {
      if (missed.length > CATCH_UP_MAX) {
        this.sendTo(ws, {
          type: "resync",
          payload: {
            reason: "too_many_missed",
            since,
            max_catch_up: CATCH_UP_MAX,
            detail: "More messages were missed than a reconnect replays; re-fetch them through REST",
          },
        });
      } else {
        const clientIds = this.clientIds.after(since);
        for (const message of missed) this.writer.sendMessage(ws, message, clientIds.get(message.id) ?? null);
      }
    }
    this.presenceOf.joined(attachment, ws);
    await this.scheduleFirstCheck(attachment);
    return response;
  }

  protected async onFrame(ws: WebSocket, attachment: ConversationAttachment, raw: string | ArrayBuffer) {
    // An object woken from hibernation by this frame learns its conversation from the socket.
    this.gate.claim(attachment.conversationId);
    const parsed = parseClientFrame(raw, this.rules.kind);
    if (!parsed.ok) {
      const { code, detail, ...extra } = parsed.error;
      this.sendTo(ws, errorEvent(code, detail, extra));
      return;
    }
    const frame = parsed.frame;
    const base = { conversationId: attachment.conversationId, userId: attachment.userId };
    try {
      if (frame.type === "message") {
        const input = { ...base, content: frame.content, clientId: frame.clientId, parentId: frame.parentId };
        const outcome = await this.writer.post(input, ws);
        if (outcome.kind === "refused")
          this.refuseOnSocket(ws, outcome.refusal, { client_id: frame.clientId });
      } else if (frame.type === "typing") {
        this.presenceOf.typed(attachment, frame.isTyping);
      } else if (frame.type === "read") {
        const result = await this.writer.markRead({ ...base, lastReadMessageId: frame.lastReadMessageId });
        if (!result.ok) this.refuseOnSocket(ws, result.refusal);
      }
    } catch (error) {
      if (error instanceof DatabaseUnavailableError || databaseUnavailable(error)) {
        this.refuseOnSocket(ws, unavailable());
        return;
      }
      this.log.error(`${this.rules.kind} socket frame failed`, { err: error, user_id: attachment.userId });
      this.sendTo(ws, errorEvent("internal_error", "The frame could not be processed"));
    }
  }

  protected override onFrameRefused(ws: WebSocket, tell: boolean): void {
    if (tell) this.sendTo(ws, errorEvent("rate_limited", "Too many frames; slow down"));
  }

  protected override onSocketGone(_ws: WebSocket, attachment: ConversationAttachment): void {
    this.presenceOf.leaveIfGone(attachment.userId);
  }

  protected override async onSweep(
    kept: LeasedSocket<ConversationAttachment>[],
    before: LeasedSocket<ConversationAttachment>[],
    now: number,
  ) {
    const present = new Set(kept.map((s) => s.lease.userId));
    for (const userId of new Set(before.map((s) => s.lease.userId))) {
      if (!present.has(userId)) this.presenceOf.leaveIfGone(userId);
    }
    await this.keepOnline([...present], now);
  }

  protected override sessionDatabase() {
    return this.config ? this.db : undefined;
  }

  protected override logFields(attachment: ConversationAttachment) {
    return { [`${this.rules.kind === "dm" ? "thread" : "channel"}_id`]: attachment.conversationId };
  }

  // -- Connections, refusals -----------------------------------------------------------------

  protected get db(): Database {
    if (!this.config) throw new Error(`${this.rules.kind} object: the settings are invalid`);
    this.database ??= createDatabase(this.config.database, { idleTimeoutSeconds: OBJECT_DB_IDLE_SECONDS });
    return this.database;
  }

  private get notifier(): Notifier {
    this.notifierInstance ??= createNotifier(this.env.NOTIFICATION_FEED, this.log);
    return this.notifierInstance;
  }

  /** A refusal as the socket's error event; losing the conversation closes the socket too. */
  private refuseOnSocket(ws: WebSocket, refusal: Refusal, extra: Record<string, unknown> = {}) {
    if (!isOpen(ws)) return;
    const code =
      refusal.code === "archived"
        ? "forbidden"
        : refusal.code === "limiter_unavailable"
          ? "rate_limited"
          : refusal.code;
    this.sendTo(ws, errorEvent(code, refusal.detail, extra));
    if (refusal.code === "not_found" && refusal.detail === this.rules.notFound.detail) {
      closeQuietly(ws, CLOSE_CODES.policy, this.rules.deletedReason);
    } else if (refusal.closeSocket) closeQuietly(ws, CLOSE_CODES.policy, refusal.detail);
  }

  /**
   * On a user's first socket here, adds this conversation to the set of those where the user holds
   * sockets (store/keys.ts socketRoomsKey), which the user's notification feed reads to close a
   * revoked session's sockets here the moment it is revoked.
   *
   * A user who reconnects (a reload, a flaky network) comes back within seconds; the set written
   * then still holds this room and lives for an access token's lifetime plus the grace, so it
   * covers any token presented within the grace. A registration younger than half of it is not
   * written again: one store round trip fewer per reconnect. The feed removes this room from the
   * set only after this room answered that the user has no socket left (`closeSessions`), and then
   * the memory of the registration is dropped too.
   */
  private async registerSockets(userId: number, now: number): Promise<void> {
    const store = this.store;
    if (!store || !this.config) return;
    const last = this.registeredAt.get(userId);
    if (last !== undefined && now - last < REGISTRATION_FRESH_MS) return;
    try {
      const name = conversationName(this.rules.kind, this.gate.claimedId());
      const ttlSeconds = this.config.jwt.accessTtlSeconds + SOCKET_ROOMS_GRACE_SECONDS;
      await store.addToSet(socketRoomsKey(userId), name, { ttlSeconds });
      if (this.registeredAt.size >= MAX_REGISTRATIONS_REMEMBERED) this.registeredAt.clear();
      this.registeredAt.set(userId, now);
    } catch (error) {
      this.registeredAt.delete(userId);
      this.log.warn("could not record where the user holds sockets", { user_id: userId, err: error });
    }
  }

  override async closeSessions(
    userId: number,
    sessionIds: string[],
  ): Promise<{ closed: number; remaining: number }> {
    const outcome = await super.closeSessions(userId, sessionIds);
    if (outcome.remaining === 0) this.registeredAt.delete(userId);
    return outcome;
  }
}

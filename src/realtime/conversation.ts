/**
 * Conversation: the machinery shared by the Durable Objects that hold a conversation's sockets
 * and write its messages: ChannelRoom (one per channel, /ws/chat) and DmThread (one per direct
 * message thread, /ws/dm). Each kind adds only what is its own (who may write, which table, the
 * shape of its events, read receipts) through the hooks at the end of the class; the guarantees
 * below are made here, once, for both.
 *
 * Why an object per conversation. The original kept sockets in a per-process dictionary, so a
 * message posted on one process never reached sockets held by another (D8), and two processes
 * writing the same conversation could commit ids out of order. Every Worker instance that names
 * a conversation's object reaches the same single object, so "everyone in the conversation" means
 * everyone, and a conversation's writes form one sequence.
 *
 * Concurrency model. An object runs one event at a time (a handshake, a frame, an RPC, an alarm),
 * but an event that awaits something outside it (PostgreSQL, the store) lets others run in the
 * meantime; only storage calls hold other events back (input gates). So the ordering guarantees
 * are made explicit with one queue, drained by one loop, through which every write and every
 * catch-up passes:
 *
 *   - A post is stored, then broadcast, before the next queued step starts, so every subscriber
 *     receives the conversation's messages in id order, each exactly once: a socket is in the
 *     broadcast set from the moment its join step accepted it, never twice, never half.
 *   - Consecutive posts waiting in the queue are written as one batch: their INSERTs go out
 *     together on the object's single connection (postgres.js pipelines them), so they execute,
 *     take ids and commit one after the other, and are broadcast sorted by id. Throughput is then
 *     bound by PostgreSQL's per-statement work, not by one round trip per message. A batch also
 *     re-checks, once per sender, that the senders of socket posts may still write (REST posts
 *     were checked by the Worker a moment before).
 *   - A join (a socket's handshake) is a queue step too: with `since=<id>` it reads what the
 *     client missed, accepts the socket and sends the missed messages, all before the next write;
 *     so nothing falls between catch-up and live delivery, and nothing arrives twice. (The single
 *     connection would order the catch-up query after the INSERTs issued before it anyway; the
 *     queue makes the guarantee not depend on that.)
 *   - Edits, deletes and whatever else a kind queues (a thread's read receipts) are queue steps,
 *     so their events follow the messages they refer to.
 * Frames that write nothing (typing, pings, bad frames) and reads bypass the queue: they need no
 * order with respect to writes. Why not blockConcurrencyWhile: it would stall every event (typing,
 * presence, the alarm) behind each write, and reset the object on a slow query.
 *
 * Idempotent sends. A post with a `client_id` (the web app's id for its optimistic copy) that the
 * same user already used here within a day returns the message it created instead of storing a
 * second one, over REST and sockets alike: retries after a lost answer, and a socket and a REST
 * fallback racing, store one message. Which client_id created which message lives in the object's
 * own SQLite storage: the statements are synchronous and commit with the event, so no await splits
 * a check from its write, and the record outlives eviction. The check is made when a post arrives
 * (a retry costs no rate and is answered at once) and again inside its batch (a retry racing its
 * first attempt).
 *
 * Hibernation. Sockets are accepted with the hibernation API, so the runtime, not this object,
 * holds them: the object may be evicted between events and re-created when a frame, an RPC or its
 * alarm arrives, with the sockets still open. Everything a socket needs after such a wake-up lives
 * in its attachment (user, display name, session, token expiry, last frame, the conversation's
 * ids); client_id records live in storage (above). Every field of the class is a cache or a counter
 * that may be lost: the post rate windows (eviction needs 10 s without events, by which time every
 * window has ended; a restart forgets at most one), authors, the presence state last announced.
 * No timers run in memory: every deadline is the single storage alarm, which survives eviction.
 * The PostgreSQL connection closes itself after a few idle seconds (db/client.ts): an open
 * connection, and the driver's timers, would otherwise keep the object from ever being evicted.
 *
 * Pings. The web app sends the text `{"type":"ping"}` every 10 s on every socket. The runtime
 * answers exactly that frame itself (setWebSocketAutoResponse) with `{"type":"pong",...}`, which
 * the web app ignores as it ignores every unknown event type, so pings never wake the object nor
 * run any code here: with 1000 subscribers that is 100 wake-ups a second saved. The idle rule
 * still sees them, through getWebSocketAutoResponseTimestamp (see socket-liveness.ts). Any other
 * frame is handled here and also counts as activity.
 *
 * Liveness (contract 3.2; D7; socket-liveness.ts): the alarm closes sockets idle for 25 s (1001),
 * sockets whose token expired (1008) and sockets whose session was revoked (1008). Revocation is
 * pushed: the user's notification feed calls `closeSessions` here the moment a session is revoked
 * (the object tells the feed when a user's first socket joins). So an object of idle sockets wakes
 * only for its sweeps, at most every 25 s, and hibernates in between.
 *
 * Bad frames (D21): anything a client sends that is not a JSON object of a known type with valid
 * fields is answered with an `error` event ({code, detail}, and the client_id of a refused message)
 * and changes nothing; nothing a client sends can throw out of a handler.
 *
 * Presence and online (contract 3.3). While a user has a socket here the object keeps the user's
 * `online:user:{id}` key alive (with the TTL the notification feed uses); it never deletes it, so it
 * cannot mark offline a user whose other sockets are elsewhere, and the TTL ends it. Joins and
 * leaves are announced to the conversation as `presence` events; when, is the kind's policy.
 *
 * Compression is not this object's to decide: workerd negotiates permessage-deflate whenever the
 * client offers it unless the Worker's compatibility flags include `no_web_socket_compression`
 * (see notification-feed.ts). For these objects the flag matters most: a broadcast goes to every
 * subscriber, and with deflate each socket compresses it again with its own zlib context.
 */
import { DurableObject } from "cloudflare:workers";
import { type Config, loadConfig } from "../config";
import { createDatabase, type Database } from "../db/client";
import { foreignKeyViolation } from "../db/errors";
import type { Env } from "../env";
import { createLogger, type Logger } from "../log";
import { metrics, type SocketEndpoint } from "../observability/metrics";
import { recordSocketClose, recordSocketOpen } from "../observability/sockets";
import {
  type Author,
  CLIENT_ID_TTL_MS,
  contentProblem,
  getAuthor,
  normaliseClientId,
} from "../services/messages";
import {
  checkMessageRate,
  type MessageScope,
  type RateDecision,
  refusalDetail,
} from "../services/rate-limits";
import { revokedSessions } from "../services/sessions";
import { createStore } from "../store";
import type { KeyValueStore } from "../store/store";
import { encodeFrame, type ServerEvent, sendToAll } from "./fan-out";
import { feedName, ONLINE_TTL_SECONDS, onlineKey } from "./notification-feed";
import {
  CLOSE_INTERNAL_ERROR,
  CLOSE_NORMAL,
  CLOSE_POLICY_VIOLATION,
  closeLapsed,
  closeQuietly,
  closeRevoked,
  firstCheckAt,
  isOpen,
  type LeasedSocket,
  leaseOf,
  nextCheckAt,
  openLeasedSockets,
  SESSION_RECHECK_SECONDS,
  type SocketLease,
} from "./socket-liveness";

/** Idle seconds after which the object closes its database connection, so it can hibernate. */
const OBJECT_DB_IDLE_SECONDS = 5;

/** A reconnecting client missed more than this: it is told to re-fetch through REST instead. */
export const CATCH_UP_MAX = 200;
/** The exact frame the web app sends as its keep-alive, and the runtime's answer to it. */
export const PING_FRAME = '{"type":"ping"}';
export const PONG_FRAME = '{"type":"pong","payload":{}}';
/** Most posts written as one batch (see the module comment). */
const BATCH_MAX = 100;
/** How long a user's display name is reused for their messages and events. */
const AUTHOR_CACHE_MS = 60_000;
/** How often a present user's online key is rewritten (its TTL is ONLINE_TTL_SECONDS). */
const ONLINE_REFRESH_MS = 20_000;
const ONLINE_WRITES_AT_ONCE = 16;
/** The largest id PostgreSQL's `integer` holds. */
export const MAX_ROW_ID = 2_147_483_647;

/** The internal header that carries an authenticated connection from the Worker to the object. */
const CONNECTION_HEADER = "X-Conversation-Connection";

/** The tag of a user's sockets, so an object can find them without reading every attachment. */
export const userTag = (userId: number) => `u:${userId}`;

/**
 * The ids that name one conversation (a channel: its id and its workspace's; a thread: its id
 * and its two participants). They travel with every handshake, socket attachment and RPC input,
 * so an object woken from hibernation knows which conversation it serves without a query.
 */
export type Scope = object;

/** What the Worker has established about a handshake before handing it to the object. */
export interface HandshakeBase {
  userId: number;
  sessionId: string | null;
  /** The token's `exp`, in seconds since the epoch. */
  expiresAtSeconds: number;
  /** The subprotocol to echo ("bearer" when the token came that way), or null. */
  protocol: string | null;
  /** The last message id the client has; null for no catch-up. */
  since: number | null;
}

export type ConversationHandshake<S extends Scope> = HandshakeBase & S;

/** A socket's attachment: the liveness lease, the conversation, and what events need. Well under 2 KB. */
export type Member<S extends Scope> = SocketLease & S & { displayName: string | null };

/** A message as a conversation's object handles it; each kind's view adds its own ids. */
export interface ConversationMessage {
  id: number;
  userId: number;
  author: Author;
}

export type PostInput<S extends Scope> = S & {
  userId: number;
  content: string;
  clientId: string | null;
};

/** Why a sender may not write (REST answers it with `status`; a socket gets an error event). */
export interface Refusal {
  status: number;
  detail: string;
  /** The sender lost access to the conversation itself, so their socket is closed too. */
  closeSocket: boolean;
}

export type PostResult<M> =
  | { kind: "created" | "replayed"; message: M; clientId: string | null }
  /** Over the sender's message limit, or the limiter is down and fails closed (`rate` says which). */
  | { kind: "rate_limited"; rate: RateDecision }
  /** The conversation was deleted while the post waited. */
  | { kind: "gone" }
  /** A socket's sender may no longer write here (REST callers are checked by the Worker). */
  | ({ kind: "refused" } & Refusal);

export type ChangeOutcome<M> = { kind: "ok"; message: M } | { kind: "not_found" } | { kind: "forbidden" };

export interface PresentUser {
  user_id: number;
  display_name: string | null;
}

/**
 * Hands an authenticated, authorised upgrade to a conversation's object, which answers the 101.
 * The token itself stays in the Worker: the object only learns what it needs to enforce.
 */
export function openConversationSocket<S extends Scope>(
  stub: { fetch(input: string, init: RequestInit): Promise<Response> },
  handshake: ConversationHandshake<S>,
): Promise<Response> {
  return stub.fetch("https://conversation/connect", {
    headers: { Upgrade: "websocket", [CONNECTION_HEADER]: JSON.stringify(handshake) },
  });
}

interface QueuedPost<S extends Scope, M> {
  kind: "post";
  input: PostInput<S>;
  /** The socket that sent it, which alone gets the answer to a replayed client_id. */
  origin: WebSocket | null;
  resolve(result: PostResult<M>): void;
  reject(error: unknown): void;
}

interface QueuedTask {
  kind: "task";
  run(): Promise<void>;
}

type Outcome<M> = PostResult<M> | { error: unknown };

export abstract class Conversation<
  S extends Scope,
  M extends ConversationMessage,
> extends DurableObject<Env> {
  protected readonly config: Config | undefined;
  protected readonly log: Logger;
  /** Distinguishes instances, so a test can tell that the object was evicted and re-created. */
  private readonly instanceId = crypto.randomUUID();
  private database: Database | undefined;
  private storeClient: KeyValueStore | undefined;
  private readonly authors = new Map<number, { author: Author; at: number }>();
  /** What was last announced per user (true = present), so each join and leave is told once. */
  protected readonly announced = new Map<number, boolean>();
  private readonly onlineWrittenAt = new Map<number, number>();
  private queue: (QueuedPost<S, M> | QueuedTask)[] = [];
  private draining = false;
  private lastPruneAt = 0;
  /** The name of the conversation this object serves, learned from the first call that names it. */
  private claimed: string | undefined;

  protected constructor(
    ctx: DurableObjectState,
    env: Env,
    /** What the conversation is, for logs and close reasons: "channel", "thread". */
    protected readonly kind: string,
    /** The log component: "channel-room", "dm-thread". */
    component: string,
  ) {
    super(ctx, env);
    const result = loadConfig(env);
    this.config = result.ok ? result.config : undefined;
    this.log = createLogger(this.config?.logLevel ?? "info", { component });
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS client_ids (
        user_id INTEGER NOT NULL,
        client_id TEXT NOT NULL,
        message_id INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (user_id, client_id)
      );
      CREATE INDEX IF NOT EXISTS client_ids_created_at ON client_ids (created_at);
      CREATE INDEX IF NOT EXISTS client_ids_message_id ON client_ids (message_id);
    `);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
  }

  // -------------------------------------------------------------------------------------------
  // What each kind provides
  // -------------------------------------------------------------------------------------------

  /** What a post here is counted against: the kind's message limit (services/rate-limits.ts). */
  protected abstract messageScope(input: PostInput<S>): MessageScope;
  /** The conversation's own fields of a handshake, attachment or input (all numbers). */
  protected abstract scopeOf(value: S): S;
  /** The conversation's fields of a parsed handshake header, or null when they are not valid. */
  protected abstract parseScope(value: Record<string, unknown>): S | null;
  /** The object's name for a conversation (what the Worker passes to idFromName). */
  protected abstract nameOf(scope: S): string;
  /** Stores one message (an INSERT on the object's connection); the author is attached here. */
  protected abstract insertMessage(input: PostInput<S>): Promise<Omit<M, "author">>;
  /** One message of the conversation as it is now, deleted ones included. */
  protected abstract loadMessage(scope: S, messageId: number): Promise<M | undefined>;
  /** The messages after `sinceId`, oldest first, at most `max`, deleted ones left out. */
  protected abstract loadSince(scope: S, sinceId: number, max: number): Promise<M[]>;
  /** The payload of the `message`, `message.updated` and `message.deleted` events. */
  protected abstract messagePayload(message: M, scope: S, clientId: string | null): unknown;
  /** Why this user may no longer post here, or null; asked once per socket sender and batch. */
  protected abstract senderRefusal(scope: S, userId: number): Promise<Refusal | null>;
  /** A `read` frame. */
  protected abstract handleReadFrame(
    ws: WebSocket,
    member: Member<S>,
    fields: Record<string, unknown>,
  ): Promise<void>;

  /**
   * Called after a batch's messages were broadcast, in id order (a thread tells absent recipients).
   * The queue does not wait for it; the posts' callers do, so that a REST post answers only once
   * its side effects are delivered, as every route's events are.
   */
  protected afterBroadcast(_created: { input: PostInput<S>; message: M }[]): Promise<void> | void {}

  /** Whether every socket's join is announced, or only a user's first socket here (the default). */
  protected announceEveryJoin(): boolean {
    return false;
  }

  /** A user's last socket here closed: announced as gone (a thread asks the user's feed first). */
  protected lastSocketGone(userId: number): void {
    this.announceLeave(userId);
  }

  // -------------------------------------------------------------------------------------------
  // Connections
  // -------------------------------------------------------------------------------------------

  protected get db(): Database {
    if (!this.config) throw new Error(`${this.kind}: the settings are invalid`);
    // Kept across events (inside an object a client is reused, about 1 ms a query), and one
    // connection is what makes a batch's statements commit in order. It closes itself when idle,
    // so that the object can hibernate (db/client.ts).
    this.database ??= createDatabase(this.config.database, { idleTimeoutSeconds: OBJECT_DB_IDLE_SECONDS });
    return this.database;
  }

  protected get store(): KeyValueStore | undefined {
    if (!this.storeClient && this.config) this.storeClient = createStore(this.config.store);
    return this.storeClient;
  }

  // -------------------------------------------------------------------------------------------
  // Handshake
  // -------------------------------------------------------------------------------------------

  /** Accepts a socket the Worker has authenticated and authorised (see openConversationSocket). */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return Response.json({ detail: "Expected a WebSocket upgrade" }, { status: 426 });
    }
    const handshake = this.parseHandshake(request.headers.get(CONNECTION_HEADER));
    if (!handshake) return Response.json({ detail: "Bad conversation handshake" }, { status: 400 });
    const scope = this.scopeOf(handshake);
    this.claim(scope);
    const author = await this.authorOf(handshake.userId);
    if (!author) return Response.json({ detail: "User not found" }, { status: 403 });

    const response = await this.enqueueTask(() => this.join(handshake, scope, author));
    // Awaited so that a client asking "who is online" right after connecting sees itself; a store
    // failure is logged and never refuses the socket.
    await this.keepOnline([handshake.userId], Date.now());
    if (response.status === 101) await this.registerWithFeed(handshake.userId, scope);
    return response;
  }

  /**
   * On a user's first socket here, tells the user's notification feed that this object holds
   * sockets of theirs, so that a revoked session's sockets here are closed the moment it is
   * revoked (NotificationFeed.closeSessions). Outside the queue: it must not hold up messages.
   * A failure is logged; such a socket still closes when its token expires.
   */
  private async registerWithFeed(userId: number, scope: S): Promise<void> {
    if (openLeasedSockets<Member<S>>(this.ctx, userTag(userId)).length !== 1) return;
    try {
      const feed = this.env.NOTIFICATION_FEED;
      await feed
        .get(feed.idFromName(feedName(userId)))
        .trackRoom({ kind: this.kind === "thread" ? "thread" : "channel", name: this.nameOf(scope) });
    } catch (error) {
      this.log.warn("could not register the socket with the user's feed", { user_id: userId, err: error });
    }
  }

  private parseHandshake(raw: string | null): ConversationHandshake<S> | null {
    if (!raw) return null;
    try {
      const value = JSON.parse(raw) as Record<string, unknown>;
      if (!Number.isSafeInteger(value.userId) || !Number.isFinite(value.expiresAtSeconds)) return null;
      if (value.since !== null && value.since !== undefined && !Number.isSafeInteger(value.since))
        return null;
      const scope = this.parseScope(value);
      if (!scope) return null;
      const base: HandshakeBase = {
        userId: value.userId as number,
        sessionId: typeof value.sessionId === "string" ? value.sessionId : null,
        expiresAtSeconds: value.expiresAtSeconds as number,
        protocol: typeof value.protocol === "string" ? value.protocol : null,
        since: (value.since as number | null | undefined) ?? null,
      };
      return { ...base, ...scope };
    } catch {
      return null;
    }
  }

  /** A queue step: catch-up and acceptance are one step, so no write falls between them. */
  private async join(handshake: ConversationHandshake<S>, scope: S, author: Author): Promise<Response> {
    // Read before accepting: a failing query refuses the handshake rather than leaving a socket
    // that silently missed messages. One more than the cap tells "too many" from "exactly the cap".
    const missed =
      handshake.since === null ? null : await this.loadSince(scope, handshake.since, CATCH_UP_MAX + 1);

    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server, [userTag(handshake.userId)]);
    const now = Date.now();
    const member = {
      ...scope,
      userId: handshake.userId,
      sessionId: handshake.sessionId,
      expiresAt: handshake.expiresAtSeconds * 1000,
      lastSeenAt: now,
      displayName: author.displayName,
    } as Member<S>;
    server.serializeAttachment(member);
    recordSocketOpen(this.log, {
      endpoint: this.endpoint,
      userId: handshake.userId,
      ws: server,
      fields: { [this.kind === "thread" ? "thread" : "channel"]: this.nameOf(scope) },
    });

    // Frames sent before the 101 is returned are queued and delivered right after it.
    if (missed && handshake.since !== null) {
      if (missed.length > CATCH_UP_MAX) {
        this.sendTo(server, {
          type: "resync",
          payload: {
            reason: "too_many_missed",
            since: handshake.since,
            max_catch_up: CATCH_UP_MAX,
            detail: "More messages were missed than a reconnect replays; re-fetch them through REST",
          },
        });
      } else {
        const clientIds = this.clientIdsAfter(handshake.since);
        for (const message of missed) {
          this.sendTo(server, {
            type: "message",
            payload: this.messagePayload(message, scope, clientIds.get(message.id) ?? null),
          });
        }
      }
    }
    this.announceJoin(member, server);
    await this.scheduleCheckFor(member, now);

    const headers = new Headers();
    if (handshake.protocol) headers.set("Sec-WebSocket-Protocol", handshake.protocol);
    return new Response(null, { status: 101, webSocket: client, headers });
  }

  // -------------------------------------------------------------------------------------------
  // RPC from the Worker
  // -------------------------------------------------------------------------------------------

  /** Stores and broadcasts a message (REST). The caller has checked access to the conversation. */
  async post(input: PostInput<S>): Promise<PostResult<M>> {
    return this.submitPost(input, null);
  }

  /** The users holding a socket here right now, by user id. */
  presence(): PresentUser[] {
    const users = new Map<number, PresentUser>();
    for (const { lease } of openLeasedSockets<Member<S>>(this.ctx)) {
      users.set(lease.userId, { user_id: lease.userId, display_name: lease.displayName });
    }
    return [...users.values()].sort((a, b) => a.user_id - b.user_id);
  }

  /**
   * Closes a user's sockets here (1008), for when they lose access to the conversation. Returns
   * how many were closed.
   */
  disconnectUser(userId: number, reason = "Access revoked"): number {
    const sockets = openLeasedSockets<Member<S>>(this.ctx, userTag(userId));
    for (const { ws } of sockets) closeQuietly(ws, CLOSE_POLICY_VIOLATION, reason);
    if (sockets.length > 0) this.lastSocketGone(userId);
    return sockets.length;
  }

  /**
   * Closes the user's sockets of these revoked sessions (1008); called by the user's feed right
   * after the revocation. Answers how many were closed and how many sockets the user still holds
   * here, so the feed can forget this object when none are left.
   */
  closeSessions(userId: number, sessionIds: string[]): { closed: number; remaining: number } {
    const revoked = new Set(sessionIds);
    const sockets = openLeasedSockets<Member<S>>(this.ctx, userTag(userId));
    let closed = 0;
    for (const { ws, lease } of sockets) {
      if (lease.sessionId !== null && revoked.has(lease.sessionId)) {
        closeQuietly(ws, CLOSE_POLICY_VIOLATION, "Session revoked");
        closed++;
      }
    }
    const remaining = sockets.length - closed;
    if (closed > 0 && remaining === 0) this.lastSocketGone(userId);
    return { closed, remaining };
  }

  /** Closes every socket here (1008), for a deleted conversation. Returns how many were closed. */
  disconnectAll(reason = "Conversation closed"): number {
    const sockets = openLeasedSockets<Member<S>>(this.ctx);
    for (const { ws } of sockets) closeQuietly(ws, CLOSE_POLICY_VIOLATION, reason);
    for (const userId of new Set(sockets.map((s) => s.lease.userId))) this.lastSocketGone(userId);
    return sockets.length;
  }

  /** ENV=test only: which instance answers, and how many sockets it holds (eviction tests). */
  testProbe(): { instanceId: string; sockets: number } {
    if (this.config?.env !== "test") throw new Error("testProbe is for tests only");
    return { instanceId: this.instanceId, sockets: this.ctx.getWebSockets().filter(isOpen).length };
  }

  /**
   * Runs a change of one message (an edit, a delete) as a queue step, and broadcasts the changed
   * message as `eventType` when it succeeded, so the event follows the message it changes.
   */
  protected runChange(
    scope: S,
    eventType: string,
    change: () => Promise<ChangeOutcome<M>>,
  ): Promise<ChangeOutcome<M>> {
    this.claim(scope);
    return this.enqueueTask(async () => {
      const outcome = await change();
      if (outcome.kind === "ok") {
        this.broadcast({ type: eventType, payload: this.messagePayload(outcome.message, scope, null) });
      }
      return outcome;
    });
  }

  // -------------------------------------------------------------------------------------------
  // Socket events
  // -------------------------------------------------------------------------------------------

  /** Every frame but the exact ping (answered by the runtime). Never throws (D21). */
  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const member = leaseOf<Member<S>>(ws);
    if (!member) {
      closeQuietly(ws, CLOSE_INTERNAL_ERROR, "Lost connection state");
      return;
    }
    const now = Date.now();
    if (member.expiresAt <= now) {
      closeQuietly(ws, CLOSE_POLICY_VIOLATION, "Token expired");
      return;
    }
    member.lastSeenAt = now;
    ws.serializeAttachment(member);

    try {
      await this.handleFrame(ws, member, message);
    } catch (error) {
      this.log.error(`${this.kind} socket frame failed`, { err: error, user_id: member.userId });
      this.sendError(ws, "internal_error", "The frame could not be processed");
    }
  }

  private async handleFrame(ws: WebSocket, member: Member<S>, message: string | ArrayBuffer): Promise<void> {
    if (typeof message !== "string") {
      this.sendError(ws, "invalid_frame", "Binary frames are not supported");
      return;
    }
    let frame: unknown;
    try {
      frame = JSON.parse(message);
    } catch {
      this.sendError(ws, "invalid_json", "Frames must be JSON objects");
      return;
    }
    if (frame === null || typeof frame !== "object" || Array.isArray(frame)) {
      this.sendError(ws, "invalid_frame", "Frames must be JSON objects");
      return;
    }
    const fields = frame as Record<string, unknown>;
    switch (fields.type) {
      case "ping":
        return;
      case "message":
        return this.handleMessageFrame(ws, member, fields);
      case "typing":
        return this.handleTypingFrame(ws, member, fields);
      case "read":
        return this.handleReadFrame(ws, member, fields);
      default:
        this.sendError(ws, "unknown_type", "Unknown frame type", {
          frame_type: typeof fields.type === "string" ? fields.type.slice(0, 64) : null,
        });
    }
  }

  private async handleMessageFrame(ws: WebSocket, member: Member<S>, fields: Record<string, unknown>) {
    const clientId = normaliseClientId(fields.client_id);
    if (!clientId.ok) {
      this.sendError(ws, "invalid_field", "client_id must be a string of at most 128 characters", {
        field: "client_id",
      });
      return;
    }
    const echo = { client_id: clientId.clientId };
    const problem = contentProblem(fields.content);
    if (problem) {
      this.sendError(ws, "invalid_content", problem, { field: "content", ...echo });
      return;
    }
    const input = {
      ...this.scopeOf(member),
      userId: member.userId,
      content: fields.content as string,
      clientId: clientId.clientId,
    } as PostInput<S>;
    const result = await this.submitPost(input, ws);
    if (result.kind === "rate_limited") this.sendError(ws, "rate_limited", refusalDetail(result.rate), echo);
    else if (result.kind === "gone") {
      this.sendError(ws, "not_found", "Not Found", echo);
      closeQuietly(ws, CLOSE_POLICY_VIOLATION, `${capitalise(this.kind)} deleted`);
    } else if (result.kind === "refused") {
      this.sendError(ws, result.status === 404 ? "not_found" : "forbidden", result.detail, echo);
      if (result.closeSocket) closeQuietly(ws, CLOSE_POLICY_VIOLATION, result.detail);
    }
  }

  private handleTypingFrame(ws: WebSocket, member: Member<S>, fields: Record<string, unknown>) {
    // D21: a real boolean; the original read "false" as typing.
    const isTyping = fields.is_typing === undefined ? true : fields.is_typing;
    if (typeof isTyping !== "boolean") {
      this.sendError(ws, "invalid_field", "is_typing must be a boolean", { field: "is_typing" });
      return;
    }
    this.broadcast({
      type: "typing",
      payload: { user_id: member.userId, display_name: member.displayName, is_typing: isTyping },
    });
  }

  /**
   * The message id of a `read` frame (numeric strings accepted, as the original did), or null after
   * answering the frame with an error event.
   */
  protected readFrameId(ws: WebSocket, fields: Record<string, unknown>, minimum: 0 | 1): number | null {
    const raw = fields.last_read_message_id;
    const id = typeof raw === "string" && /^\s*\d+\s*$/.test(raw) ? Number(raw) : raw;
    if (typeof id !== "number" || !Number.isSafeInteger(id) || id < minimum || id > MAX_ROW_ID) {
      const what = minimum === 0 ? "a non-negative" : "a positive";
      this.sendError(ws, "invalid_field", `last_read_message_id must be ${what} integer`, {
        field: "last_read_message_id",
      });
      return null;
    }
    return id;
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    // With web_socket_auto_reply_to_close (compatibility date 2026-04-07 and later) the runtime
    // has already answered the close; answering again is harmless and keeps older dates correct.
    closeQuietly(ws, code === 1005 || code === 1006 ? CLOSE_NORMAL : code, reason);
    const member = leaseOf<Member<S>>(ws);
    if (member) {
      recordSocketClose(this.log, { endpoint: this.endpoint, userId: member.userId, ws, code, reason });
      this.leaveIfGone(member.userId);
    }
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    this.log.warn(`${this.kind} socket error`, { err: error });
    closeQuietly(ws, CLOSE_INTERNAL_ERROR, "Socket error");
    const member = leaseOf<Member<S>>(ws);
    if (member) {
      recordSocketClose(this.log, { endpoint: this.endpoint, userId: member.userId, ws, code: 1011 });
      this.leaveIfGone(member.userId);
    }
  }

  /** The socket endpoint this object serves, for logs and metrics. */
  private get endpoint(): SocketEndpoint {
    return this.kind === "thread" ? "dm" : "chat";
  }

  /** The liveness rules (socket-liveness.ts), the online keys, housekeeping; then the next deadline. */
  override async alarm(): Promise<void> {
    const now = Date.now();
    const before = openLeasedSockets<Member<S>>(this.ctx);
    let kept: LeasedSocket<Member<S>>[] = before;
    try {
      kept = closeLapsed(this.ctx, before, now);
      kept = await closeRevoked(
        (ids) => revokedSessions(this.db, ids, SESSION_RECHECK_SECONDS),
        kept,
        this.log,
      );
      const present = new Set(kept.map((s) => s.lease.userId));
      for (const userId of new Set(before.map((s) => s.lease.userId))) {
        if (!present.has(userId)) this.leaveIfGone(userId);
      }
      for (const id of [...this.onlineWrittenAt.keys()])
        if (!present.has(id)) this.onlineWrittenAt.delete(id);
      this.pruneClientIds(now);
      await this.keepOnline([...present], now);
    } finally {
      const next = nextCheckAt(this.ctx, openLeasedSockets<Member<S>>(this.ctx), Date.now());
      if (next === null) await this.ctx.storage.deleteAlarm();
      else await this.ctx.storage.setAlarm(next);
    }
  }

  // -------------------------------------------------------------------------------------------
  // The write queue
  // -------------------------------------------------------------------------------------------

  private async submitPost(input: PostInput<S>, origin: WebSocket | null): Promise<PostResult<M>> {
    this.claim(this.scopeOf(input));
    // A retry of a stored post is answered at once and costs no rate: it writes nothing. (A retry
    // racing its first attempt is caught again inside the batch.)
    if (input.clientId) {
      const stored = this.storedClientMessage(input.userId, input.clientId, Date.now());
      if (stored !== null) {
        return this.enqueueTask(() => this.replay(input, stored, origin));
      }
    }
    return new Promise<PostResult<M>>((resolve, reject) => {
      this.queue.push({ kind: "post", input, origin, resolve, reject });
      this.pump();
    });
  }

  /** Runs `work` as one step of the queue (see the module comment); resolves with its result. */
  protected enqueueTask<T>(work: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ kind: "task", run: () => work().then(resolve, reject) });
      this.pump();
    });
  }

  private pump() {
    if (this.draining) return;
    this.draining = true;
    void this.drain();
  }

  /** The one loop that runs queued steps, one at a time, consecutive posts as one batch. */
  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const head = this.queue[0] as QueuedPost<S, M> | QueuedTask;
        if (head.kind === "task") {
          this.queue.shift();
          await head.run();
          continue;
        }
        let count = 0;
        while (count < this.queue.length && count < BATCH_MAX && this.queue[count]?.kind === "post") count++;
        const batch = this.queue.splice(0, count) as QueuedPost<S, M>[];
        await this.writeBatch(batch);
      }
    } finally {
      this.draining = false;
    }
  }

  /**
   * Stores a batch of posts and broadcasts them in id order. Never throws: each post's own failure
   * goes to its own caller.
   */
  private async writeBatch(batch: QueuedPost<S, M>[]): Promise<void> {
    const now = Date.now();
    const fresh: QueuedPost<S, M>[] = [];
    const sameBatch: { op: QueuedPost<S, M>; first: QueuedPost<S, M> }[] = [];
    const stored: { op: QueuedPost<S, M>; messageId: number }[] = [];
    const firstByKey = new Map<string, QueuedPost<S, M>>();
    for (const op of batch) {
      const { userId, clientId } = op.input;
      if (clientId) {
        const key = `${userId}:${clientId}`;
        const first = firstByKey.get(key);
        if (first) {
          sameBatch.push({ op, first });
          continue;
        }
        const messageId = this.storedClientMessage(userId, clientId, now);
        if (messageId !== null) {
          stored.push({ op, messageId });
          continue;
        }
        firstByKey.set(key, op);
      }
      fresh.push(op);
    }

    const outcomes = new Map<QueuedPost<S, M>, Outcome<M>>();
    const created: { op: QueuedPost<S, M>; message: M }[] = [];
    try {
      const permitted = await this.refuseOverLimit(fresh, outcomes);
      await Promise.all([...new Set(permitted.map((op) => op.input.userId))].map((id) => this.authorOf(id)));
      const writable = await this.refuseLostAccess(permitted, outcomes);
      // Issued together on the one connection: they run, take ids and commit in turn.
      const settled = await Promise.allSettled(writable.map((op) => this.insertMessage(op.input)));
      settled.forEach((result, index) => {
        const op = writable[index] as QueuedPost<S, M>;
        if (result.status === "rejected") {
          outcomes.set(op, foreignKeyViolation(result.reason) ? { kind: "gone" } : { error: result.reason });
          return;
        }
        const author = this.cachedAuthor(op.input.userId) ?? {
          id: op.input.userId,
          displayName: null,
          avatarUrl: null,
        };
        created.push({ op, message: { ...result.value, author } as unknown as M });
      });
      created.sort((a, b) => a.message.id - b.message.id);
      if (created.length > 0)
        metrics.messageStored(this.kind === "thread" ? "dm" : "channel", created.length);
      for (const { op, message } of created) {
        if (op.input.clientId) this.recordClientId(op.input.userId, op.input.clientId, message.id, now);
        this.broadcast({
          type: "message",
          payload: this.messagePayload(message, this.scopeOf(op.input), op.input.clientId),
        });
        outcomes.set(op, { kind: "created", message, clientId: op.input.clientId });
      }
    } catch (error) {
      for (const op of fresh) if (!outcomes.has(op)) outcomes.set(op, { error });
    }
    const sideEffects =
      created.length === 0
        ? Promise.resolve()
        : Promise.resolve()
            .then(() => this.afterBroadcast(created.map(({ op, message }) => ({ input: op.input, message }))))
            .catch((error) => this.log.error(`${this.kind}: after-broadcast step failed`, { err: error }));

    for (const op of fresh) {
      const outcome = outcomes.get(op) ?? { error: new Error("post was not written") };
      void sideEffects.then(() => settle(op, outcome));
    }
    for (const { op, first } of sameBatch) {
      const outcome = outcomes.get(first);
      if (outcome && "kind" in outcome && outcome.kind === "created") {
        this.answerReplay(op, outcome.message);
        const replayed: PostResult<M> = {
          kind: "replayed",
          message: outcome.message,
          clientId: op.input.clientId,
        };
        void sideEffects.then(() => op.resolve(replayed));
      } else settle(op, outcome ?? { error: new Error("post was not written") });
    }
    for (const { op, messageId } of stored) {
      try {
        op.resolve(await this.replay(op.input, messageId, op.origin));
      } catch (error) {
        op.reject(error);
      }
    }
    if (now - this.lastPruneAt > 60_000) this.pruneClientIds(now);
  }

  /**
   * The sender's message limit (D14), counted in the store for REST and socket posts alike
   * (@upstash/ratelimit, services/rate-limits.ts). Checked here, inside the queue, so that waiting
   * for the store never reorders a sender's posts; a batch's checks run together. A retry of a
   * stored client_id never gets here, so it costs nothing. A store that does not answer lets the
   * posts through (RATE_LIMIT_FAIL_OPEN) after a short timeout.
   */
  private async refuseOverLimit(
    ops: QueuedPost<S, M>[],
    outcomes: Map<QueuedPost<S, M>, Outcome<M>>,
  ): Promise<QueuedPost<S, M>[]> {
    const store = this.store;
    const config = this.config;
    if (!store || !config || ops.length === 0) return ops;
    const decisions = await Promise.all(
      ops.map((op) =>
        checkMessageRate(store, config, op.input.userId, this.messageScope(op.input), this.log),
      ),
    );
    return ops.filter((op, index) => {
      const rate = decisions[index] as RateDecision;
      if (!rate.allowed) outcomes.set(op, { kind: "rate_limited", rate });
      return rate.allowed;
    });
  }

  /**
   * Access as REST checks it, for the senders of socket posts, once per sender and batch: a member
   * who lost access stops writing at once, and a sender of many messages costs one check per
   * batch, not one per message. Checked here, in the write step, so no change of access can slip
   * between the check and the write. Returns the posts that may be written; the others get their
   * outcome.
   */
  private async refuseLostAccess(
    posts: QueuedPost<S, M>[],
    outcomes: Map<QueuedPost<S, M>, Outcome<M>>,
  ): Promise<QueuedPost<S, M>[]> {
    const first = posts.find((op) => op.origin);
    if (!first) return posts;
    const scope = this.scopeOf(first.input);
    const senders = [...new Set(posts.filter((op) => op.origin).map((op) => op.input.userId))];
    const verdicts = new Map<number, Outcome<M> | null>();
    await Promise.all(
      senders.map(async (userId) => {
        try {
          const refusal = await this.senderRefusal(scope, userId);
          verdicts.set(userId, refusal ? { kind: "refused", ...refusal } : null);
        } catch (error) {
          verdicts.set(userId, { error });
        }
      }),
    );
    return posts.filter((op) => {
      const verdict = op.origin ? verdicts.get(op.input.userId) : null;
      if (verdict) outcomes.set(op, verdict);
      return !verdict;
    });
  }

  /** A post whose client_id already created a message: that message, as it is now. */
  private async replay(
    input: PostInput<S>,
    messageId: number,
    origin: WebSocket | null,
  ): Promise<PostResult<M>> {
    const message = await this.loadMessage(this.scopeOf(input), messageId);
    if (!message) return { kind: "gone" };
    this.answerReplay({ origin, input }, message);
    return { kind: "replayed", message, clientId: input.clientId };
  }

  /**
   * A socket that repeats a client_id gets the message once more, on that socket only: it is the
   * answer to its retry (its optimistic copy is replaced by client_id), not a new message for
   * anyone else. REST callers get it in the response instead.
   */
  private answerReplay(op: Pick<QueuedPost<S, M>, "origin" | "input">, message: M) {
    if (op.origin && isOpen(op.origin)) {
      this.sendTo(op.origin, {
        type: "message",
        payload: this.messagePayload(message, this.scopeOf(op.input), op.input.clientId),
      });
    }
  }

  // -------------------------------------------------------------------------------------------
  // client_id records (the object's SQLite storage)
  // -------------------------------------------------------------------------------------------

  private storedClientMessage(userId: number, clientId: string, now: number): number | null {
    const rows = this.ctx.storage.sql
      .exec<{ message_id: number; created_at: number }>(
        "SELECT message_id, created_at FROM client_ids WHERE user_id = ? AND client_id = ?",
        userId,
        clientId,
      )
      .toArray();
    const row = rows[0];
    return row && now - row.created_at < CLIENT_ID_TTL_MS ? row.message_id : null;
  }

  private recordClientId(userId: number, clientId: string, messageId: number, now: number) {
    this.ctx.storage.sql.exec(
      "INSERT OR REPLACE INTO client_ids (user_id, client_id, message_id, created_at) VALUES (?, ?, ?, ?)",
      userId,
      clientId,
      messageId,
      now,
    );
  }

  /** The client_ids of the messages after `sinceId`, so a catch-up echoes them like live delivery. */
  private clientIdsAfter(sinceId: number): Map<number, string> {
    const result = new Map<number, string>();
    const cursor = this.ctx.storage.sql.exec<{ message_id: number; client_id: string }>(
      "SELECT message_id, client_id FROM client_ids WHERE message_id > ?",
      sinceId,
    );
    for (const row of cursor) result.set(row.message_id, row.client_id);
    return result;
  }

  private pruneClientIds(now: number) {
    this.lastPruneAt = now;
    this.ctx.storage.sql.exec("DELETE FROM client_ids WHERE created_at < ?", now - CLIENT_ID_TTL_MS);
  }

  // -------------------------------------------------------------------------------------------
  // Sending, presence, online
  // -------------------------------------------------------------------------------------------

  /**
   * Sends one event to every open socket (or those of one tag). An event that cannot be encoded
   * is dropped and logged; a socket whose send fails is closed (its client reconnects and catches
   * up) and the others still get the frame (D4).
   */
  protected broadcast(event: ServerEvent, tag?: string): number {
    const frame = encodeFrame(event);
    if (frame === null) {
      this.log.error(`${this.kind} event could not be encoded; dropped`, { type: event.type });
      return 0;
    }
    const result = sendToAll(this.ctx.getWebSockets(tag).filter(isOpen), frame);
    for (const { socket, error } of result.failed) {
      this.log.warn(`${this.kind} send failed; closing that socket`, { type: event.type, err: error });
      closeQuietly(socket, CLOSE_INTERNAL_ERROR, "Send failed");
    }
    return result.delivered;
  }

  protected sendTo(ws: WebSocket, event: ServerEvent) {
    const frame = encodeFrame(event);
    if (frame === null) return;
    try {
      ws.send(frame);
    } catch (error) {
      this.log.warn(`${this.kind} send failed; closing that socket`, { type: event.type, err: error });
      closeQuietly(ws, CLOSE_INTERNAL_ERROR, "Send failed");
    }
  }

  protected sendError(ws: WebSocket, code: string, detail: string, extra: Record<string, unknown> = {}) {
    this.sendTo(ws, { type: "error", payload: { code, detail, ...extra } });
  }

  /** Whether the user has an open socket here. */
  protected hasOpenSocket(userId: number): boolean {
    return this.ctx.getWebSockets(userTag(userId)).some(isOpen);
  }

  /** A join is announced to the conversation, the new socket included (see announceEveryJoin). */
  private announceJoin(member: Member<S>, socket: WebSocket) {
    if (!this.announceEveryJoin()) {
      const others = this.ctx
        .getWebSockets(userTag(member.userId))
        .filter((ws) => ws !== socket && isOpen(ws));
      if (others.length > 0 && this.announced.get(member.userId) === true) return;
    }
    this.announced.set(member.userId, true);
    this.broadcast({
      type: "presence",
      payload: { user_id: member.userId, display_name: member.displayName, online: true },
    });
  }

  private leaveIfGone(userId: number) {
    if (!this.hasOpenSocket(userId)) this.lastSocketGone(userId);
  }

  /** Announces a user as gone, once, unless they have a socket here again. */
  protected announceLeave(userId: number) {
    if (this.hasOpenSocket(userId)) return;
    if (this.announced.get(userId) === false) return;
    this.announced.set(userId, false);
    this.broadcast({ type: "presence", payload: { user_id: userId, online: false } });
  }

  /**
   * Rewrites the online key of present users whose key was not written recently. A few writes at a
   * time: an object with a thousand users must not open a thousand requests to the store at once
   * (the store takes one command per request).
   */
  private async keepOnline(userIds: number[], now: number): Promise<void> {
    const store = this.store;
    if (!store) return;
    const due = userIds.filter((id) => now - (this.onlineWrittenAt.get(id) ?? 0) >= ONLINE_REFRESH_MS);
    const write = async (userId: number) => {
      try {
        await store.set(onlineKey(userId), "1", { ttlSeconds: ONLINE_TTL_SECONDS });
        this.onlineWrittenAt.set(userId, now);
      } catch (error) {
        this.log.warn("could not update the online key", { user_id: userId, err: error });
      }
    };
    for (let i = 0; i < due.length; i += ONLINE_WRITES_AT_ONCE) {
      await Promise.all(due.slice(i, i + ONLINE_WRITES_AT_ONCE).map(write));
    }
  }

  /** Moves the alarm earlier when a new socket's first deadline comes before it. */
  private async scheduleCheckFor(member: Member<S>, now: number) {
    const deadline = firstCheckAt(member, now);
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > deadline) await this.ctx.storage.setAlarm(deadline);
  }

  // -------------------------------------------------------------------------------------------
  // Authors, identity
  // -------------------------------------------------------------------------------------------

  private cachedAuthor(userId: number): Author | undefined {
    const entry = this.authors.get(userId);
    return entry && Date.now() - entry.at < AUTHOR_CACHE_MS ? entry.author : undefined;
  }

  protected async authorOf(userId: number): Promise<Author | undefined> {
    const cached = this.cachedAuthor(userId);
    if (cached) return cached;
    const author = await getAuthor(this.db, userId);
    if (author) {
      if (this.authors.size > 5000) this.authors.clear();
      this.authors.set(userId, { author, at: Date.now() });
    }
    return author;
  }

  /** Guards against a caller that names one conversation and reaches another's object. */
  protected claim(scope: S) {
    const name = this.nameOf(scope);
    this.claimed ??= name;
    if (this.claimed !== name) {
      throw new Error(`the ${this.kind} object of ${this.claimed} was asked to act for ${name}`);
    }
  }
}

function settle<S extends Scope, M>(op: QueuedPost<S, M>, outcome: Outcome<M>) {
  if ("error" in outcome) op.reject(outcome.error);
  else op.resolve(outcome);
}

const capitalise = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/** The named fields of `value` as a scope, or null when one is not a positive row id. */
export function pickScope<K extends string>(
  value: Record<string, unknown>,
  keys: readonly K[],
): Record<K, number> | null {
  const scope = {} as Record<K, number>;
  for (const key of keys) {
    const id = value[key];
    if (typeof id !== "number" || !Number.isSafeInteger(id) || id < 1 || id > MAX_ROW_ID) return null;
    scope[key] = id;
  }
  return scope;
}

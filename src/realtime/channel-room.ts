/**
 * ChannelRoom: one Durable Object per channel (named `channel:{id}`). It holds every open
 * `/ws/chat/{workspace_id}/{channel_id}` socket of the channel, and it is the channel's only
 * writer: posts (REST and socket alike), edits and deletes all come here, are stored in
 * PostgreSQL, and are then broadcast, in one order.
 *
 * Why one object per channel. The original kept sockets in a per-process dictionary, so a
 * message posted on one process never reached sockets held by another (D8), and two processes
 * writing the same channel could commit ids out of order. Every Worker instance that names
 * `channel:{id}` reaches the same single object, so "everyone in the channel" means everyone,
 * and a channel's writes form one sequence. One object per channel (rather than per workspace)
 * keeps each object's fan-out proportional to one conversation and lets busy channels live apart.
 *
 * Concurrency model. An object runs one event at a time (a handshake, a frame, an RPC, an alarm),
 * but an event that awaits something outside it (PostgreSQL, the store) lets others run in the
 * meantime; only storage calls hold other events back (input gates). So the ordering guarantees
 * are made explicit with one queue, drained by one loop, through which every write and every
 * catch-up passes:
 *
 *   - A post is stored, then broadcast, before the next queued step starts, so every subscriber
 *     receives the channel's messages in id order, each exactly once: a socket is in the
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
 *   - Edits and deletes are queue steps, so their events follow the messages they change.
 * Frames that write nothing (typing, pings, bad frames) and reads (presence) bypass the queue:
 * they need no order with respect to writes. Why not blockConcurrencyWhile: it would stall every
 * event (typing, presence, the alarm) behind each write, and reset the object on a slow query.
 *
 * Hibernation. Sockets are accepted with the hibernation API, so the runtime, not this object,
 * holds them: the object may be evicted between events and re-created when a frame, an RPC or its
 * alarm arrives, with the sockets still open. Everything a socket needs after such a wake-up lives
 * in its attachment (user, display name, session, token expiry, last frame); which `client_id`
 * created which message lives in the object's own SQLite storage, because it must outlive the
 * object for a day. Every field of the class is a cache or a counter that may be lost: the post
 * rate windows (eviction needs 10 s without events, by which time every window has ended; a
 * restart forgets at most one), authors, the presence state last announced. No timers run in
 * memory: every deadline is the single storage alarm, which survives eviction. The PostgreSQL
 * connection closes itself after a few idle seconds (db/client.ts): an open connection, and
 * the driver's timers, would otherwise keep the object from ever being evicted.
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
 * learned by polling the store every SESSION_RECHECK_MS while sockets with a session are open, so
 * such a room stays resident rather than hibernating; see the report of this change for pushing
 * revocations instead.
 *
 * Compression is not this object's to decide: workerd negotiates permessage-deflate whenever the
 * client offers it (browsers always do) unless the Worker's compatibility flags include
 * `no_web_socket_compression`; an empty `Sec-WebSocket-Extensions` on the 101 is ignored (see
 * notification-feed.ts). For this object the flag matters most: a broadcast goes to every
 * subscriber, and with deflate each socket compresses it again with its own zlib context, held for
 * the socket's whole life, to save a little on frames of a few hundred bytes.
 *
 * Presence (contract 2.7, 3.3; D15). GET /channels/{id}/presence asks this object, which answers
 * from the sockets actually open, so a crash or an eviction cannot leave anyone "present". Joins
 * and leaves are announced to the room as `presence` events when a user's first socket opens and
 * their last one closes. While a user has a socket here, the object also keeps the user's
 * `online:user:{id}` key alive (with the TTL the notification feed uses); it never deletes it, so
 * it cannot mark offline a user whose other sockets are elsewhere, and the TTL ends it.
 */
import { DurableObject } from "cloudflare:workers";
import { type Config, loadConfig } from "../config";
import { createDatabase, type Database } from "../db/client";
import { foreignKeyViolation } from "../db/errors";
import type { Env } from "../env";
import { AppError } from "../errors";
import { createLogger, type Logger } from "../log";
import { toMessageEvent, toReadState } from "../presenters/messages";
import { requireChannelAccess } from "../services/access";
import {
  type Author,
  type ChangeOutcome,
  CLIENT_ID_TTL_MS,
  contentProblem,
  deleteMessage,
  editMessage,
  FixedWindowLimiter,
  getAuthor,
  getMessage,
  insertMessage,
  type MessageView,
  markChannelRead,
  messagesSince,
  normaliseClientId,
  POST_WINDOW_MS,
} from "../services/messages";
import { createStore } from "../store";
import type { KeyValueStore } from "../store/store";
import { encodeFrame, type ServerEvent, sendToAll } from "./fan-out";
import { ONLINE_TTL_SECONDS, onlineKey } from "./notification-feed";
import {
  CLOSE_INTERNAL_ERROR,
  CLOSE_NORMAL,
  CLOSE_POLICY_VIOLATION,
  closeLapsed,
  closeQuietly,
  closeRevoked,
  IDLE_TIMEOUT_MS,
  isOpen,
  type LeasedSocket,
  leaseOf,
  nextCheckAt,
  openLeasedSockets,
  SESSION_RECHECK_MS,
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

/** The internal header that carries an authenticated connection from the Worker to the object. */
const CONNECTION_HEADER = "X-Room-Connection";

export const roomName = (channelId: number) => `channel:${channelId}`;
const userTag = (userId: number) => `u:${userId}`;

/** The object of a channel, for RPC. */
export function channelRoom(namespace: Env["CHANNEL_ROOM"], channelId: number) {
  return namespace.get(namespace.idFromName(roomName(channelId)));
}

/** Closes every chat socket of these channels, for when they are deleted. Best effort, like below. */
export async function closeChannelRooms(
  namespace: Env["CHANNEL_ROOM"],
  channelIds: readonly number[],
  log: Logger,
): Promise<void> {
  await Promise.all(
    channelIds.map(async (channelId) => {
      try {
        await channelRoom(namespace, channelId).disconnectAll();
      } catch (error) {
        log.warn("could not close a deleted channel's sockets", { channel_id: channelId, err: error });
      }
    }),
  );
}

/**
 * Closes a user's chat sockets in these channels (1008), for when they lose access: removed from
 * the channels or from their workspace. Best effort: a room that cannot be reached is logged, and
 * its sockets stop writing anyway (every socket post re-checks access).
 */
export async function disconnectUserFromChannels(
  namespace: Env["CHANNEL_ROOM"],
  channelIds: readonly number[],
  userId: number,
  log: Logger,
  reason = "Access revoked",
): Promise<void> {
  await Promise.all(
    channelIds.map(async (channelId) => {
      try {
        await channelRoom(namespace, channelId).disconnectUser(userId, reason);
      } catch (error) {
        log.warn("could not close a removed user's chat sockets", {
          channel_id: channelId,
          user_id: userId,
          err: error,
        });
      }
    }),
  );
}

/** What the Worker has established about a handshake before handing it to the object. */
export interface RoomHandshake {
  userId: number;
  sessionId: string | null;
  /** The token's `exp`, in seconds since the epoch. */
  expiresAtSeconds: number;
  /** The subprotocol to echo ("bearer" when the token came that way), or null. */
  protocol: string | null;
  workspaceId: number;
  channelId: number;
  /** The last message id the client has; null for no catch-up. */
  since: number | null;
}

/**
 * Hands an authenticated, authorised upgrade to the channel's object, which answers the 101. The
 * token itself stays in the Worker: the object only learns what it needs to enforce.
 */
export function openRoomSocket(namespace: Env["CHANNEL_ROOM"], handshake: RoomHandshake) {
  return channelRoom(namespace, handshake.channelId).fetch("https://channel-room/connect", {
    headers: { Upgrade: "websocket", [CONNECTION_HEADER]: JSON.stringify(handshake) },
  });
}

function parseHandshake(raw: string | null): RoomHandshake | null {
  if (!raw) return null;
  try {
    const value = JSON.parse(raw) as Partial<RoomHandshake>;
    const ints = [value.userId, value.workspaceId, value.channelId];
    if (!ints.every(Number.isSafeInteger) || !Number.isFinite(value.expiresAtSeconds)) return null;
    if (value.since !== null && !Number.isSafeInteger(value.since)) return null;
    return {
      userId: value.userId as number,
      sessionId: typeof value.sessionId === "string" ? value.sessionId : null,
      expiresAtSeconds: value.expiresAtSeconds as number,
      protocol: typeof value.protocol === "string" ? value.protocol : null,
      workspaceId: value.workspaceId as number,
      channelId: value.channelId as number,
      since: (value.since as number | null | undefined) ?? null,
    };
  } catch {
    return null;
  }
}

/** A socket's attachment: the liveness lease plus what its events need. Well under the 2 KB limit. */
interface Member extends SocketLease {
  workspaceId: number;
  channelId: number;
  displayName: string | null;
}

export interface PostInput {
  channelId: number;
  workspaceId: number;
  userId: number;
  content: string;
  clientId: string | null;
}

export type PostResult =
  | { kind: "created" | "replayed"; message: MessageView; clientId: string | null }
  | { kind: "rate_limited" }
  /** The channel was deleted while the post waited. */
  | { kind: "gone" }
  /** A socket's sender may no longer write here (REST callers are checked by the Worker). */
  | { kind: "refused"; status: number; detail: string };

export interface EditInput {
  channelId: number;
  workspaceId: number;
  messageId: number;
  userId: number;
  content: string;
}

export interface DeleteInput {
  channelId: number;
  workspaceId: number;
  messageId: number;
  userId: number;
  /** The caller is the workspace's owner or an admin. */
  moderator: boolean;
}

export interface PresentUser {
  user_id: number;
  display_name: string | null;
}

interface QueuedPost {
  kind: "post";
  input: PostInput;
  /** The socket that sent it, which alone gets the answer to a replayed client_id. */
  origin: WebSocket | null;
  resolve(result: PostResult): void;
  reject(error: unknown): void;
}

interface QueuedTask {
  kind: "task";
  run(): Promise<void>;
}

export class ChannelRoom extends DurableObject<Env> {
  private readonly config: Config | undefined;
  private readonly log: Logger;
  /** Distinguishes instances, so a test can tell that the object was evicted and re-created. */
  private readonly instanceId = crypto.randomUUID();
  private database: Database | undefined;
  private storeClient: KeyValueStore | undefined;
  private readonly limiter: FixedWindowLimiter;
  private readonly authors = new Map<number, { author: Author; at: number }>();
  /** What was last announced per user (true = present), so each join and leave is told once. */
  private readonly announced = new Map<number, boolean>();
  private readonly onlineWrittenAt = new Map<number, number>();
  private queue: (QueuedPost | QueuedTask)[] = [];
  private draining = false;
  private lastPruneAt = 0;
  /** The channel this object serves, learned from the first call that names it. */
  private channelId: number | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const result = loadConfig(env);
    this.config = result.ok ? result.config : undefined;
    this.log = createLogger(this.config?.logLevel ?? "info", { component: "channel-room" });
    this.limiter = new FixedWindowLimiter(this.config?.messagePostLimitPer10Seconds ?? 20, POST_WINDOW_MS);
    // Which client_id created which message, for a day (see recordClientId). Local SQLite: the
    // statements are synchronous and commit with the event, so no await splits a check from its write.
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

  private get db(): Database {
    if (!this.config) throw new Error("channel room: the settings are invalid");
    // Kept across events (inside an object a client is reused, about 1 ms a query), and one
    // connection is what makes a batch's statements commit in order. It closes itself when idle,
    // so that the object can hibernate (db/client.ts).
    this.database ??= createDatabase(this.config.database, { idleTimeoutSeconds: OBJECT_DB_IDLE_SECONDS });
    return this.database;
  }

  private get store(): KeyValueStore | undefined {
    if (!this.storeClient && this.config) this.storeClient = createStore(this.config.store);
    return this.storeClient;
  }

  // -------------------------------------------------------------------------------------------
  // Handshake
  // -------------------------------------------------------------------------------------------

  /** Accepts a socket the Worker has authenticated and authorised (see openRoomSocket). */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return Response.json({ detail: "Expected a WebSocket upgrade" }, { status: 426 });
    }
    const handshake = parseHandshake(request.headers.get(CONNECTION_HEADER));
    if (!handshake) return Response.json({ detail: "Bad room handshake" }, { status: 400 });
    this.claimChannel(handshake.channelId);
    const author = await this.authorOf(handshake.userId);
    if (!author) return Response.json({ detail: "User not found" }, { status: 403 });

    const response = await this.enqueueTask(() => this.join(handshake, author));
    // Awaited so that a client asking "who is online" right after connecting sees itself; a store
    // failure is logged and never refuses the socket.
    await this.keepOnline([handshake.userId], Date.now());
    return response;
  }

  /** A queue step: catch-up and acceptance are one step, so no write falls between them. */
  private async join(handshake: RoomHandshake, author: Author): Promise<Response> {
    // Read before accepting: a failing query refuses the handshake rather than leaving a socket
    // that silently missed messages. One more than the cap tells "too many" from "exactly the cap".
    const missed =
      handshake.since === null
        ? null
        : await messagesSince(this.db, handshake.channelId, handshake.since, CATCH_UP_MAX + 1);

    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server, [userTag(handshake.userId)]);
    const now = Date.now();
    const member: Member = {
      userId: handshake.userId,
      sessionId: handshake.sessionId,
      expiresAt: handshake.expiresAtSeconds * 1000,
      lastSeenAt: now,
      workspaceId: handshake.workspaceId,
      channelId: handshake.channelId,
      displayName: author.displayName,
    };
    server.serializeAttachment(member);

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
            payload: toMessageEvent(message, handshake.workspaceId, clientIds.get(message.id) ?? null),
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
  // RPC from the Worker (routes/messages.ts)
  // -------------------------------------------------------------------------------------------

  /** Stores and broadcasts a message (REST). The caller has checked access to the channel. */
  async post(input: PostInput): Promise<PostResult> {
    return this.submitPost(input, null);
  }

  /** Edits a message and broadcasts `message.updated`. */
  async edit(input: EditInput): Promise<ChangeOutcome> {
    this.claimChannel(input.channelId);
    return this.enqueueTask(async () => {
      const outcome = await editMessage(this.db, input);
      if (outcome.kind === "ok") {
        this.broadcast({
          type: "message.updated",
          payload: toMessageEvent(outcome.message, input.workspaceId),
        });
      }
      return outcome;
    });
  }

  /** Soft-deletes a message and broadcasts `message.deleted` (without its content). */
  async remove(input: DeleteInput): Promise<ChangeOutcome> {
    this.claimChannel(input.channelId);
    return this.enqueueTask(async () => {
      const outcome = await deleteMessage(this.db, input);
      if (outcome.kind === "ok") {
        this.broadcast({
          type: "message.deleted",
          payload: toMessageEvent(outcome.message, input.workspaceId),
        });
      }
      return outcome;
    });
  }

  /** The users holding a socket here right now, by user id (GET /channels/{id}/presence). */
  presence(): PresentUser[] {
    const users = new Map<number, PresentUser>();
    for (const { lease } of openLeasedSockets<Member>(this.ctx)) {
      users.set(lease.userId, { user_id: lease.userId, display_name: lease.displayName });
    }
    return [...users.values()].sort((a, b) => a.user_id - b.user_id);
  }

  /**
   * Closes a user's sockets here (1008), for when they lose access to the channel: removed from
   * it or from its workspace. Returns how many were closed.
   */
  disconnectUser(userId: number, reason = "Access revoked"): number {
    const sockets = openLeasedSockets<Member>(this.ctx, userTag(userId));
    for (const { ws } of sockets) closeQuietly(ws, CLOSE_POLICY_VIOLATION, reason);
    if (sockets.length > 0) this.announceLeaveIfGone(userId);
    return sockets.length;
  }

  /** Closes every socket here (1008), for a deleted channel. Returns how many were closed. */
  disconnectAll(reason = "Channel deleted"): number {
    const sockets = openLeasedSockets<Member>(this.ctx);
    for (const { ws } of sockets) closeQuietly(ws, CLOSE_POLICY_VIOLATION, reason);
    for (const userId of new Set(sockets.map((s) => s.lease.userId))) this.announceLeaveIfGone(userId);
    return sockets.length;
  }

  /** ENV=test only: which instance answers, and how many sockets it holds (eviction tests). */
  testProbe(): { instanceId: string; sockets: number } {
    if (this.config?.env !== "test") throw new Error("testProbe is for tests only");
    return { instanceId: this.instanceId, sockets: this.ctx.getWebSockets().filter(isOpen).length };
  }

  // -------------------------------------------------------------------------------------------
  // Socket events
  // -------------------------------------------------------------------------------------------

  /**
   * Every frame but the exact ping (answered by the runtime). Bad frames are answered with an
   * `error` event and change nothing; nothing a client sends can throw out of here (D21).
   */
  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const member = leaseOf<Member>(ws);
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
      this.log.error("channel socket frame failed", { err: error, user_id: member.userId });
      this.sendError(ws, "internal_error", "The frame could not be processed");
    }
  }

  private async handleFrame(ws: WebSocket, member: Member, message: string | ArrayBuffer): Promise<void> {
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

  private async handleMessageFrame(ws: WebSocket, member: Member, fields: Record<string, unknown>) {
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
    const result = await this.submitPost(
      {
        channelId: member.channelId,
        workspaceId: member.workspaceId,
        userId: member.userId,
        content: fields.content as string,
        clientId: clientId.clientId,
      },
      ws,
    );
    if (result.kind === "rate_limited") this.sendError(ws, "rate_limited", "Too many requests", echo);
    else if (result.kind === "gone") {
      this.sendError(ws, "not_found", "Not Found", echo);
      closeQuietly(ws, CLOSE_POLICY_VIOLATION, "Channel deleted");
    } else if (result.kind === "refused") {
      this.sendError(ws, result.status === 404 ? "not_found" : "forbidden", result.detail, echo);
      // Lost access (not merely an archived channel): this socket may not read either.
      if (result.detail !== "Channel is archived") closeQuietly(ws, CLOSE_POLICY_VIOLATION, result.detail);
    }
  }

  private handleTypingFrame(ws: WebSocket, member: Member, fields: Record<string, unknown>) {
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

  /** Additive: `{"type":"read","last_read_message_id":n}` moves the read pointer, as POST .../read does. */
  private async handleReadFrame(ws: WebSocket, member: Member, fields: Record<string, unknown>) {
    const raw = fields.last_read_message_id;
    const id = typeof raw === "string" && /^\s*\d+\s*$/.test(raw) ? Number(raw) : raw;
    if (typeof id !== "number" || !Number.isSafeInteger(id) || id < 0 || id > 2_147_483_647) {
      this.sendError(ws, "invalid_field", "last_read_message_id must be a non-negative integer", {
        field: "last_read_message_id",
      });
      return;
    }
    const state = await markChannelRead(this.db, member.userId, member.channelId, id);
    // The user's other tabs in this channel learn it too.
    const frame = encodeFrame({ type: "read", payload: { user_id: member.userId, ...toReadState(state) } });
    if (frame)
      sendToAll(
        openLeasedSockets<Member>(this.ctx, userTag(member.userId)).map((s) => s.ws),
        frame,
      );
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    // With web_socket_auto_reply_to_close (compatibility date 2026-04-07 and later) the runtime
    // has already answered the close; answering again is harmless and keeps older dates correct.
    closeQuietly(ws, code === 1005 || code === 1006 ? CLOSE_NORMAL : code, reason);
    const member = leaseOf<Member>(ws);
    if (member) this.announceLeaveIfGone(member.userId);
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    this.log.warn("channel socket error", { err: error });
    closeQuietly(ws, CLOSE_INTERNAL_ERROR, "Socket error");
    const member = leaseOf<Member>(ws);
    if (member) this.announceLeaveIfGone(member.userId);
  }

  /** The liveness rules (socket-liveness.ts), the online keys, housekeeping; then the next deadline. */
  override async alarm(): Promise<void> {
    const now = Date.now();
    const before = openLeasedSockets<Member>(this.ctx);
    let kept: LeasedSocket<Member>[] = before;
    try {
      kept = closeLapsed(this.ctx, before, now);
      kept = await closeRevoked(this.store, kept, this.log);
      const present = new Set(kept.map((s) => s.lease.userId));
      for (const { lease } of before) if (!present.has(lease.userId)) this.announceLeaveIfGone(lease.userId);
      for (const id of [...this.onlineWrittenAt.keys()])
        if (!present.has(id)) this.onlineWrittenAt.delete(id);
      this.pruneClientIds(now);
      await this.keepOnline([...present], now);
    } finally {
      const next = nextCheckAt(this.ctx, openLeasedSockets<Member>(this.ctx), Date.now());
      if (next === null) await this.ctx.storage.deleteAlarm();
      else await this.ctx.storage.setAlarm(next);
    }
  }

  // -------------------------------------------------------------------------------------------
  // The write queue
  // -------------------------------------------------------------------------------------------

  private async submitPost(input: PostInput, origin: WebSocket | null): Promise<PostResult> {
    this.claimChannel(input.channelId);
    // A retry of a stored post is answered at once and costs no rate: it writes nothing. (A retry
    // racing its first attempt is caught again inside the batch.)
    if (input.clientId) {
      const stored = this.storedClientMessage(input.userId, input.clientId, Date.now());
      if (stored !== null) {
        return this.enqueueTask(() => this.replay(input, stored, origin));
      }
    }
    if (!this.limiter.hit(input.userId)) return { kind: "rate_limited" };
    return new Promise<PostResult>((resolve, reject) => {
      this.queue.push({ kind: "post", input, origin, resolve, reject });
      this.pump();
    });
  }

  private enqueueTask<T>(work: () => Promise<T>): Promise<T> {
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
        const head = this.queue[0] as QueuedPost | QueuedTask;
        if (head.kind === "task") {
          this.queue.shift();
          await head.run();
          continue;
        }
        let count = 0;
        while (count < this.queue.length && count < BATCH_MAX && this.queue[count]?.kind === "post") count++;
        const batch = this.queue.splice(0, count) as QueuedPost[];
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
  private async writeBatch(batch: QueuedPost[]): Promise<void> {
    const now = Date.now();
    const fresh: QueuedPost[] = [];
    const sameBatch: { op: QueuedPost; first: QueuedPost }[] = [];
    const stored: { op: QueuedPost; messageId: number }[] = [];
    const firstByKey = new Map<string, QueuedPost>();
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

    const outcomes = new Map<QueuedPost, PostResult | { error: unknown }>();
    try {
      await Promise.all([...new Set(fresh.map((op) => op.input.userId))].map((id) => this.authorOf(id)));
      const writable = await this.refuseLostAccess(fresh, outcomes);
      // Issued together on the one connection: they run, take ids and commit in turn.
      const settled = await Promise.allSettled(writable.map((op) => insertMessage(this.db, op.input)));
      const created: { op: QueuedPost; message: MessageView }[] = [];
      settled.forEach((result, index) => {
        const op = writable[index] as QueuedPost;
        if (result.status === "rejected") {
          outcomes.set(op, foreignKeyViolation(result.reason) ? { kind: "gone" } : { error: result.reason });
          return;
        }
        const author = this.cachedAuthor(op.input.userId) ?? {
          id: op.input.userId,
          displayName: null,
          avatarUrl: null,
        };
        created.push({ op, message: { ...result.value, author } });
      });
      created.sort((a, b) => a.message.id - b.message.id);
      for (const { op, message } of created) {
        if (op.input.clientId) this.recordClientId(op.input.userId, op.input.clientId, message.id, now);
        this.broadcast({
          type: "message",
          payload: toMessageEvent(message, op.input.workspaceId, op.input.clientId),
        });
        outcomes.set(op, { kind: "created", message, clientId: op.input.clientId });
      }
    } catch (error) {
      for (const op of fresh) if (!outcomes.has(op)) outcomes.set(op, { error });
    }

    for (const op of fresh) settle(op, outcomes.get(op) ?? { error: new Error("post was not written") });
    for (const { op, first } of sameBatch) {
      const outcome = outcomes.get(first);
      if (outcome && "kind" in outcome && outcome.kind === "created") {
        this.answerReplay(op, outcome.message);
        op.resolve({ kind: "replayed", message: outcome.message, clientId: op.input.clientId });
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
   * Access as REST checks it, for the senders of socket posts, once per sender and batch: a member
   * removed from the channel or its workspace, or an archived channel, stops writing at once, and
   * a sender of many messages costs one query per batch, not one per message. Checked here, in the
   * write step, so no change of access can slip between the check and the write. Returns the posts
   * that may be written; the others get their outcome.
   */
  private async refuseLostAccess(
    posts: QueuedPost[],
    outcomes: Map<QueuedPost, PostResult | { error: unknown }>,
  ): Promise<QueuedPost[]> {
    const senders = [...new Set(posts.filter((op) => op.origin).map((op) => op.input.userId))];
    if (senders.length === 0) return posts;
    const channelId = posts[0]?.input.channelId as number;
    const verdicts = new Map<number, PostResult | { error: unknown } | null>();
    await Promise.all(
      senders.map(async (userId) => {
        try {
          await requireChannelAccess(this.db, channelId, userId, { write: true });
          verdicts.set(userId, null);
        } catch (error) {
          if (!(error instanceof AppError)) verdicts.set(userId, { error });
          else {
            const detail = typeof error.detail === "string" ? error.detail : "Forbidden";
            verdicts.set(userId, { kind: "refused", status: error.status, detail });
          }
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
  private async replay(input: PostInput, messageId: number, origin: WebSocket | null): Promise<PostResult> {
    const message = await getMessage(this.db, input.channelId, messageId);
    if (!message) return { kind: "gone" };
    this.answerReplay({ origin, input }, message);
    return { kind: "replayed", message, clientId: input.clientId };
  }

  /**
   * A socket that repeats a client_id gets the message once more, on that socket only: it is the
   * answer to its retry (its optimistic copy is replaced by client_id), not a new message for
   * anyone else. REST callers get it in the response instead.
   */
  private answerReplay(op: Pick<QueuedPost, "origin" | "input">, message: MessageView) {
    if (op.origin && isOpen(op.origin)) {
      this.sendTo(op.origin, {
        type: "message",
        payload: toMessageEvent(message, op.input.workspaceId, op.input.clientId),
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
   * Sends one event to every open socket. An event that cannot be encoded is dropped and logged;
   * a socket whose send fails is closed (its client reconnects and catches up) and the others
   * still get the frame (D4).
   */
  private broadcast(event: ServerEvent): number {
    const frame = encodeFrame(event);
    if (frame === null) {
      this.log.error("channel event could not be encoded; dropped", { type: event.type });
      return 0;
    }
    const result = sendToAll(this.ctx.getWebSockets().filter(isOpen), frame);
    for (const { socket, error } of result.failed) {
      this.log.warn("channel send failed; closing that socket", { type: event.type, err: error });
      closeQuietly(socket, CLOSE_INTERNAL_ERROR, "Send failed");
    }
    return result.delivered;
  }

  private sendTo(ws: WebSocket, event: ServerEvent) {
    const frame = encodeFrame(event);
    if (frame === null) return;
    try {
      ws.send(frame);
    } catch (error) {
      this.log.warn("channel send failed; closing that socket", { type: event.type, err: error });
      closeQuietly(ws, CLOSE_INTERNAL_ERROR, "Send failed");
    }
  }

  private sendError(ws: WebSocket, code: string, detail: string, extra: Record<string, unknown> = {}) {
    this.sendTo(ws, { type: "error", payload: { code, detail, ...extra } });
  }

  /** A user's first socket here is announced to the room, the new socket included. */
  private announceJoin(member: Member, socket: WebSocket) {
    const others = this.ctx.getWebSockets(userTag(member.userId)).filter((ws) => ws !== socket && isOpen(ws));
    if (others.length > 0 && this.announced.get(member.userId) === true) return;
    this.announced.set(member.userId, true);
    this.broadcast({
      type: "presence",
      payload: { user_id: member.userId, display_name: member.displayName, online: true },
    });
  }

  /** A user whose last socket here closed is announced as gone, once. */
  private announceLeaveIfGone(userId: number) {
    if (this.ctx.getWebSockets(userTag(userId)).some(isOpen)) return;
    if (this.announced.get(userId) === false) return;
    this.announced.set(userId, false);
    this.broadcast({ type: "presence", payload: { user_id: userId, online: false } });
  }

  /**
   * Rewrites the online key of present users whose key was not written recently. A few writes at a
   * time: a room of a thousand users must not open a thousand requests to the store at once (the
   * store takes one command per request; a multi-key write there would make this one request).
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
  private async scheduleCheckFor(member: Member, now: number) {
    const deadline = Math.max(
      now + 50,
      Math.min(
        now + IDLE_TIMEOUT_MS,
        member.expiresAt,
        member.sessionId ? now + SESSION_RECHECK_MS : Number.POSITIVE_INFINITY,
      ),
    );
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > deadline) await this.ctx.storage.setAlarm(deadline);
  }

  // -------------------------------------------------------------------------------------------
  // Authors, channel identity
  // -------------------------------------------------------------------------------------------

  private cachedAuthor(userId: number): Author | undefined {
    const entry = this.authors.get(userId);
    return entry && Date.now() - entry.at < AUTHOR_CACHE_MS ? entry.author : undefined;
  }

  private async authorOf(userId: number): Promise<Author | undefined> {
    const cached = this.cachedAuthor(userId);
    if (cached) return cached;
    const author = await getAuthor(this.db, userId);
    if (author) {
      if (this.authors.size > 5000) this.authors.clear();
      this.authors.set(userId, { author, at: Date.now() });
    }
    return author;
  }

  /** Guards against a caller that names one channel and reaches another's object. */
  private claimChannel(channelId: number) {
    this.channelId ??= channelId;
    if (this.channelId !== channelId) {
      throw new Error(`channel room ${this.channelId} was asked to act for channel ${channelId}`);
    }
  }
}

function settle(op: QueuedPost, outcome: PostResult | { error: unknown }) {
  if ("error" in outcome) op.reject(outcome.error);
  else op.resolve(outcome);
}

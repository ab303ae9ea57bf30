/**
 * NotificationFeed: one Durable Object per user (named `user:{id}`) that holds every open
 * `/ws/notifications` socket of that user and sends them the events of contract 3.5.
 *
 * Why an object per user. The original kept sockets in a per-process dictionary, so an event
 * raised on one process never reached a socket held by another (D8). Every Worker instance
 * that calls `deliver` on `user:{id}` reaches the same single object, wherever it runs, so
 * "all of the user's sockets" means all of them. One object per user (rather than one for
 * everybody) keeps each object's work proportional to one person's tabs, and lets users'
 * objects live in different places.
 *
 * Concurrency model. An object runs one event at a time (a handshake, a frame, an RPC, an
 * alarm), but an event that awaits something outside (the store, over HTTP) lets others run
 * meanwhile; storage calls do not (input gates). So nothing here holds state across an await
 * that another event could invalidate: each handler re-reads the sockets it acts on
 * (`ctx.getWebSockets()`), and the one piece of external state the object writes, the
 * user's "online" key, goes through a queue whose step decides what to write when it runs,
 * so writes land in order and the last one reflects the sockets of that moment.
 *
 * Hibernation. The sockets are accepted with the hibernation API, so the runtime, not this
 * object, holds them: the object may be evicted between events and re-created when a frame,
 * an RPC or its alarm arrives, with the sockets still open. Everything a socket needs after
 * such a wake-up lives in its attachment (user, session, token expiry, last inbound frame);
 * the object's fields are only caches that can be rebuilt. No timers run in memory: every
 * deadline is the single storage alarm, which survives eviction and restarts.
 *
 * Liveness rules, checked by that alarm (contract 3.2, D7):
 *   - idle: a socket with no inbound frame for 25 s is closed with 1001. Every frame counts,
 *     the web app's bare-text `ping` included, and gets no reply (as in the original).
 *   - token expiry: a socket is closed (1008) when the access token it was opened with
 *     expires; the web app has by then reconnected with a fresh token.
 *   - revocation: a socket whose session was revoked (logout, a revoked device, refresh-token
 *     reuse) is closed (1008) at once: the sessions service calls `closeSessions` here right
 *     after recording the revocation, and this object forwards it to every room (channel or DM
 *     thread object) where the user holds sockets; rooms register themselves with `trackRoom`
 *     when the user's first socket joins them. Each alarm also re-reads the sessions' verdicts
 *     from the store, a safety net for a push that got lost.
 *
 * Pushing rather than polling is what lets the socket objects sleep: a store poll every few
 * seconds is an event every few seconds, and the runtime evicts an object only after some 10 s
 * without one. This object itself wakes for each `ping` of the web app anyway (see below).
 *
 * Why frames are handled here rather than by the runtime's auto-response: the hibernation API
 * can answer a fixed request (`setWebSocketAutoResponse("ping" → …)`) without waking the
 * object, and `getWebSocketAutoResponseTimestamp(ws)` would still show that activity to the
 * alarm. But it must send a reply, and the contract's pings get none (the web app's pings here
 * are bare text, unlike the chat sockets' JSON pings), so this object wakes for each ping
 * (every 10 s per tab): one small object per connected user.
 *
 * Compression is not decided here but for the whole Worker: workerd negotiates
 * permessage-deflate whenever the client offers it (browsers and `ws` always do) unless the
 * compatibility flag `no_web_socket_compression` is set. The per-response control workerd
 * documents (an empty `Sec-WebSocket-Extensions` on the 101) did not take effect in workerd
 * 2026-04-26, whether set by this object or by the Worker; the flag did. Under Miniflare
 * (wrangler dev, the tests) its entry worker negotiates with the client regardless.
 *
 * Closing. After this object closes a socket, the closing handshake completes at once (the
 * client gets the Close frame, and a browser fires `close`); workerd releases the TCP
 * connection behind it only when the object goes idle.
 *
 * "Online" (contract 2.3, 3.3, D15). While the user has an open socket the object keeps the
 * store key `online:user:{id}` alive with a TTL and deletes it when the last socket closes.
 * A crash that skips the delete only leaves the key until its TTL runs out: nobody stays
 * online forever.
 */
import { DurableObject } from "cloudflare:workers";
import { type Config, loadConfig } from "../config";
import type { Env } from "../env";
import { createLogger, type Logger } from "../log";
import { recordSocketClose, recordSocketOpen } from "../observability/sockets";
import type { NotificationEvent } from "../services/notifier";
import { revokedSessions } from "../services/sessions";
import { createStore } from "../store";
import type { KeyValueStore } from "../store/store";
import { encodeFrame, sendToAll } from "./fan-out";
import {
  CLOSE_INTERNAL_ERROR,
  CLOSE_POLICY_VIOLATION,
  closeLapsed,
  closeQuietly,
  closeRevoked,
  isOpen,
  nextCheckAt,
  openLeasedSockets,
  SESSION_RECHECK_SECONDS,
  type SocketLease,
} from "./socket-liveness";

/** The online key outlives a missed refresh or two, and a crashed object by at most this. */
export const ONLINE_TTL_SECONDS = 60;
const ONLINE_REFRESH_MS = 20_000;

/** The internal header that carries an authenticated connection from the Worker to the object. */
const CONNECTION_HEADER = "X-Feed-Connection";

/** What a socket needs to remember across hibernation (its attachment). */
type Connection = SocketLease;

export interface FeedHandshake {
  userId: number;
  sessionId: string | null;
  /** The token's `exp`, in seconds since the epoch. */
  expiresAtSeconds: number;
  /** The subprotocol to echo ("bearer" when the token came that way), or null. */
  protocol: string | null;
}

/**
 * A socket object (a channel's room or a DM thread) where the user holds or held sockets: the
 * namespace it lives in and the name its id comes from. Rooms tell the user's feed when the
 * user's first socket joins them, so that a revocation reaches exactly the objects concerned.
 */
export interface RoomRef {
  kind: "channel" | "thread";
  name: string;
}

/** The online key of a user (read by GET /users/online). */
export const onlineKey = (userId: number) => `online:user:${userId}`;

export const feedName = (userId: number) => `user:${userId}`;

/**
 * Hands an authenticated upgrade request to the user's object, which answers the 101. The
 * token itself stays in the Worker: the object only learns what it needs to enforce.
 */
export function openFeedSocket(namespace: Env["NOTIFICATION_FEED"], handshake: FeedHandshake) {
  const stub = namespace.get(namespace.idFromName(feedName(handshake.userId)));
  return stub.fetch("https://notification-feed/connect", {
    headers: { Upgrade: "websocket", [CONNECTION_HEADER]: JSON.stringify(handshake) },
  });
}

function parseHandshake(raw: string | null): FeedHandshake | null {
  if (!raw) return null;
  try {
    const value = JSON.parse(raw) as Partial<FeedHandshake>;
    if (!Number.isSafeInteger(value.userId) || !Number.isFinite(value.expiresAtSeconds)) return null;
    return {
      userId: value.userId as number,
      sessionId: typeof value.sessionId === "string" ? value.sessionId : null,
      expiresAtSeconds: value.expiresAtSeconds as number,
      protocol: typeof value.protocol === "string" ? value.protocol : null,
    };
  } catch {
    return null;
  }
}

export class NotificationFeed extends DurableObject<Env> {
  private readonly config: Config | undefined;
  private readonly log: Logger;
  private storeClient: KeyValueStore | undefined;
  /** Serialises writes of the online key (see the module comment). */
  private onlineQueue: Promise<void> = Promise.resolve();
  /** What this instance last wrote, and when; lost on eviction, which only costs a rewrite. */
  private onlineWritten: { online: boolean; at: number } | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const result = loadConfig(env);
    this.config = result.ok ? result.config : undefined;
    this.log = createLogger(this.config?.logLevel ?? "info", { component: "notification-feed" });
    // The rooms this user has sockets in (see RoomRef). Local SQLite, written synchronously.
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS rooms (kind TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (kind, name))",
    );
  }

  private get store(): KeyValueStore | undefined {
    if (!this.storeClient && this.config) this.storeClient = createStore(this.config.store);
    return this.storeClient;
  }

  /** Accepts a socket the Worker has authenticated (see openFeedSocket). */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return Response.json({ detail: "Expected a WebSocket upgrade" }, { status: 426 });
    }
    const handshake = parseHandshake(request.headers.get(CONNECTION_HEADER));
    if (!handshake) return Response.json({ detail: "Bad feed handshake" }, { status: 400 });

    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server);
    const connection: Connection = {
      userId: handshake.userId,
      sessionId: handshake.sessionId,
      expiresAt: handshake.expiresAtSeconds * 1000,
      lastSeenAt: Date.now(),
    };
    server.serializeAttachment(connection);
    recordSocketOpen(this.log, { endpoint: "notifications", userId: handshake.userId, ws: server });

    await this.scheduleCheck();
    // Awaited so that a client that asks "who is online" right after connecting sees itself;
    // a store failure is logged by the queue and never refuses the socket.
    await this.syncOnline(handshake.userId);

    const headers = new Headers();
    if (handshake.protocol) headers.set("Sec-WebSocket-Protocol", handshake.protocol);
    return new Response(null, { status: 101, webSocket: client, headers });
  }

  /**
   * Sends one event to every open socket of the user; returns how many got it. An event that
   * cannot be encoded is dropped and logged; a socket whose send fails is closed (so its client
   * reconnects) and the others still get the frame (D4).
   */
  async deliver(event: NotificationEvent): Promise<number> {
    const frame = encodeFrame(event);
    if (frame === null) {
      this.log.error("notification event could not be encoded; dropped", { type: event.type });
      return 0;
    }
    const now = Date.now();
    const live: WebSocket[] = [];
    for (const ws of this.openSockets()) {
      const connection = this.connectionOf(ws);
      // A token that expired since the last alarm gets nothing more.
      if (!connection || connection.expiresAt <= now)
        closeQuietly(ws, CLOSE_POLICY_VIOLATION, "Token expired");
      else live.push(ws);
    }
    const result = sendToAll(live, frame);
    for (const { socket, error } of result.failed) {
      this.log.warn("notification send failed; closing that socket", { type: event.type, err: error });
      closeQuietly(socket, CLOSE_INTERNAL_ERROR, "Send failed");
    }
    return result.delivered;
  }

  /**
   * How many sockets the user holds here. A DM thread asks it when a user's last socket on the
   * thread closes: the contract announces them offline only if they have no socket left (3.4), and
   * the web app keeps its notifications socket open for as long as it is open at all.
   */
  openSocketCount(): number {
    return this.openSockets().length;
  }

  /** Remembers a room where the user's first socket just joined (see RoomRef). */
  trackRoom(room: RoomRef): void {
    this.ctx.storage.sql.exec("INSERT OR IGNORE INTO rooms (kind, name) VALUES (?, ?)", room.kind, room.name);
  }

  /**
   * Closes the sockets of these revoked sessions: the user's own notification sockets here, then
   * theirs in every room the user has joined, each of which answers how many sockets the user
   * still holds there; a room where none are left is forgotten. Called by the sessions service
   * right after a revocation, so a revoked socket closes at once and no object has to poll the
   * store for revocations (which kept every object with an open socket from hibernating).
   * Returns how many sockets were closed.
   */
  async closeSessions(userId: number, sessionIds: string[]): Promise<number> {
    const revoked = new Set(sessionIds);
    let closed = 0;
    for (const { ws, lease } of openLeasedSockets<Connection>(this.ctx)) {
      if (lease.sessionId !== null && revoked.has(lease.sessionId)) {
        closeQuietly(ws, CLOSE_POLICY_VIOLATION, "Session revoked");
        closed++;
      }
    }
    const rooms = this.ctx.storage.sql
      .exec<{ kind: string; name: string }>("SELECT kind, name FROM rooms")
      .toArray();
    await Promise.all(
      rooms.map(async (row) => {
        const room: RoomRef = { kind: row.kind === "thread" ? "thread" : "channel", name: row.name };
        try {
          const outcome = await this.roomStub(room).closeSessions(userId, sessionIds);
          closed += outcome.closed;
          if (outcome.remaining === 0) {
            this.ctx.storage.sql.exec("DELETE FROM rooms WHERE kind = ? AND name = ?", room.kind, room.name);
          }
        } catch (error) {
          // The room's own expiry and session checks still close what this misses.
          this.log.warn("could not close revoked sockets in a room", { room: room.name, err: error });
        }
      }),
    );
    if (closed > 0) await this.afterSessionsClosed(userId);
    return closed;
  }

  private roomStub(room: RoomRef) {
    const namespace = room.kind === "thread" ? this.env.DM_THREAD : this.env.CHANNEL_ROOM;
    return namespace.get(namespace.idFromName(room.name));
  }

  private async afterSessionsClosed(userId: number): Promise<void> {
    await this.syncOnline(userId);
    await this.scheduleCheck();
  }

  /** Any inbound frame (the web app's bare-text `ping`, or anything else) only proves liveness. */
  override webSocketMessage(ws: WebSocket, _message: string | ArrayBuffer): void {
    const connection = this.connectionOf(ws);
    if (!connection) return;
    connection.lastSeenAt = Date.now();
    ws.serializeAttachment(connection);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    // With web_socket_auto_reply_to_close (compatibility date 2026-04-07 and later) the runtime
    // has already answered the close; answering again is harmless and keeps older dates correct.
    closeQuietly(ws, code === 1005 || code === 1006 ? 1000 : code, reason);
    this.recordClose(ws, code, reason);
    await this.afterSocketGone(ws);
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    this.log.warn("notification socket error", { err: error });
    closeQuietly(ws, CLOSE_INTERNAL_ERROR, "Socket error");
    this.recordClose(ws, CLOSE_INTERNAL_ERROR, "Socket error");
    await this.afterSocketGone(ws);
  }

  private recordClose(ws: WebSocket, code: number, reason: string) {
    const connection = this.connectionOf(ws);
    if (connection)
      recordSocketClose(this.log, { endpoint: "notifications", userId: connection.userId, ws, code, reason });
  }

  /** The liveness rules of the module comment (socket-liveness.ts); then the next deadline. */
  override async alarm(): Promise<void> {
    const sockets = openLeasedSockets<Connection>(this.ctx);
    const userId = sockets[0]?.lease.userId;
    try {
      // The feed keeps no database connection: the revocations it misses are the ones made in
      // other isolates, which it is told of directly (closeSessions).
      const revoked = (ids: string[]) => revokedSessions(undefined, ids, SESSION_RECHECK_SECONDS);
      await closeRevoked(revoked, closeLapsed(this.ctx, sockets, Date.now()), this.log);
    } finally {
      if (userId !== undefined) await this.syncOnline(userId);
      await this.scheduleCheck();
    }
  }

  /** The earliest of: the next session re-check, an idle deadline, a token expiry. */
  private async scheduleCheck(): Promise<void> {
    const next = nextCheckAt(this.ctx, openLeasedSockets<Connection>(this.ctx), Date.now());
    if (next === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(next);
  }

  private async afterSocketGone(ws: WebSocket): Promise<void> {
    const connection = this.connectionOf(ws);
    if (connection) await this.syncOnline(connection.userId, ws);
    await this.scheduleCheck();
  }

  /**
   * Queues a write of the online key; the step looks at the sockets when it runs, so of several
   * queued steps the last one always writes the current truth.
   */
  private syncOnline(userId: number, leaving?: WebSocket): Promise<void> {
    const step = async () => {
      const store = this.store;
      if (!store) return;
      const online = this.openSockets().some((ws) => ws !== leaving);
      const now = Date.now();
      const last = this.onlineWritten;
      if (online && last?.online && now - last.at < ONLINE_REFRESH_MS) return;
      if (!online && last && !last.online) return;
      if (online) await store.set(onlineKey(userId), "1", { ttlSeconds: ONLINE_TTL_SECONDS });
      else await store.delete(onlineKey(userId));
      this.onlineWritten = { online, at: now };
    };
    this.onlineQueue = this.onlineQueue.then(step).catch((error) => {
      this.onlineWritten = undefined;
      this.log.warn("could not update the online key", { user_id: userId, err: error });
    });
    return this.onlineQueue;
  }

  private openSockets(): WebSocket[] {
    return this.ctx.getWebSockets().filter(isOpen);
  }

  private connectionOf(ws: WebSocket): Connection | null {
    try {
      return (ws.deserializeAttachment() as Connection | null) ?? null;
    } catch {
      return null;
    }
  }
}

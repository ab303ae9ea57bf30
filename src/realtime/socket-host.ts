/**
 * SocketHost: what every Durable Object of this project that holds WebSockets shares — the
 * conversation rooms (a channel's or a thread's, conversation-room.ts) and the users' notification
 * feeds (notification-feed.ts). A base class with hooks, in the manner of PartyServer: the host
 * does the socket bookkeeping, the subclass says what the sockets are for.
 *
 *   - Hand-off. The Worker authenticates a handshake (http/socket-handshake.ts) and hands the
 *     upgrade here with what it established (`HandOff`) in an internal header; the token itself
 *     never leaves the Worker. `admit` (the subclass) decides and calls `accept`.
 *   - Hibernation. Sockets are accepted with the hibernation API, so the runtime, not this object,
 *     holds them: the object may be evicted between events and re-created when a frame, an RPC or
 *     its alarm arrives, with the sockets still open. Everything a socket needs after such a
 *     wake-up lives in its attachment; every field of the object is a cache that may be lost. No
 *     timers run in memory: every deadline is the one storage alarm, which survives eviction.
 *   - Limits (every socket of every kind): at most WS_MAX_SOCKETS_PER_USER sockets per user in one
 *     object (the next handshake gets 429 before any upgrade); frames of at most MAX_FRAME_CHARS
 *     (a larger one closes the socket with 1009); a frame budget per socket (frame-budget.ts).
 *   - Liveness (socket-liveness.ts): the alarm closes sockets idle for 25 s (1001), sockets whose
 *     token expired (1008) and sockets of revoked sessions (1008). Revocations are pushed
 *     (`closeSessions`); the sweep re-checks them as a safety net.
 *   - Concurrency: an object runs one event at a time, but an event that awaits something outside
 *     (PostgreSQL, the store, another object) lets others run meanwhile. Nothing here holds state
 *     across such an await: each handler re-reads the sockets it acts on.
 *   - Closing: after this object closes a socket, the closing handshake completes at once;
 *     workerd releases the TCP connection behind it when the object goes idle.
 *
 * Compression is decided for the whole Worker, not here: the `no_web_socket_compression`
 * compatibility flag (wrangler.toml) keeps workerd from negotiating permessage-deflate, which
 * would cost CPU on every send and memory per socket.
 */
import { DurableObject } from "cloudflare:workers";
import { type Config, loadConfig } from "../config";
import type { Env } from "../env";
import { createLogger, type Logger } from "../log";
import type { SocketEndpoint } from "../observability/metrics";
import { recordSocketClose, recordSocketOpen } from "../observability/sockets";
import { revokedSessions } from "../services/sessions";
import { createStore } from "../store";
import { ONLINE_TTL_SECONDS, onlineKey } from "../store/keys";
import type { KeyValueStore } from "../store/store";
import { encodeFrame, sendToAll } from "./fan-out";
import { type Bucket, type FrameVerdict, MAX_FRAME_CHARS, newBucket, spendFrame } from "./frame-budget";
import { userTag } from "./names";
import { CLOSE_CODES, CLOSE_REASONS, frameTooBigReason } from "./protocol/close-codes";
import type { ServerEvent } from "./protocol/server-events";
import {
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

/** The internal header that carries an authenticated connection from the Worker to the object. */
const HAND_OFF_HEADER = "X-Socket-Hand-Off";

/** What the Worker established about a handshake before handing it to an object. */
export interface HandOff {
  userId: number;
  sessionId: string | null;
  /** The token's `exp`, in seconds since the epoch. */
  expiresAtSeconds: number;
  /** The subprotocol to echo ("bearer" when the token came that way), or null. */
  protocol: string | null;
  /** What the endpoint adds (a conversation's id, `since`...); the subclass reads it. */
  fields: Record<string, unknown>;
}

/** Hands an authenticated upgrade to an object, which answers the 101 (or refuses). */
export function handOffSocket(
  stub: { fetch(input: string, init: RequestInit): Promise<Response> },
  handOff: HandOff,
): Promise<Response> {
  return stub.fetch("https://socket-host/connect", {
    headers: { Upgrade: "websocket", [HAND_OFF_HEADER]: JSON.stringify(handOff) },
  });
}

function parseHandOff(raw: string | null): HandOff | null {
  if (!raw) return null;
  try {
    const value = JSON.parse(raw) as Partial<HandOff>;
    if (!Number.isSafeInteger(value.userId) || !Number.isFinite(value.expiresAtSeconds)) return null;
    return {
      userId: value.userId as number,
      sessionId: typeof value.sessionId === "string" ? value.sessionId : null,
      expiresAtSeconds: value.expiresAtSeconds as number,
      protocol: typeof value.protocol === "string" ? value.protocol : null,
      fields: typeof value.fields === "object" && value.fields !== null ? value.fields : {},
    };
  } catch {
    return null;
  }
}

/** A refusal before the upgrade, as the JSON error body every route answers with. */
export const refuseHandshake = (status: number, detail: string, headers?: HeadersInit) =>
  Response.json({ detail }, { status, headers });

const ONLINE_REFRESH_MS = 20_000;
const ONLINE_WRITES_AT_ONCE = 16;

export abstract class SocketHost<A extends SocketLease> extends DurableObject<Env> {
  protected readonly config: Config | undefined;
  protected readonly log: Logger;
  private storeClient: KeyValueStore | undefined;
  private readonly budgets = new WeakMap<WebSocket, Bucket>();
  private readonly onlineWrittenAt = new Map<number, number>();

  protected constructor(
    ctx: DurableObjectState,
    env: Env,
    /** The socket endpoint this object serves, for logs and metrics. */
    protected readonly endpoint: SocketEndpoint,
    component: string,
  ) {
    super(ctx, env);
    const result = loadConfig(env);
    this.config = result.ok ? result.config : undefined;
    this.log = createLogger(this.config?.logLevel ?? "info", { component });
  }

  // -- What each kind of host provides ----------------------------------------------------------

  /** Decides on a handed-off socket: calls `accept` (and returns its 101), or refuses. */
  protected abstract admit(handOff: HandOff): Promise<Response>;
  /** A frame within the limits, from a socket with a live attachment. Should not throw. */
  protected abstract onFrame(ws: WebSocket, attachment: A, frame: string | ArrayBuffer): Promise<void>;
  /** A frame over the budget: the host drops it; `tell` says whether to tell the socket now. */
  protected onFrameRefused(_ws: WebSocket, _tell: boolean): void {}
  /** A socket closed or failed (the host has recorded it). */
  protected onSocketGone(_ws: WebSocket, _attachment: A): Promise<void> | void {}
  /** The alarm's own work after the liveness rules, with the sockets still open. */
  protected onSweep(
    _kept: LeasedSocket<A>[],
    _before: LeasedSocket<A>[],
    _now: number,
  ): Promise<void> | void {}
  /** Extra fields of the socket's open and close log lines. */
  protected logFields(_attachment: A): Record<string, unknown> {
    return {};
  }

  // -- The hand-off --------------------------------------------------------------------------

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return refuseHandshake(426, "Expected a WebSocket upgrade");
    }
    const handOff = parseHandOff(request.headers.get(HAND_OFF_HEADER));
    if (!handOff) return refuseHandshake(400, "Bad socket hand-off");
    const limit = this.config?.sockets.maxPerUser ?? 32;
    if (this.openSockets(userTag(handOff.userId)).length >= limit) {
      return refuseHandshake(429, `Too many open sockets (at most ${limit} per user here)`);
    }
    return this.admit(handOff);
  }

  /**
   * Accepts the socket with its attachment and answers 101. Frames sent to it before the 101 is
   * returned are delivered right after it.
   */
  protected accept(handOff: HandOff, attachment: A): { ws: WebSocket; response: Response } {
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server, [userTag(attachment.userId)]);
    server.serializeAttachment(attachment);
    recordSocketOpen(this.log, {
      endpoint: this.endpoint,
      userId: attachment.userId,
      ws: server,
      fields: this.logFields(attachment),
    });
    const headers = new Headers();
    if (handOff.protocol) headers.set("Sec-WebSocket-Protocol", handOff.protocol);
    return { ws: server, response: new Response(null, { status: 101, webSocket: client, headers }) };
  }

  // -- Socket events -------------------------------------------------------------------------

  /**
   * The frame budget is a rate limit like the others: RATE_LIMITS_ENABLED=false (load tests, where
   * one socket sends 20 messages a second) lifts it. The frame size limit and the socket cap are
   * resource bounds, not rate limits, and stay.
   */
  private spendFrameBudget(ws: WebSocket, now: number): FrameVerdict {
    if (this.config?.rateLimits.enabled === false) return "accept";
    const rate = this.config?.sockets.framesPerSecond;
    let bucket = this.budgets.get(ws);
    if (!bucket) {
      bucket = newBucket(now, rate);
      this.budgets.set(ws, bucket);
    }
    return spendFrame(bucket, now, rate);
  }

  override async webSocketMessage(ws: WebSocket, frame: string | ArrayBuffer): Promise<void> {
    const attachment = leaseOf<A>(ws);
    if (!attachment) {
      closeQuietly(ws, CLOSE_CODES.internalError, CLOSE_REASONS.lostState);
      return;
    }
    const size = typeof frame === "string" ? frame.length : frame.byteLength;
    if (size > MAX_FRAME_CHARS) {
      closeQuietly(ws, CLOSE_CODES.tooBig, frameTooBigReason(MAX_FRAME_CHARS));
      return;
    }
    const now = Date.now();
    const verdict = this.spendFrameBudget(ws, now);
    if (verdict === "close") {
      closeQuietly(ws, CLOSE_CODES.policy, CLOSE_REASONS.tooManyFrames);
      return;
    }
    if (verdict !== "accept") {
      this.onFrameRefused(ws, verdict === "drop-and-tell");
      return;
    }
    if (attachment.expiresAt <= now) {
      closeQuietly(ws, CLOSE_CODES.policy, CLOSE_REASONS.tokenExpired);
      return;
    }
    attachment.lastSeenAt = now;
    ws.serializeAttachment(attachment);
    await this.onFrame(ws, attachment, frame);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    // The runtime has already answered the close (web_socket_auto_reply_to_close); answering
    // again is harmless and keeps older compatibility dates correct.
    closeQuietly(ws, code === 1005 || code === 1006 ? CLOSE_CODES.normal : code, reason);
    await this.socketGone(ws, code, reason);
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    this.log.warn("socket error", { err: error });
    closeQuietly(ws, CLOSE_CODES.internalError, CLOSE_REASONS.socketError);
    await this.socketGone(ws, CLOSE_CODES.internalError, CLOSE_REASONS.socketError);
  }

  private async socketGone(ws: WebSocket, code: number, reason: string) {
    const attachment = leaseOf<A>(ws);
    if (!attachment) return;
    recordSocketClose(this.log, {
      endpoint: this.endpoint,
      userId: attachment.userId,
      ws,
      code,
      reason,
      fields: this.logFields(attachment),
    });
    await this.onSocketGone(ws, attachment);
  }

  /** The liveness rules, the subclass's sweep; then the next deadline. */
  override async alarm(): Promise<void> {
    const now = Date.now();
    const before = this.leasedSockets();
    let kept = before;
    try {
      kept = closeLapsed(this.ctx, before, now);
      const db = this.sessionDatabase();
      kept = await closeRevoked((ids) => revokedSessions(db, ids, SESSION_RECHECK_SECONDS), kept, this.log);
      for (const id of [...this.onlineWrittenAt.keys()]) {
        if (!kept.some((s) => s.lease.userId === id)) this.onlineWrittenAt.delete(id);
      }
      await this.onSweep(kept, before, now);
    } finally {
      await this.scheduleCheck();
    }
  }

  /** The connection the sweep may ask about sessions; none by default (memory only). */
  protected sessionDatabase(): Parameters<typeof revokedSessions>[0] {
    return undefined;
  }

  // -- RPC shared by every host --------------------------------------------------------------

  /**
   * Closes the user's sockets of these revoked sessions (1008); called by the user's feed right
   * after the revocation. Answers how many were closed and how many sockets the user still holds
   * here, so the feed can forget this object when none are left.
   */
  async closeSessions(userId: number, sessionIds: string[]): Promise<{ closed: number; remaining: number }> {
    const revoked = new Set(sessionIds);
    const sockets = this.leasedSockets(userTag(userId));
    let closed = 0;
    for (const { ws, lease } of sockets) {
      if (lease.sessionId !== null && revoked.has(lease.sessionId)) {
        closeQuietly(ws, CLOSE_CODES.policy, CLOSE_REASONS.sessionRevoked);
        closed++;
        await this.onSocketGone(ws, lease);
      }
    }
    return { closed, remaining: sockets.length - closed };
  }

  /** How many sockets the object holds (tests, and the feed's "is the user here at all"). */
  openSocketCount(userId?: number): number {
    return this.openSockets(userId === undefined ? undefined : userTag(userId)).length;
  }

  // -- Bookkeeping ---------------------------------------------------------------------------

  protected get store(): KeyValueStore | undefined {
    if (!this.storeClient && this.config) this.storeClient = createStore(this.config.store);
    return this.storeClient;
  }

  protected openSockets(tag?: string): WebSocket[] {
    return this.ctx.getWebSockets(tag).filter(isOpen);
  }

  protected leasedSockets(tag?: string): LeasedSocket<A>[] {
    return openLeasedSockets<A>(this.ctx, tag);
  }

  protected hasOpenSocket(userId: number, except?: WebSocket): boolean {
    return this.openSockets(userTag(userId)).some((ws) => ws !== except);
  }

  /**
   * Sends one event to every open socket (or those of one tag). An event that cannot be encoded
   * is dropped and logged; a socket whose send fails is closed (its client reconnects and catches
   * up) and the others still get the frame. Returns how many got it.
   */
  protected broadcast(event: ServerEvent, tag?: string): number {
    const frame = encodeFrame(event);
    if (frame === null) {
      this.log.error("event could not be encoded; dropped", { type: event.type });
      return 0;
    }
    const result = sendToAll(this.openSockets(tag), frame);
    for (const { socket, error } of result.failed) {
      this.log.warn("send failed; closing that socket", { type: event.type, err: error });
      closeQuietly(socket, CLOSE_CODES.internalError, CLOSE_REASONS.sendFailed);
    }
    return result.delivered;
  }

  protected sendTo(ws: WebSocket, event: ServerEvent): void {
    const frame = encodeFrame(event);
    if (frame === null) return;
    try {
      ws.send(frame);
    } catch (error) {
      this.log.warn("send failed; closing that socket", { type: event.type, err: error });
      closeQuietly(ws, CLOSE_CODES.internalError, CLOSE_REASONS.sendFailed);
    }
  }

  /** Closes a user's sockets here; returns how many. */
  protected closeUserSockets(userId: number, code: number, reason: string): WebSocket[] {
    const sockets = this.openSockets(userTag(userId));
    for (const ws of sockets) closeQuietly(ws, code, reason);
    return sockets;
  }

  /** Moves the alarm earlier when a new socket's first deadline comes before it. */
  protected async scheduleFirstCheck(attachment: A): Promise<void> {
    const deadline = firstCheckAt(attachment, Date.now());
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > deadline) await this.ctx.storage.setAlarm(deadline);
  }

  protected async scheduleCheck(): Promise<void> {
    const next = nextCheckAt(this.ctx, this.leasedSockets(), Date.now());
    if (next === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(next);
  }

  /**
   * Rewrites the online key of present users whose key was not written recently. A few writes at
   * a time: an object with a thousand users must not open a thousand requests to the store at
   * once. It never deletes a key: the user may have sockets elsewhere, and the TTL ends it.
   */
  protected async keepOnline(userIds: number[], now: number): Promise<void> {
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
}

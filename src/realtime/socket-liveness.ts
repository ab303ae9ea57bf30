/**
 * The rules every hibernatable socket of this project lives by (docs/socket-protocol.md#limits-and-liveness;
 * docs/original-defects.md#d7-socket-sessions-and-expiry), shared by the socket objects (the channel rooms;
 * the notification feed can use the same pieces):
 *
 *   - idle: a socket with no inbound frame for 25 s is closed with 1001. Pings answered by the
 *     runtime's auto-response count: they show up in getWebSocketAutoResponseTimestamp, not in
 *     any handler, which is the point of the auto-response (the object is not woken for them).
 *   - token expiry: a socket is closed (1008) when the access token it was opened with expires.
 *   - revocation: a socket whose session was revoked (logout, a revoked device, refresh-token
 *     reuse) is closed (1008) at once: the sessions service pushes the revocation to the user's
 *     notification feed, which closes its own sockets and forwards it to every room the user
 *     joined (NotificationFeed.closeSessions). Each sweep also re-checks the sessions (see
 *     closeRevoked), a safety net for a push that got lost.
 *
 * Why a push rather than polling the store: a poll every few seconds is an event every few
 * seconds, and an object with events never hibernates (the runtime evicts after some 10 s
 * without one). With the push, an object of idle sockets wakes only for its sweeps, at most
 * every IDLE_SWEEP_MS, and sleeps in between.
 *
 * Everything a rule needs lives in the socket's attachment (a `SocketLease`), so the rules hold
 * across hibernation; the only clock is the object's storage alarm, which survives eviction.
 */

import type { Logger } from "../log";
import { CLOSE_REASONS } from "./protocol/close-codes";

/** At least one inbound frame every 25 s, else close with 1001 (the web app pings every 10 s). */
export const IDLE_TIMEOUT_MS = 25_000;
/**
 * The least time between two idle sweeps. A socket that falls silent just after a sweep is closed
 * by the second one after that, so "idle for 25 s" closes within 25-50 s; token expiry is not
 * rounded (a socket closes when its token expires).
 */
export const IDLE_SWEEP_MS = 25_000;

export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_POLICY_VIOLATION = 1008;
export const CLOSE_INTERNAL_ERROR = 1011;

const OPEN = 1;

/** What the liveness rules need to know about a socket; kept in its attachment. */
export interface SocketLease {
  userId: number;
  /** Absent only for tokens without `sid` (REQUIRE_SESSION_CLAIM=false). */
  sessionId: string | null;
  /** When the access token the socket was opened with expires (ms since the epoch). */
  expiresAt: number;
  /** When the socket last sent a frame that reached a handler (ms since the epoch). */
  lastSeenAt: number;
}

export interface LeasedSocket<L extends SocketLease> {
  ws: WebSocket;
  lease: L;
}

export function closeQuietly(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, reason);
  } catch {
    // Already closing or closed: nothing left to do.
  }
}

export const isOpen = (ws: WebSocket) => ws.readyState === OPEN;

/** The attachment of a socket, or null when it has none or it cannot be read. */
export function leaseOf<L extends SocketLease>(ws: WebSocket): L | null {
  try {
    return (ws.deserializeAttachment() as L | null) ?? null;
  } catch {
    return null;
  }
}

/** The object's open sockets with their leases; a socket without one is closed (its state is lost). */
export function openLeasedSockets<L extends SocketLease>(
  ctx: DurableObjectState,
  tag?: string,
): LeasedSocket<L>[] {
  const result: LeasedSocket<L>[] = [];
  for (const ws of ctx.getWebSockets(tag)) {
    if (!isOpen(ws)) continue;
    const lease = leaseOf<L>(ws);
    if (lease) result.push({ ws, lease });
    else closeQuietly(ws, CLOSE_INTERNAL_ERROR, CLOSE_REASONS.lostState);
  }
  return result;
}

/** The last inbound activity of a socket: a handled frame, or a ping the runtime answered. */
export function lastActivityAt(ctx: DurableObjectState, ws: WebSocket, lease: SocketLease): number {
  let autoResponse = 0;
  try {
    autoResponse = ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0;
  } catch {
    // Not a hibernatable socket of this object: only the attachment counts.
  }
  return Math.max(lease.lastSeenAt, autoResponse);
}

/**
 * Closes the sockets whose token expired (1008) or that stayed silent for IDLE_TIMEOUT_MS (1001);
 * returns the others.
 */
export function closeLapsed<L extends SocketLease>(
  ctx: DurableObjectState,
  sockets: LeasedSocket<L>[],
  now: number,
): LeasedSocket<L>[] {
  const kept: LeasedSocket<L>[] = [];
  for (const entry of sockets) {
    if (entry.lease.expiresAt <= now)
      closeQuietly(entry.ws, CLOSE_POLICY_VIOLATION, CLOSE_REASONS.tokenExpired);
    else if (now - lastActivityAt(ctx, entry.ws, entry.lease) >= IDLE_TIMEOUT_MS) {
      closeQuietly(entry.ws, CLOSE_GOING_AWAY, CLOSE_REASONS.idleTimeout);
    } else kept.push(entry);
  }
  return kept;
}

/**
 * How old a session's verdict may be before a sweep asks the database again: the push closes
 * revoked sessions' sockets at once, so this only bounds how long a lost push goes unnoticed.
 */
export const SESSION_RECHECK_SECONDS = 300;

/** Which of these sessions are revoked (services/sessions.ts revokedSessions). */
export type RevokedSessions = (sessionIds: string[]) => Promise<Set<string>>;

/**
 * Closes the sockets of revoked sessions; returns the others. `revoked` answers from what the
 * isolate knows (every revocation made in it) and asks the database only about sessions it has
 * not checked for a while, so a sweep of idle sockets rarely costs a query. A failure keeps the
 * sockets until the next check: they still close when their token expires.
 */
export async function closeRevoked<L extends SocketLease>(
  revoked: RevokedSessions,
  sockets: LeasedSocket<L>[],
  log: Logger,
): Promise<LeasedSocket<L>[]> {
  const sessionIds = [
    ...new Set(sockets.flatMap((entry) => (entry.lease.sessionId ? [entry.lease.sessionId] : []))),
  ];
  if (sessionIds.length === 0) return sockets;
  let gone: Set<string>;
  try {
    gone = await revoked(sessionIds);
  } catch (error) {
    log.warn("session re-check skipped", { err: error });
    return sockets;
  }
  return sockets.filter((entry) => {
    if (!entry.lease.sessionId || !gone.has(entry.lease.sessionId)) return true;
    closeQuietly(entry.ws, CLOSE_POLICY_VIOLATION, CLOSE_REASONS.sessionRevoked);
    return false;
  });
}

/**
 * When the alarm must next run for these sockets: the earliest token expiry, or the earliest idle
 * deadline but no sooner than IDLE_SWEEP_MS from now; null when there are none.
 */
export function nextCheckAt<L extends SocketLease>(
  ctx: DurableObjectState,
  sockets: LeasedSocket<L>[],
  now: number,
): number | null {
  let idle = Number.POSITIVE_INFINITY;
  let expiry = Number.POSITIVE_INFINITY;
  for (const { ws, lease } of sockets) {
    idle = Math.min(idle, lastActivityAt(ctx, ws, lease) + IDLE_TIMEOUT_MS);
    expiry = Math.min(expiry, lease.expiresAt);
  }
  const next = Math.min(Math.max(idle, now + IDLE_SWEEP_MS), expiry);
  return next === Number.POSITIVE_INFINITY ? null : Math.max(next, now + 50);
}

/** The first deadline of a socket that just opened: its idle deadline, or its token's expiry. */
export function firstCheckAt(lease: SocketLease, now: number): number {
  return Math.max(now + 50, Math.min(now + IDLE_TIMEOUT_MS, lease.expiresAt));
}

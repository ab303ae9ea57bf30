/**
 * One call per socket event for the Durable Objects: a structured log line and the socket
 * metrics together, so the two never disagree.
 *
 *   recordSocketOpen(log, { endpoint: "chat", userId, ws, fields: { channel_id } })   after acceptWebSocket
 *   recordSocketClose(log, { endpoint: "chat", userId, ws, code, reason })           in webSocketClose/Error
 *
 * A socket's close is recorded once even when both webSocketError and webSocketClose report it
 * (pass `ws`). Tokens never appear: the lines carry the user id, never the handshake URL.
 */
import type { Logger } from "../log";
import { metrics, type SocketEndpoint } from "./metrics";

const closed = new WeakSet<object>();

export interface SocketOpenInfo {
  endpoint: SocketEndpoint;
  userId: number;
  /** The accepted socket (lets the close be recorded once). */
  ws?: WebSocket;
  /** Extra fields for the log line, e.g. { channel_id, session_id }. */
  fields?: Record<string, unknown>;
}

export interface SocketCloseInfo extends SocketOpenInfo {
  code?: number;
  reason?: string;
  /** When the socket was accepted (epoch ms), for duration_ms. */
  openedAt?: number;
}

export function recordSocketOpen(log: Logger, info: SocketOpenInfo): void {
  metrics.socketOpened(info.endpoint);
  log.info("socket open", { endpoint: info.endpoint, user_id: info.userId, ...info.fields });
}

/** Returns false (and records nothing) when this socket's close was already recorded. */
export function recordSocketClose(log: Logger, info: SocketCloseInfo): boolean {
  if (info.ws) {
    if (closed.has(info.ws)) return false;
    closed.add(info.ws);
  }
  metrics.socketClosed(info.endpoint);
  log.info("socket close", {
    endpoint: info.endpoint,
    user_id: info.userId,
    code: info.code,
    reason: info.reason ? info.reason.slice(0, 123) : undefined,
    duration_ms: info.openedAt ? Math.max(0, Date.now() - info.openedAt) : undefined,
    ...info.fields,
  });
  return true;
}

/**
 * The close codes the server's sockets close with, the reason texts that tell the cases apart, and
 * what a client should do after each (`closeAdvice`). The server closes with these constants, the
 * AsyncAPI document lists them (`x-close-codes`), and the realtime client (src/realtime-client.ts)
 * acts on `closeAdvice`: one table for the three. Dependency-free, as the client imports it.
 *
 * With `?since=` a client that reconnects receives what it missed.
 */
export const CLOSE_CODES = {
  /** The client closed, or the server answered its close. */
  normal: 1000,
  /** No inbound frame for 25 s ("Idle timeout"). */
  goingAway: 1001,
  /**
   * Policy: the token expired, the session was revoked, the user lost the conversation (removed,
   * deleted, no longer reachable), or the client kept sending over its frame budget.
   */
  policy: 1008,
  /** A frame longer than the limit ("Frames are limited to N characters"). */
  tooBig: 1009,
  /** The server could not go on with this socket ("Send failed", "Lost connection state"). */
  internalError: 1011,
} as const;

/** The reason texts the server closes with (other 1008 reasons are a refusal's detail). */
export const CLOSE_REASONS = {
  idleTimeout: "Idle timeout",
  tokenExpired: "Token expired",
  sessionRevoked: "Session revoked",
  tooManyFrames: "Too many frames",
  accessRevoked: "Access revoked",
  channelDeleted: "Channel deleted",
  threadDeleted: "Thread deleted",
  lostState: "Lost connection state",
  sendFailed: "Send failed",
  socketError: "Socket error",
} as const;

export const frameTooBigReason = (maxChars: number) => `Frames are limited to ${maxChars} characters`;

/**
 * What a client does after a close:
 *   - `reconnect`: after a backoff, with `?since=` (idle, a server-side failure, an oversized frame
 *     or too many frames: the client's fault, but a new socket starts with a new budget);
 *   - `refresh_token`: get a fresh access token, then reconnect;
 *   - `signed_out`: the session was revoked (a logout): reconnecting with it is refused;
 *   - `lost_access`: the user may no longer use this conversation (removed, deleted, a thread whose
 *     two people can no longer reach each other); reconnecting is refused.
 */
export type CloseAdvice = "reconnect" | "refresh_token" | "signed_out" | "lost_access";

export function closeAdvice(code: number, reason: string): CloseAdvice {
  if (code !== CLOSE_CODES.policy) return "reconnect";
  switch (reason) {
    case CLOSE_REASONS.tokenExpired:
      return "refresh_token";
    case CLOSE_REASONS.sessionRevoked:
      return "signed_out";
    case CLOSE_REASONS.tooManyFrames:
      return "reconnect";
    default:
      return "lost_access";
  }
}

export interface CloseCase {
  code: number;
  /** The exact reason text; for refusal details, an example. */
  reason: string;
  meaning: string;
}

/**
 * Every case with a fixed reason, for the document and its page (src/openapi/asyncapi/). Other 1008
 * reasons are the detail of the refusal that cost the user the conversation.
 */
export function closeCases(maxFrameChars: number): CloseCase[] {
  const { goingAway, policy, tooBig, internalError, normal } = CLOSE_CODES;
  const r = CLOSE_REASONS;
  return [
    { code: normal, reason: "", meaning: "The client closed; the server answers with the client's own code" },
    {
      code: goingAway,
      reason: r.idleTimeout,
      meaning: "No frame for 25 s (checked within 25-50 s): send a ping every 10 s",
    },
    { code: policy, reason: r.tokenExpired, meaning: "The access token the socket was opened with expired" },
    { code: policy, reason: r.sessionRevoked, meaning: "The session was revoked (logout, a revoked device)" },
    { code: policy, reason: r.tooManyFrames, meaning: "The client kept sending while over its frame budget" },
    { code: policy, reason: r.accessRevoked, meaning: "The user was removed from the conversation" },
    { code: policy, reason: r.channelDeleted, meaning: "The channel (or its workspace) was deleted" },
    { code: policy, reason: r.threadDeleted, meaning: "The thread no longer exists" },
    { code: tooBig, reason: frameTooBigReason(maxFrameChars), meaning: "A frame over the size limit" },
    { code: internalError, reason: r.sendFailed, meaning: "A send to this socket failed" },
    { code: internalError, reason: r.lostState, meaning: "The socket's state was lost" },
    { code: internalError, reason: r.socketError, meaning: "The runtime reported an error on the socket" },
  ];
}

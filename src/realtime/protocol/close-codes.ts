/**
 * The close codes the server's sockets close with, and why (the reason text says which case).
 * A client reconnects after any of them except where noted; with `?since=` it receives what it
 * missed.
 */
export const CLOSE_CODES = {
  /** The client closed, or the server answered its close. */
  normal: 1000,
  /** No inbound frame for 25 s ("Idle timeout"). */
  goingAway: 1001,
  /**
   * Policy: "Token expired" (reconnect with a fresh token), "Session revoked" (logged out: do not
   * reconnect with it), "Access revoked" (removed from the conversation), "Channel deleted",
   * "Conversation closed", "Too many frames" (the frame budget was exhausted and the client kept
   * sending).
   */
  policy: 1008,
  /** A frame longer than the limit ("Frames are limited to N characters"). */
  tooBig: 1009,
  /** The server could not go on with this socket ("Send failed", "Lost connection state"). */
  internalError: 1011,
} as const;

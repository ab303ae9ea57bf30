/**
 * What the realtime client reports instead of silence: a refused frame or write, or why it stopped.
 */
import type { ErrorCode } from "../realtime/protocol/server-events";

/**
 * The server's `error` codes (see /asyncapi.json, `x-error-codes`), and the client's own:
 *   - `outbox_full`: too many messages wait for their echo (`maxOutbox`);
 *   - `closed`: the app closed the client;
 *   - `signed_out`: the session was revoked (a logout): the socket was closed and is not reopened;
 *   - `lost_access`: the user may no longer use this conversation (removed, deleted, a thread gone
 *     read-only): the socket was closed and is not reopened;
 *   - `token_unavailable`: the `token` callback failed; the client tries again with backoff.
 */
export type RealtimeErrorCode =
  | ErrorCode
  | "outbox_full"
  | "closed"
  | "signed_out"
  | "lost_access"
  | "token_unavailable";

export class RealtimeError extends Error {
  override name = "RealtimeError";

  constructor(
    readonly code: RealtimeErrorCode,
    readonly detail: string,
    readonly extra: {
      /** The message (by its client_id) the refusal is about, if any. */
      clientId?: string | null;
      /** The client sends it again by itself after this delay (rate limits, the database away). */
      retryAfterMs?: number;
    } = {},
  ) {
    super(`${code}: ${detail}`);
  }

  /** Whether the client retries by itself: the send it is about is still pending. */
  get willRetry(): boolean {
    return this.extra.retryAfterMs !== undefined;
  }
}

/**
 * How many frames a socket may send: a token bucket per socket, so one client cannot keep an
 * object busy (a review flooded a channel of 300 sockets with 3,000 typing frames and froze the
 * server for 20 s). Every frame type counts, pings included, except the exact ping the runtime
 * answers without waking the object (names.ts PING_FRAME).
 *
 * The web app sends a ping every 10 s, a typing frame every few seconds while typing, and
 * messages within their own limit (20 per 10 s): far below the budget. WS_FRAMES_PER_SECOND
 * (default 10) frames a second are allowed, in bursts of up to four seconds' worth. A frame over
 * the budget is dropped (the socket is told, at most once a second); a socket that keeps sending
 * while over it (FRAME_DEBT_TO_CLOSE dropped frames before it slows down) is closed.
 *
 * Kept in memory per socket: lost when the object hibernates, which only happens after seconds
 * without frames, by which time the bucket would be full again anyway.
 */

export const FRAME_RATE_PER_SECOND = 10;
/** The burst allowed on top of the rate: four seconds' worth. */
export const BURST_SECONDS = 4;
export const FRAME_BURST = FRAME_RATE_PER_SECOND * BURST_SECONDS;
export const FRAME_DEBT_TO_CLOSE = 200;
/** Longest frame accepted, in UTF-16 code units: a 4,000-character message and its JSON fit well within. */
export const MAX_FRAME_CHARS = 16 * 1024;

export interface Bucket {
  tokens: number;
  at: number;
  /** Frames dropped since the socket last had budget. */
  dropped: number;
  /** When the socket was last told it is over budget. */
  toldAt: number;
}

export type FrameVerdict = "accept" | "drop" | "drop-and-tell" | "close";

export function newBucket(now: number, ratePerSecond = FRAME_RATE_PER_SECOND): Bucket {
  return { tokens: ratePerSecond * BURST_SECONDS, at: now, dropped: 0, toldAt: Number.NEGATIVE_INFINITY };
}

/** Spends one frame from the bucket (updated in place) and says what to do with the frame. */
export function spendFrame(bucket: Bucket, now: number, ratePerSecond = FRAME_RATE_PER_SECOND): FrameVerdict {
  const elapsed = Math.max(0, now - bucket.at);
  bucket.tokens = Math.min(ratePerSecond * BURST_SECONDS, bucket.tokens + (elapsed * ratePerSecond) / 1000);
  bucket.at = now;
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    bucket.dropped = 0;
    return "accept";
  }
  bucket.dropped += 1;
  if (bucket.dropped >= FRAME_DEBT_TO_CLOSE) return "close";
  if (now - bucket.toldAt >= 1000) {
    bucket.toldAt = now;
    return "drop-and-tell";
  }
  return "drop";
}

/**
 * Typing is told to everyone in the conversation, so it is also throttled per user and
 * conversation, whatever number of sockets the user types from: the same state (typing, or not)
 * is broadcast at most once a TYPING_INTERVAL_MS, and a change of state goes out at once (so
 * nobody looks busy longer than they are), but never more than TYPING_MAX_PER_INTERVAL times in
 * one interval.
 */
export const TYPING_INTERVAL_MS = 1000;
export const TYPING_MAX_PER_INTERVAL = 3;

export interface TypingState {
  /** The last broadcast: when, and which state. */
  at: number;
  isTyping: boolean;
  /** The current interval's start and its broadcasts. */
  windowStart: number;
  count: number;
}

/** The state after a typing frame, or null when it is not to be broadcast. */
export function nextTyping(
  last: TypingState | undefined,
  isTyping: boolean,
  now: number,
): TypingState | null {
  if (!last) return { at: now, isTyping, windowStart: now, count: 1 };
  const fresh = now - last.windowStart >= TYPING_INTERVAL_MS;
  const count = fresh ? 0 : last.count;
  if (count >= TYPING_MAX_PER_INTERVAL) return null;
  if (last.isTyping === isTyping && now - last.at < TYPING_INTERVAL_MS) return null;
  return { at: now, isTyping, windowStart: fresh ? now : last.windowStart, count: count + 1 };
}

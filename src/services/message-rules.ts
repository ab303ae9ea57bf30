/**
 * What a message may be, for channels and direct messages alike, over REST and sockets alike:
 * the one place for the content rule, the client_id rule and the paging bounds. REST turns a
 * problem into its 422 (http/message-params.ts zContent), sockets into an error event
 * (realtime/protocol/client-frames.ts). Text PostgreSQL cannot store (a NUL, a lone surrogate:
 * db/text.ts) is refused here too; REST bodies are also checked as a whole by the validation layer.
 */
import { UNSTORABLE_TEXT_MESSAGE, type UnstorableText, unstorableText } from "../db/text";

/** Longest message, in Unicode code points (the web app limits its composer to the same). */
export const MESSAGE_MAX_CHARS = 4000;
/** Longest `client_id` accepted: the web app sends `client:` and a UUID. */
export const CLIENT_ID_MAX_CHARS = 128;
/** Page sizes of message listings: the default, and the bounds `limit` is clamped to. */
export const PAGE_SIZE_DEFAULT = 50;
export const PAGE_SIZE_MAX = 100;
/** Unread counts stop here: counting further costs a scan and shows nothing more ("999+"). */
export const UNREAD_COUNT_CAP = 1000;
/** How long a `client_id` keeps returning the message it first created. */
export const CLIENT_ID_TTL_MS = 24 * 60 * 60 * 1000;
/** The window of the per-user message limits. */
export const POST_WINDOW_MS = 10_000;

export type ContentProblem = "not_string" | "empty" | "blank" | "too_long" | UnstorableText;

/** Why a content is refused, or null when it is acceptable. */
export function contentProblem(value: unknown): ContentProblem | null {
  if (typeof value !== "string") return "not_string";
  if (value.length === 0) return "empty";
  if (value.trim() === "") return "blank";
  const unstorable = unstorableText(value);
  if (unstorable) return unstorable;
  // Code points, not UTF-16 units: an emoji counts once. The spread only runs on long strings.
  if (value.length > MESSAGE_MAX_CHARS && [...value].length > MESSAGE_MAX_CHARS) return "too_long";
  return null;
}

/** The sentence a socket's error event gives for a content problem. */
export function describeContentProblem(problem: ContentProblem): string {
  switch (problem) {
    case "not_string":
      return "content must be a string";
    case "empty":
    case "blank":
      return "content must not be empty or blank";
    case "too_long":
      return `content must be at most ${MESSAGE_MAX_CHARS} characters`;
    default:
      return `content ${UNSTORABLE_TEXT_MESSAGE[problem]}`;
  }
}

/** A client_id as stored: a non-empty string up to the limit; "" and null mean none. */
export function normaliseClientId(value: unknown): { ok: true; clientId: string | null } | { ok: false } {
  if (value === undefined || value === null || value === "") return { ok: true, clientId: null };
  if (typeof value !== "string" || value.length > CLIENT_ID_MAX_CHARS || unstorableText(value)) {
    return { ok: false };
  }
  return { ok: true, clientId: value };
}

/** Whether a page with these cursors is read forward (oldest first). */
export interface PageQuery {
  /** Only messages with a smaller id. */
  beforeId?: number;
  /** Only messages with a larger id; the page is then in ascending order. */
  afterId?: number;
  /** Already clamped to 1..PAGE_SIZE_MAX. */
  limit: number;
  /** Rows to skip (the original's paging of direct messages, still sent by the web app). */
  offset?: number;
}

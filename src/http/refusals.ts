/**
 * A conversation object's refusal (realtime/write-queue.ts Refusal) as the HTTP answer: the one
 * mapping from typed refusal codes to statuses, for every message route of channels and threads.
 */
import { AppError } from "../errors";
import type { Gated } from "../realtime/conversation-room";
import type { Refusal } from "../realtime/write-ports";
import type { RateDecision } from "../services/rate-limits";
import { rateLimitRefusal } from "./rate-limit";

/** How long a client should wait before retrying while the database cannot be reached. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

export const databaseUnavailableError = () =>
  new AppError(503, "Database unavailable", { "Retry-After": String(DATABASE_RETRY_AFTER_SECONDS) });

export function refusalError(refusal: Refusal): AppError {
  switch (refusal.code) {
    case "not_found":
      return new AppError(404, refusal.detail);
    case "forbidden":
    case "archived":
      return new AppError(403, refusal.detail);
    case "rate_limited":
    case "limiter_unavailable":
      return rateLimitRefusal(refusal.rate as RateDecision);
    case "unavailable":
      return databaseUnavailableError();
    case "invalid_parent":
      return new AppError(400, refusal.detail);
    case "too_many_reactions":
      return new AppError(409, refusal.detail);
  }
}

/** What the object answered, or the HTTP error for its refusal. */
export function unwrap<T>(gated: Gated<T>): T {
  if (!gated.ok) throw refusalError(gated.refusal);
  return gated.value;
}

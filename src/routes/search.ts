/**
 * GET /search/messages: full-text search of the messages the caller can read now, in channels and
 * DM threads alike (services/search.ts).
 *
 * - `q`: what to look for, 1..256 characters, read as a web search box reads it: words (all must
 *   match), "a phrase", -word (must not match), `or`. Words are matched as SEARCH_LANGUAGE reads
 *   them ('simple': lower-cased, no stemming).
 * - Filters: `workspace_id` (that workspace's channels; DM threads belong to people, not to
 *   workspaces, so they are left out), `channel_id`, `thread_id` (only that conversation; both
 *   together search both), `from` (author's user id), `before` and `after` (ISO 8601 dates or
 *   times, exclusive). A filter naming something the caller cannot read answers as the messages
 *   routes do: 404 when it does not exist, 403 when it is not theirs.
 * - `sort`: `relevance` (ts_rank, then newest id first; the default) or `newest` (created_at).
 * - Pages: `limit` 1..50 (default 20; clamped), and `cursor`, the `next_cursor` of the previous
 *   page, as received (an opaque token; one this API did not issue is a 422).
 * - RATE_LIMIT_SEARCH_PER_MINUTE searches per user (429).
 */
import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../context";
import { requireAuth } from "../http/auth";
import { enforceRate } from "../http/rate-limit";
import { validate, zId, zInt, zText } from "../http/validation";
import { toSearchPage } from "../presenters/search";
import {
  SEARCH_PAGE_DEFAULT,
  SEARCH_PAGE_MAX,
  SEARCH_QUERY_MAX_CHARS,
  searchMessages,
} from "../services/search";
import { CURSOR_MAX_CHARS, decodeCursor, SEARCH_SORTS, type SearchCursor } from "../services/search-cursor";

// A date (2026-11-25) or a date and time with an optional offset (2026-11-25T10:00:00.5+01:00).
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?)?$/;
/** Messages are no older than this; earlier bounds are refused rather than sent to PostgreSQL. */
const EARLIEST = Date.UTC(1970, 0, 1);
const LATEST = Date.UTC(9999, 11, 31);

const zInstant = () =>
  z.string().transform((value, ctx) => {
    const time = ISO_INSTANT.test(value) ? Date.parse(value) : Number.NaN;
    if (!Number.isFinite(time) || time < EARLIEST || time > LATEST) {
      ctx.addIssue({
        code: "custom",
        message: "must be an ISO 8601 date or date and time between 1970 and 9999",
        input: value,
      });
      return z.NEVER;
    }
    return new Date(time);
  });

const zSearchCursor = () =>
  z
    .string()
    .max(CURSOR_MAX_CHARS)
    .transform((value, ctx): SearchCursor => {
      const cursor = decodeCursor(value);
      if (!cursor) {
        ctx.addIssue({
          code: "custom",
          message: "not a cursor of this search: pass next_cursor as received",
          input: value,
        });
        return z.NEVER;
      }
      return cursor;
    });

export const searchQuery = z
  .object({
    q: z
      .string()
      .transform((value) => value.trim())
      .pipe(zText(1, SEARCH_QUERY_MAX_CHARS)),
    workspace_id: zId().optional(),
    channel_id: zId().optional(),
    thread_id: zId().optional(),
    from: zId().optional(),
    before: zInstant().optional(),
    after: zInstant().optional(),
    sort: z.enum(SEARCH_SORTS).optional(),
    limit: zInt()
      .transform((n) => Math.min(SEARCH_PAGE_MAX, Math.max(1, n)))
      .optional(),
    cursor: zSearchCursor().optional(),
  })
  .superRefine((query, ctx) => {
    if (query.cursor && query.cursor.sort !== (query.sort ?? "relevance")) {
      ctx.addIssue({
        code: "custom",
        path: ["cursor"],
        message: "the cursor belongs to another sort order",
        input: query.cursor,
      });
    }
  });

export const searchRoutes = new Hono<AppEnv>().get(
  "/search/messages",
  requireAuth,
  validate("query", searchQuery),
  async (c) => {
    const query = c.req.valid("query");
    const userId = c.var.caller.userId;
    await enforceRate(c, "search", `u:${userId}`);
    const page = await searchMessages(c.var.deps.db, userId, c.var.config.searchLanguage, {
      q: query.q,
      workspaceId: query.workspace_id,
      channelId: query.channel_id,
      threadId: query.thread_id,
      fromUserId: query.from,
      before: query.before,
      after: query.after,
      sort: query.sort ?? "relevance",
      limit: query.limit ?? SEARCH_PAGE_DEFAULT,
      cursor: query.cursor,
    });
    return c.json(toSearchPage(page));
  },
);

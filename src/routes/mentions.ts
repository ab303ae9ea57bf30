/**
 * GET /users/me/mentions: the caller's mentions (services/mentions.ts), newest first, keyset pages
 * by the mention's id (`before_id`: the last id received), `limit` 1..100 (default 50). Only
 * mentions of messages the caller can still open are listed: not deleted, in a channel they can
 * see now or a thread they take part in.
 */
import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../context";
import { requireAuth } from "../http/auth";
import { zCursor, zPageLimit } from "../http/message-params";
import { validate } from "../http/validation";
import { toMentionRead } from "../presenters/mentions";
import { listMentions } from "../services/mentions";
import { PAGE_SIZE_DEFAULT } from "../services/message-rules";

export const mentionsQuery = z.object({ limit: zPageLimit().optional(), before_id: zCursor().optional() });

export const mentionRoutes = new Hono<AppEnv>().get(
  "/users/me/mentions",
  requireAuth,
  validate("query", mentionsQuery),
  async (c) => {
    const query = c.req.valid("query");
    const entries = await listMentions(c.var.deps.db, c.var.caller.userId, {
      beforeId: query.before_id,
      limit: query.limit ?? PAGE_SIZE_DEFAULT,
    });
    return c.json(entries.map(toMentionRead));
  },
);

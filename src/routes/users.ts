/**
 * User routes (docs/http-api.md#users), with docs/original-defects.md#d19-user-discovery fixed (search and
 * online state reveal only people within the caller's reach, see services/users.ts) and the profile update
 * the original lacked.
 */
import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../context";
import { validationFailed } from "../errors";
import { requireAuth } from "../http/auth";
import { jsonBody, validate, zInt, zText } from "../http/validation";
import { toUserPublic, toUserRead } from "../presenters/users";
import { findByHandle, onlineStatuses, searchUsers, updateProfile } from "../services/users";

const SEARCH_LIMIT = { default: 20, min: 1, max: 50 };
/** More ids than a screen of people would ever ask about at once. */
const MAX_ONLINE_IDS = 100;

const clamp = (value: number | undefined, { default: fallback, min, max }: typeof SEARCH_LIMIT) =>
  Math.min(max, Math.max(min, value ?? fallback));

export const searchQuery = z.object({ q: z.string(), limit: zInt().optional() });
export const onlineQuery = z.object({ ids: z.string() });

/** As the original: blanks and non-integers are dropped silently; order and duplicates are kept. */
function parseIds(raw: string): number[] {
  return raw
    .split(",")
    .map((part) => part.trim())
    .filter((part) => /^[+-]?\d+$/.test(part))
    .map(Number)
    .filter(Number.isSafeInteger);
}

function isHttpUrl(value: string): boolean {
  // The URL parser silently drops tabs, newlines and surrounding blanks; such input is refused.
  const hasControl = [...value].some((ch) => (ch.codePointAt(0) ?? 0) < 0x20 || ch === "\u007f");
  if (hasControl || /\s/.test(value)) return false;
  try {
    const url = new URL(value);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "" && !url.username;
  } catch {
    return false;
  }
}

export const profileChanges = z.object({
  // Absent: unchanged; null: removed.
  avatar_url: zText(1, 1024)
    .refine(isHttpUrl, { message: "invalid or missing URL scheme (an http or https URL is required)" })
    .nullable()
    .optional(),
  // As at registration: 2 to 32 characters, checked again after trimming (with the same 400s).
  display_name: zText(2, 32).optional(),
});

export const userRoutes = new Hono<AppEnv>()
  // Both resolve a full handle (the username column is vestigial); `#` arrives as %23.
  .get("/users/by-username/:username", requireAuth, async (c) =>
    c.json(toUserPublic(await findByHandle(c.var.deps.db, c.req.param("username")))),
  )

  .get("/users/by-display-name/:display_name", requireAuth, async (c) =>
    c.json(toUserPublic(await findByHandle(c.var.deps.db, c.req.param("display_name")))),
  )

  .get("/users/search", requireAuth, validate("query", searchQuery), async (c) => {
    const { q, limit } = c.req.valid("query");
    const found = await searchUsers(c.var.deps.db, c.var.caller.userId, q, clamp(limit, SEARCH_LIMIT));
    return c.json(found.map(toUserPublic));
  })

  .get("/users/online", requireAuth, validate("query", onlineQuery), async (c) => {
    const ids = parseIds(c.req.valid("query").ids);
    if (ids.length > MAX_ONLINE_IDS) {
      throw validationFailed([
        {
          loc: ["query", "ids"],
          msg: `ensure this value has at most ${MAX_ONLINE_IDS} items`,
          type: "value_error.list.max_items",
          ctx: { limit_value: MAX_ONLINE_IDS },
        },
      ]);
    }
    const { deps, log, caller } = c.var;
    return c.json(await onlineStatuses({ db: deps.db, store: deps.store, log }, caller.userId, ids));
  })

  .patch("/users/me", requireAuth, jsonBody(profileChanges), async (c) => {
    const body = c.req.valid("json");
    const user = await updateProfile(c.var.deps.db, c.var.caller.userId, {
      avatarUrl: body.avatar_url,
      displayName: body.display_name,
    });
    return c.json(toUserRead(user));
  });

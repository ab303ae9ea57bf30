/**
 * Friend routes (docs/http-api.md#friends), with handles up to 37 characters, trimmed
 * (docs/original-defects.md#d10-long-handles), 409 and no event for a request that is no longer pending
 * (docs/original-defects.md#d12-settled-requests) and `q` matching the friend, not the caller
 * (docs/original-defects.md#d20-self-matching-search); unfriend and cancel added. `/friends` and `/friends/`
 * answer alike, without a redirect (docs/original-defects.md#d23-web-app-quirks).
 */
import { type Context, Hono } from "hono";
import { createFactory } from "hono/factory";
import { z } from "zod";
import type { AppEnv } from "../context";
import { requireAuth } from "../http/auth";
import { jsonBody, validate, zInt, zText } from "../http/validation";
import { toFriendRequestRead } from "../presenters/friends";
import { toUserPublic } from "../presenters/users";
import {
  acceptFriendRequest,
  cancelFriendRequest,
  declineFriendRequest,
  type FriendsContext,
  listFriends,
  listPendingRequests,
  sendFriendRequest,
  unfriend,
} from "../services/friends";

const LIMIT = { fallback: 20, min: 1, max: 50 };

/** As the original: limit clamped to 1..50 (default 20), a negative offset counts as 0. */
export const page = z.object({ limit: zInt().optional(), offset: zInt().optional() });
const pageOf = (query: z.output<typeof page>) => ({
  limit: Math.min(LIMIT.max, Math.max(LIMIT.min, query.limit ?? LIMIT.fallback)),
  offset: Math.max(0, query.offset ?? 0),
});

export const friendsQuery = page.extend({ q: zText(0, 255).optional() });
export const requestBody = z.object({
  // A full handle is up to 37 characters (docs/original-defects.md#d10-long-handles); surrounding blanks are
  // dropped first.
  addressee_display_name: z
    .string()
    .transform((value) => value.trim())
    .pipe(zText(2, 37)),
});
export const requestParam = z.object({ request_id: zInt() });
export const userParam = z.object({ user_id: zInt() });

const friendsContext = (c: Context<AppEnv>): FriendsContext => ({
  db: c.var.deps.db,
  notifier: c.var.deps.notifier,
  realtime: c.var.deps.realtime,
});

const listFriendsHandlers = createFactory<AppEnv>().createHandlers(
  requireAuth,
  validate("query", friendsQuery),
  async (c) => {
    const query = c.req.valid("query");
    const found = await listFriends(c.var.deps.db, c.var.caller.userId, query.q, pageOf(query));
    return c.json(found.map(toUserPublic));
  },
);

// One chain, so the routes' types reach the typed client (src/client.ts).
export const friendRoutes = new Hono<AppEnv>()
  // The web app calls `/friends`; the original's path is `/friends/`.
  .get("/friends", ...listFriendsHandlers)
  .get("/friends/", ...listFriendsHandlers)

  .post("/friends/requests", requireAuth, jsonBody(requestBody), async (c) => {
    const handle = c.req.valid("json").addressee_display_name;
    return c.json(
      toFriendRequestRead(await sendFriendRequest(friendsContext(c), c.var.caller.userId, handle)),
    );
  })

  .get("/friends/requests/incoming", requireAuth, validate("query", page), async (c) => {
    const requests = await listPendingRequests(
      c.var.deps.db,
      c.var.caller.userId,
      "incoming",
      pageOf(c.req.valid("query")),
    );
    return c.json(requests.map(toFriendRequestRead));
  })

  .get("/friends/requests/outgoing", requireAuth, validate("query", page), async (c) => {
    const requests = await listPendingRequests(
      c.var.deps.db,
      c.var.caller.userId,
      "outgoing",
      pageOf(c.req.valid("query")),
    );
    return c.json(requests.map(toFriendRequestRead));
  })

  .post("/friends/requests/:request_id/accept", requireAuth, validate("param", requestParam), async (c) => {
    const id = c.req.valid("param").request_id;
    return c.json(toFriendRequestRead(await acceptFriendRequest(friendsContext(c), c.var.caller.userId, id)));
  })

  .post("/friends/requests/:request_id/decline", requireAuth, validate("param", requestParam), async (c) => {
    const id = c.req.valid("param").request_id;
    return c.json(
      toFriendRequestRead(await declineFriendRequest(friendsContext(c), c.var.caller.userId, id)),
    );
  })

  // Additive: the requester withdraws a pending request.
  .delete("/friends/requests/:request_id", requireAuth, validate("param", requestParam), async (c) => {
    await cancelFriendRequest(friendsContext(c), c.var.caller.userId, c.req.valid("param").request_id);
    return c.body(null, 204);
  })

  // Additive: unfriend.
  .delete("/friends/:user_id", requireAuth, validate("param", userParam), async (c) => {
    await unfriend(friendsContext(c), c.var.caller.userId, c.req.valid("param").user_id);
    return c.body(null, 204);
  });

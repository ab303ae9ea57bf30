/**
 * Channel message routes (contract 2.8; D13, D14, D17), channel presence (2.7) and read state.
 *
 * - GET /channels/{id}/messages: keyset pages by id. `limit` is clamped to 1..100 (default 50).
 *   Without a cursor, or with `before_id`, the page holds the newest messages (below `before_id`),
 *   newest first, as the original's listing. With `after_id` it holds the oldest messages above it,
 *   oldest first, so that repeating the call with the last id received pages forward; with both,
 *   the messages between them, oldest first. Deleted messages are left out.
 * - POST /channels/{id}/messages: stored and broadcast by the channel's object (the single writer,
 *   src/realtime/channel-room.ts). 404, 403, then the post limit (429), as the contract orders them.
 *   The same `client_id` from the same user in the same channel within a day returns the first
 *   message (200, with `client_id`) instead of storing a second.
 * - PATCH and DELETE /channels/{id}/messages/{message_id}: edit (author only) and soft delete
 *   (author, or the workspace's owner or admins); broadcast as `message.updated` and
 *   `message.deleted`. Archived channels are read-only.
 * - GET /channels/{id}/presence: the users holding a chat socket on the channel right now.
 * - GET and POST /channels/{id}/read: the caller's read pointer, which only moves forward, and the
 *   unread count after it.
 *
 * The channel socket (routes/chat-socket.ts) is mounted here too, so the app mounts one module.
 */
import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../context";
import { AppError, forbidden, notFound } from "../errors";
import { requireAuth } from "../http/auth";
import { objectLimitRefusal } from "../http/rate-limit";
import { jsonBody, validate, zId, zInt } from "../http/validation";
import { toMessageRead, toReadState } from "../presenters/messages";
import { channelRoom, disconnectUserFromChannels } from "../realtime/channel-room";
import { isManager, requireChannelAccess } from "../services/access";
import {
  type ChangeOutcome,
  CLIENT_ID_MAX_CHARS,
  getReadState,
  listMessages,
  MESSAGE_MAX_CHARS,
  markChannelRead,
  normaliseClientId,
  PAGE_SIZE_DEFAULT,
  PAGE_SIZE_MAX,
  POST_WINDOW_MS,
} from "../services/messages";
import { chatSocketRoutes } from "./chat-socket";

/** 1..4000 code points, and not only whitespace (the original accepted even ""). */
const zContent = () =>
  z.string().superRefine((value, ctx) => {
    if (value.length === 0) {
      ctx.addIssue({ code: "too_small", origin: "string", minimum: 1, inclusive: true, input: value });
    } else if (value.trim() === "") {
      ctx.addIssue({ code: "custom", message: "content must not be blank", input: value });
    } else if (value.length > MESSAGE_MAX_CHARS && [...value].length > MESSAGE_MAX_CHARS) {
      ctx.addIssue({
        code: "too_big",
        origin: "string",
        maximum: MESSAGE_MAX_CHARS,
        inclusive: true,
        input: value,
      });
    }
  });

/** A message id cursor: 0 is allowed (`after_id=0` is "from the start"). */
const zCursor = () => zId().pipe(z.number().min(0));

export const channelParam = z.object({ channel_id: zId() });
export const messageParam = z.object({ channel_id: zId(), message_id: zId() });
export const pageQuery = z.object({
  // Clamped rather than refused, as the contract suggests: 0 and negatives give 1, above 100 gives 100.
  limit: zInt()
    .transform((n) => Math.min(PAGE_SIZE_MAX, Math.max(1, n)))
    .optional(),
  before_id: zCursor().optional(),
  after_id: zCursor().optional(),
});
export const messageCreate = z.object({
  content: zContent(),
  client_id: z.string().max(CLIENT_ID_MAX_CHARS).nullish(),
});
export const messageEdit = z.object({ content: zContent() });
export const readUpdate = z.object({ last_read_message_id: zCursor() });

const messageNotFound = () => notFound("Message not found");

function unwrapChange(outcome: ChangeOutcome) {
  if (outcome.kind === "not_found") throw messageNotFound();
  if (outcome.kind === "forbidden") throw forbidden();
  return outcome.message;
}

export const messageRoutes = new Hono<AppEnv>()
  .get(
    "/channels/:channel_id/messages",
    requireAuth,
    validate("param", channelParam),
    validate("query", pageQuery),
    async (c) => {
      const { channel_id } = c.req.valid("param");
      const query = c.req.valid("query");
      await requireChannelAccess(c.var.deps.db, channel_id, c.var.caller.userId);
      const page = await listMessages(c.var.deps.db, channel_id, {
        beforeId: query.before_id,
        afterId: query.after_id,
        limit: query.limit ?? PAGE_SIZE_DEFAULT,
      });
      // client_id is null in listings (contract 2.1): it is an echo for the sender, not data.
      return c.json(page.map((message) => toMessageRead(message)));
    },
  )

  .post(
    "/channels/:channel_id/messages",
    requireAuth,
    validate("param", channelParam),
    jsonBody(messageCreate),
    async (c) => {
      const { channel_id } = c.req.valid("param");
      const body = c.req.valid("json");
      const userId = c.var.caller.userId;
      const { channel } = await requireChannelAccess(c.var.deps.db, channel_id, userId, { write: true });
      const clientId = normaliseClientId(body.client_id);
      const result = await channelRoom(c.env.CHANNEL_ROOM, channel_id).post({
        channelId: channel_id,
        workspaceId: channel.workspaceId,
        userId,
        content: body.content,
        clientId: clientId.ok ? clientId.clientId : null,
      });
      // The object decides (one budget over REST and sockets; a retried client_id costs nothing);
      // the refusal is a 429 with rate headers (503 when the limiter is down and fails closed).
      if (result.kind === "rate_limited") {
        throw objectLimitRefusal(result, {
          rule: "channel-message",
          limit: c.var.config.messagePostLimitPer10Seconds,
          windowMs: POST_WINDOW_MS,
        });
      }
      if (result.kind === "gone") throw notFound();
      if (result.kind === "refused") throw new AppError(403, result.detail);
      return c.json(toMessageRead(result.message, result.clientId));
    },
  )

  .patch(
    "/channels/:channel_id/messages/:message_id",
    requireAuth,
    validate("param", messageParam),
    jsonBody(messageEdit),
    async (c) => {
      const { channel_id, message_id } = c.req.valid("param");
      const userId = c.var.caller.userId;
      const { channel } = await requireChannelAccess(c.var.deps.db, channel_id, userId, { write: true });
      const outcome = await channelRoom(c.env.CHANNEL_ROOM, channel_id).edit({
        channelId: channel_id,
        workspaceId: channel.workspaceId,
        messageId: message_id,
        userId,
        content: c.req.valid("json").content,
      });
      return c.json(toMessageRead(unwrapChange(outcome)));
    },
  )

  .delete(
    "/channels/:channel_id/messages/:message_id",
    requireAuth,
    validate("param", messageParam),
    async (c) => {
      const { channel_id, message_id } = c.req.valid("param");
      const userId = c.var.caller.userId;
      const { channel, role } = await requireChannelAccess(c.var.deps.db, channel_id, userId, {
        write: true,
      });
      const outcome = await channelRoom(c.env.CHANNEL_ROOM, channel_id).remove({
        channelId: channel_id,
        workspaceId: channel.workspaceId,
        messageId: message_id,
        userId,
        moderator: isManager(role),
      });
      unwrapChange(outcome);
      return c.body(null, 204);
    },
  )

  .get("/channels/:channel_id/presence", requireAuth, validate("param", channelParam), async (c) => {
    const { channel_id } = c.req.valid("param");
    await requireChannelAccess(c.var.deps.db, channel_id, c.var.caller.userId);
    return c.json(await channelRoom(c.env.CHANNEL_ROOM, channel_id).presence());
  })

  .get("/channels/:channel_id/read", requireAuth, validate("param", channelParam), async (c) => {
    const { channel_id } = c.req.valid("param");
    const userId = c.var.caller.userId;
    await requireChannelAccess(c.var.deps.db, channel_id, userId);
    return c.json(toReadState(await getReadState(c.var.deps.db, userId, channel_id)));
  })

  .post(
    "/channels/:channel_id/read",
    requireAuth,
    validate("param", channelParam),
    jsonBody(readUpdate),
    async (c) => {
      const { channel_id } = c.req.valid("param");
      const userId = c.var.caller.userId;
      await requireChannelAccess(c.var.deps.db, channel_id, userId);
      const state = await markChannelRead(
        c.var.deps.db,
        userId,
        channel_id,
        c.req.valid("json").last_read_message_id,
      );
      return c.json(toReadState(state));
    },
  )

  .route("/", chatSocketRoutes)

  // ENV=test only: which instance of a channel's object answers, so the suite can tell that an
  // idle object was evicted and re-created with its sockets (test/messages/hibernation.test.ts);
  // and the object's disconnect calls, which the membership routes are to make.
  .use("/__test__/channel-rooms/*", async (c, next) => {
    if (c.var.config?.env !== "test") throw notFound();
    await next();
  })
  .get("/__test__/channel-rooms/:channel_id", validate("param", channelParam), async (c) =>
    c.json(await channelRoom(c.env.CHANNEL_ROOM, c.req.valid("param").channel_id).testProbe()),
  )
  .post(
    "/__test__/channel-rooms/:channel_id/disconnect",
    validate("param", channelParam),
    jsonBody(z.object({ user_id: zId().optional() })),
    async (c) => {
      const { channel_id } = c.req.valid("param");
      const userId = c.req.valid("json").user_id;
      if (userId === undefined) {
        return c.json({ closed: await channelRoom(c.env.CHANNEL_ROOM, channel_id).disconnectAll() });
      }
      await disconnectUserFromChannels(c.env.CHANNEL_ROOM, [channel_id], userId, c.var.log);
      return c.json({ closed: null });
    },
  );

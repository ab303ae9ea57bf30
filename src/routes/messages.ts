/**
 * Channel message routes (docs/http-api.md#channel-messages; docs/original-defects.md#d13-paging), channel
 * presence and read state.
 * Every one is answered by the channel's object (realtime/channel-room.ts), the single gate of the
 * channel's messages: it decides access (404, then 403), counts the post limit (429) and writes.
 *
 * - GET /channels/{id}/messages: keyset pages by id. `limit` is clamped to 1..100 (default 50).
 *   Without a cursor, or with `before_id`, the page holds the newest messages (below `before_id`),
 *   newest first, as the original's listing. With `after_id` it holds the oldest messages above it,
 *   oldest first, so that repeating the call with the last id received pages forward; with both,
 *   the messages between them, oldest first. Deleted messages are left out. Replies are listed
 *   too unless `include_replies=false`, which lists thread roots only (a deleted root that has
 *   replies stays, as a tombstone without content, so its thread can be opened).
 * - POST /channels/{id}/messages: stored and broadcast. The same `client_id` from the same user in
 *   the same channel within a day returns the first message (200, with `client_id`) instead of
 *   storing a second. With `parent_id` the message is a reply in that root's thread (routes/threads.ts).
 * - PATCH and DELETE /channels/{id}/messages/{message_id}: edit (author only) and soft delete
 *   (author, or the workspace's owner or admins); broadcast as `message.updated` and
 *   `message.deleted`. Archived channels are read-only.
 * - GET /channels/{id}/presence: the users holding a chat socket on the channel right now.
 * - GET and POST /channels/{id}/read: the caller's read pointer, which only moves forward, and the
 *   unread count after it; a move is told to the caller's other sockets on the channel.
 */
import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../context";
import { requireAuth } from "../http/auth";
import {
  historyQuery,
  messageCreate,
  messageEdit,
  postedMessage,
  postInput,
  zCursor,
} from "../http/message-params";
import { unwrap } from "../http/refusals";
import { jsonBody, validate, zId } from "../http/validation";
import { toMessageRead, toReadState } from "../presenters/messages";
import { conversationStub } from "../realtime/port";
import { PAGE_SIZE_DEFAULT } from "../services/message-rules";

export { messageCreate, messageEdit };
export const channelParam = z.object({ channel_id: zId() });
export const messageParam = z.object({ channel_id: zId(), message_id: zId() });
export const pageQuery = historyQuery;
export const readUpdate = z.object({ last_read_message_id: zCursor() });

const room = (c: { env: AppEnv["Bindings"] }, channelId: number) =>
  conversationStub(c.env, "channel", channelId);

export const messageRoutes = new Hono<AppEnv>()
  .get(
    "/channels/:channel_id/messages",
    requireAuth,
    validate("param", channelParam),
    validate("query", pageQuery),
    async (c) => {
      const { channel_id } = c.req.valid("param");
      const query = c.req.valid("query");
      const page = unwrap(
        await room(c, channel_id).history({
          conversationId: channel_id,
          userId: c.var.caller.userId,
          page: {
            beforeId: query.before_id,
            afterId: query.after_id,
            limit: query.limit ?? PAGE_SIZE_DEFAULT,
          },
          includeReplies: query.include_replies ?? true,
        }),
      );
      // client_id is null in listings (docs/http-api.md#channel-messages): it is an echo for the sender, not
      // data.
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
      const { message, clientId: echo } = postedMessage(
        await room(c, channel_id).post(postInput(channel_id, c.var.caller.userId, c.req.valid("json"))),
      );
      return c.json(toMessageRead(message, echo));
    },
  )

  .patch(
    "/channels/:channel_id/messages/:message_id",
    requireAuth,
    validate("param", messageParam),
    jsonBody(messageEdit),
    async (c) => {
      const { channel_id, message_id } = c.req.valid("param");
      const message = unwrap(
        await room(c, channel_id).edit({
          conversationId: channel_id,
          userId: c.var.caller.userId,
          messageId: message_id,
          content: c.req.valid("json").content,
        }),
      );
      return c.json(toMessageRead(message));
    },
  )

  .delete(
    "/channels/:channel_id/messages/:message_id",
    requireAuth,
    validate("param", messageParam),
    async (c) => {
      const { channel_id, message_id } = c.req.valid("param");
      unwrap(
        await room(c, channel_id).remove({
          conversationId: channel_id,
          userId: c.var.caller.userId,
          messageId: message_id,
        }),
      );
      return c.body(null, 204);
    },
  )

  .get("/channels/:channel_id/presence", requireAuth, validate("param", channelParam), async (c) => {
    const { channel_id } = c.req.valid("param");
    return c.json(
      unwrap(await room(c, channel_id).presence({ conversationId: channel_id, userId: c.var.caller.userId })),
    );
  })

  .get("/channels/:channel_id/read", requireAuth, validate("param", channelParam), async (c) => {
    const { channel_id } = c.req.valid("param");
    const state = unwrap(
      await room(c, channel_id).readState({ conversationId: channel_id, userId: c.var.caller.userId }),
    );
    return c.json(toReadState(state));
  })

  .post(
    "/channels/:channel_id/read",
    requireAuth,
    validate("param", channelParam),
    jsonBody(readUpdate),
    async (c) => {
      const { channel_id } = c.req.valid("param");
      const state = unwrap(
        await room(c, channel_id).markRead({
          conversationId: channel_id,
          userId: c.var.caller.userId,
          lastReadMessageId: c.req.valid("json").last_read_message_id,
        }),
      );
      return c.json(toReadState(state));
    },
  );

/**
 * The three socket endpoints. Each handshake is authenticated by the Worker
 * (http/socket-handshake.ts) and handed to the object that holds such sockets, which makes its
 * own checks and answers the 101 (or a refusal before any upgrade):
 *
 * - `/ws/notifications`: the user's NotificationFeed (realtime/notification-feed.ts), which
 *   delivers the events services raise.
 * - `/ws/chat/{workspace_id}/{channel_id}`: the channel's ChannelRoom. It refuses (403, with a
 *   detail naming the reason) a channel that does not exist, that the caller may not read (not a
 *   member of its workspace; a private channel they are not in), or that is not in the workspace
 *   the URL names.
 * - `/ws/dm/{thread_id}`: the thread's DmThread; only its two participants get in.
 *
 * On chat and DM sockets `?since=<message id>` first sends the messages after that id, in order,
 * then live ones, with none lost or repeated in between; past CATCH_UP_MAX it sends one `resync`
 * event instead, telling the client to re-fetch through REST. The frames and events are described
 * in realtime/protocol/.
 */
import { Hono } from "hono";
import type { AppEnv } from "../context";
import { handshakeRefused, sinceParam, socketPathId, socketRoute } from "../http/socket-handshake";
import { feedName } from "../realtime/names";
import { conversationStub } from "../realtime/port";

export const socketRoutes = new Hono<AppEnv>()
  .get(
    "/ws/notifications",
    socketRoute((c, caller) => {
      const namespace = c.env.NOTIFICATION_FEED;
      return { stub: namespace.get(namespace.idFromName(feedName(caller.userId))), fields: {} };
    }),
  )
  .get(
    "/ws/chat/:workspace_id/:channel_id",
    socketRoute((c) => {
      const workspaceId = socketPathId(c.req.param("workspace_id"));
      const channelId = socketPathId(c.req.param("channel_id"));
      if (workspaceId === null || channelId === null) throw handshakeRefused("Not Found");
      return {
        stub: conversationStub(c.env, "channel", channelId),
        fields: { conversationId: channelId, workspaceId, since: sinceParam(c.req.query("since")) },
      };
    }),
  )
  .get(
    "/ws/dm/:thread_id",
    socketRoute((c) => {
      const threadId = socketPathId(c.req.param("thread_id"));
      if (threadId === null) throw handshakeRefused("Thread not found");
      return {
        stub: conversationStub(c.env, "dm", threadId),
        fields: { conversationId: threadId, since: sinceParam(c.req.query("since")) },
      };
    }),
  );

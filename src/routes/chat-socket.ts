/**
 * The channel socket `/ws/chat/{workspace_id}/{channel_id}` (contract 3.1 to 3.4; D2, D7, D21).
 *
 * The handshake makes exactly the checks REST makes, and refuses with HTTP 403 before any upgrade,
 * with a detail naming the reason: no or bad token, refresh token, revoked session (D7); a channel
 * that does not exist, that the caller may not read (not a member of its workspace; a private
 * channel they are not in, D3), or that is not in the workspace the URL names (D2). The socket
 * itself lives in the channel's ChannelRoom object (src/realtime/channel-room.ts).
 *
 * `?since=<message id>` (additive): the socket first receives the channel's messages after that
 * id, in order, then live ones, with none lost or repeated in between; when more than
 * CATCH_UP_MAX were missed it receives one `resync` event instead, telling it to re-fetch
 * through REST.
 */
import { Hono } from "hono";
import type { AppEnv } from "../context";
import { openRoomSocket } from "../realtime/channel-room";
import {
  asHandshakeRefusal,
  authenticateHandshake,
  handshakeRefused,
  isUpgrade,
  presentedToken,
  refuseForeignOrigin,
  sinceParam,
  socketPathId,
  upgradeRequired,
} from "../realtime/handshake";
import { requireChannelAccess } from "../services/access";

export const chatSocketRoutes = new Hono<AppEnv>().get("/ws/chat/:workspace_id/:channel_id", async (c) => {
  if (!isUpgrade(c)) return upgradeRequired(c);
  refuseForeignOrigin(c);
  const presented = presentedToken(c);
  const caller = await authenticateHandshake(c, presented.token);
  // For the request log line (user_id). The connect limit ran before this (http/rate-limit.ts).
  c.set("caller", caller);

  const workspaceId = socketPathId(c.req.param("workspace_id"));
  const channelId = socketPathId(c.req.param("channel_id"));
  if (workspaceId === null || channelId === null) throw handshakeRefused("Not Found");
  let channel: Awaited<ReturnType<typeof requireChannelAccess>>["channel"];
  try {
    ({ channel } = await requireChannelAccess(c.var.deps.db, channelId, caller.userId));
  } catch (error) {
    throw asHandshakeRefusal(error);
  }
  if (channel.workspaceId !== workspaceId) throw handshakeRefused("Channel is not in this workspace");
  const since = sinceParam(c.req.query("since"));

  return openRoomSocket(c.env.CHANNEL_ROOM, {
    userId: caller.userId,
    sessionId: caller.sessionId ?? null,
    expiresAtSeconds: caller.expiresAtSeconds,
    protocol: presented.protocol,
    workspaceId,
    channelId,
    since,
  });
});

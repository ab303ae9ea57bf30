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
import { validationFailed } from "../errors";
import { openRoomSocket } from "../realtime/channel-room";
import {
  asHandshakeRefusal,
  authenticateHandshake,
  handshakeRefused,
  isUpgrade,
  presentedToken,
  upgradeRequired,
} from "../realtime/handshake";
import { requireChannelAccess } from "../services/access";

const MAX_ID = 2_147_483_647;

/** A path id, or null when it cannot name any row. */
function pathId(raw: string | undefined): number | null {
  if (!raw || !/^\d{1,10}$/.test(raw)) return null;
  const id = Number(raw);
  return id >= 1 && id <= MAX_ID ? id : null;
}

/** `since`: absent or empty means no catch-up; anything but a non-negative integer is a 422. */
function sinceParam(raw: string | undefined): number | null {
  if (raw === undefined || raw.trim() === "") return null;
  if (/^\s*\d{1,10}\s*$/.test(raw) && Number(raw) <= MAX_ID) return Number(raw);
  throw validationFailed([
    { loc: ["query", "since"], msg: "value is not a valid integer", type: "type_error.integer" },
  ]);
}

export const chatSocketRoutes = new Hono<AppEnv>().get("/ws/chat/:workspace_id/:channel_id", async (c) => {
  if (!isUpgrade(c)) return upgradeRequired(c);
  const presented = presentedToken(c);
  const caller = await authenticateHandshake(c, presented.token);

  const workspaceId = pathId(c.req.param("workspace_id"));
  const channelId = pathId(c.req.param("channel_id"));
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

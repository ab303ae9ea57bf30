/**
 * The direct-message socket `/ws/dm/{thread_id}` (contract 3.1 to 3.4; D7, D8, D21).
 *
 * The handshake makes exactly the checks REST makes, and refuses with HTTP 403 before any upgrade,
 * with a detail naming the reason: no or bad token, refresh token, revoked session (D7); a thread
 * that does not exist ("Thread not found") or that the caller is not part of ("Not part of this
 * thread"). The socket itself lives in the thread's DmThread object (src/realtime/dm-thread.ts).
 *
 * `?since=<message id>` (additive), as on the channel socket: the socket first receives the
 * thread's messages after that id, in order, then live ones, with none lost or repeated in
 * between; past CATCH_UP_MAX it receives one `resync` event instead.
 */
import { Hono } from "hono";
import type { AppEnv } from "../context";
import { openThreadSocket, threadScope } from "../realtime/dm-thread";
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
import { requireThreadParticipant, type ThreadAccess } from "../services/access";

export const dmSocketRoutes = new Hono<AppEnv>().get("/ws/dm/:thread_id", async (c) => {
  if (!isUpgrade(c)) return upgradeRequired(c);
  refuseForeignOrigin(c);
  const presented = presentedToken(c);
  const caller = await authenticateHandshake(c, presented.token);
  c.set("caller", caller);

  const threadId = socketPathId(c.req.param("thread_id"));
  if (threadId === null) throw handshakeRefused("Thread not found");
  let access: ThreadAccess;
  try {
    access = await requireThreadParticipant(c.var.deps.db, threadId, caller.userId);
  } catch (error) {
    throw asHandshakeRefusal(error);
  }
  const since = sinceParam(c.req.query("since"));

  return openThreadSocket(c.env.DM_THREAD, {
    ...threadScope(access.thread),
    userId: caller.userId,
    sessionId: caller.sessionId ?? null,
    expiresAtSeconds: caller.expiresAtSeconds,
    protocol: presented.protocol,
    since,
  });
});

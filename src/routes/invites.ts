/**
 * Invite routes (docs/http-api.md#workspaces-members-and-invites;
 * docs/original-defects.md#d12-settled-requests): the invitee's side. The workspace's side (invite, list
 * and cancel outgoing invites) is in routes/workspaces.ts, under /workspaces/{id}/invites.
 */
import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../context";
import { requireAuth } from "../http/auth";
import { validate, zId } from "../http/validation";
import { toInviteRead } from "../presenters/invites";
import { answerInvite, listIncomingInvites } from "../services/invites";

export const inviteParam = z.object({ invite_id: zId() });

export const inviteRoutes = new Hono<AppEnv>()
  .get("/invites/incoming", requireAuth, async (c) => {
    const invites = await listIncomingInvites(c.var.deps.db, c.var.caller.userId);
    return c.json(invites.map(toInviteRead));
  })

  .post("/invites/:invite_id/accept", requireAuth, validate("param", inviteParam), async (c) => {
    const invite = await answerInvite(
      c.var.deps.db,
      c.var.deps,
      c.var.caller.userId,
      c.req.valid("param").invite_id,
      "accepted",
    );
    return c.json(toInviteRead(invite));
  })

  .post("/invites/:invite_id/decline", requireAuth, validate("param", inviteParam), async (c) => {
    const invite = await answerInvite(
      c.var.deps.db,
      c.var.deps,
      c.var.caller.userId,
      c.req.valid("param").invite_id,
      "declined",
    );
    return c.json(toInviteRead(invite));
  });

/** The invitee's side of invites (docs/http-api.md#workspaces-members-and-invites; src/routes/invites.ts). */
import { z } from "zod";
import { inviteParam } from "../../routes/invites";
import { operation } from "../define";
import { WorkspaceInviteRead } from "../schemas";

const tag = "invites";

const answer = (verb: "accept" | "decline") =>
  operation({
    method: "post",
    path: `/invites/{invite_id}/${verb}`,
    tag,
    summary: verb === "accept" ? "Accept an invite (joins the workspace)" : "Decline an invite",
    params: inviteParam,
    ok: { description: "The answered invite.", schema: WorkspaceInviteRead },
    errors: {
      403: "`Forbidden`: the caller is not the invitee.",
      404: "`Invite not found`.",
      409: "`Invite is no longer pending`.",
    },
  });

export const inviteOperations = [
  operation({
    method: "get",
    path: "/invites/incoming",
    tag,
    summary: "The caller's pending invites, newest first",
    ok: { description: "Pending invites.", schema: z.array(WorkspaceInviteRead) },
  }),
  answer("accept"),
  answer("decline"),
];

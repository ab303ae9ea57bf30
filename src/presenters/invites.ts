/**
 * WorkspaceInviteRead (docs/http-api.md#workspaces-members-and-invites): the REST shape and, unchanged, the
 * payload of the `invite.*` events, so timestamps are ISO strings
 * (docs/original-defects.md#d4-unencodable-events).
 */
import type { User, WorkspaceInvite } from "../db/schema";
import { isoTime, toUserPublic } from "./users";

type PublicUser = Pick<User, "id" | "displayName" | "avatarUrl">;

export interface InviteView {
  invite: WorkspaceInvite;
  /** "" when the workspace row is missing, as in the original. */
  workspaceName: string;
  inviter: PublicUser;
  invitee: PublicUser;
}

export type WorkspaceInviteRead = ReturnType<typeof toInviteRead>;

export function toInviteRead(view: InviteView) {
  return {
    id: view.invite.id,
    workspace_id: view.invite.workspaceId,
    workspace_name: view.workspaceName,
    status: view.invite.status,
    inviter: toUserPublic(view.inviter),
    invitee: toUserPublic(view.invitee),
    created_at: isoTime(view.invite.createdAt),
  };
}

/**
 * Workspaces and their members on the wire (WorkspaceRead, docs/http-api.md#workspaces-members-and-invites,
 * plus this project's member listing). `role` is additive: the caller's own role in the workspace.
 */
import type { User, Workspace } from "../db/schema";
import type { WorkspaceRole } from "../services/access";
import { isoTime, toUserPublic } from "./users";

export function toWorkspaceRead(workspace: Workspace, role?: WorkspaceRole | null) {
  return {
    id: workspace.id,
    name: workspace.name,
    slug: workspace.slug,
    owner_id: workspace.ownerId,
    created_at: isoTime(workspace.createdAt),
    ...(role ? { role } : {}),
  };
}

export interface WorkspaceMemberView {
  workspaceId: number;
  role: WorkspaceRole;
  joinedAt: Date;
  user: Pick<User, "id" | "displayName" | "avatarUrl">;
}

export function toWorkspaceMemberRead(member: WorkspaceMemberView) {
  return {
    workspace_id: member.workspaceId,
    user_id: member.user.id,
    role: member.role,
    user: toUserPublic(member.user),
    created_at: isoTime(member.joinedAt),
  };
}

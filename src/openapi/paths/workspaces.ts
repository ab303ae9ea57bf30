/** Workspace routes (docs/http-api.md#workspaces-members-and-invites; src/routes/workspaces.ts). */
import { z } from "zod";
import {
  auditPage,
  inviteCreate,
  inviteParam,
  memberParam,
  ownershipTransfer,
  roleChange,
  workspaceCreate,
  workspaceParam,
  workspaceUpdate,
} from "../../routes/workspaces";
import { operation } from "../define";
import { AuditLogPage, WorkspaceInviteRead, WorkspaceMemberRead, WorkspaceRead } from "../schemas";

const tag = "workspaces";

const NOT_FOUND = "`Not Found` or `Workspace not found`.";
const FORBIDDEN = "`Forbidden`: the caller's role does not allow it.";

const list = (path: string) =>
  operation({
    method: "get",
    path,
    tag,
    summary: "The caller's workspaces, newest first",
    description: "`/workspaces` and `/workspaces/` answer alike, without a redirect.",
    ok: { description: "Workspaces, with the caller's role.", schema: z.array(WorkspaceRead) },
  });

const create = (path: string) =>
  operation({
    method: "post",
    path,
    tag,
    summary: "Create a workspace (the caller owns it)",
    description: "An empty or missing `slug` is derived from the name.",
    body: workspaceCreate,
    ok: { description: "The new workspace.", schema: WorkspaceRead },
    errors: { 409: "`Slug already taken`." },
  });

export const workspaceOperations = [
  list("/workspaces"),
  list("/workspaces/"),
  create("/workspaces"),
  create("/workspaces/"),
  operation({
    method: "get",
    path: "/workspaces/{workspace_id}",
    tag,
    summary: "A workspace the caller belongs to",
    params: workspaceParam,
    ok: { description: "The workspace.", schema: WorkspaceRead },
    errors: { 403: "`Forbidden`: not a member.", 404: NOT_FOUND },
  }),
  operation({
    method: "patch",
    path: "/workspaces/{workspace_id}",
    tag,
    summary: "Rename a workspace or change its slug",
    params: workspaceParam,
    body: workspaceUpdate,
    ok: { description: "The updated workspace.", schema: WorkspaceRead },
    errors: { 403: FORBIDDEN, 404: NOT_FOUND, 409: "`Slug already taken`." },
  }),
  operation({
    method: "delete",
    path: "/workspaces/{workspace_id}",
    tag,
    summary: "Delete a workspace (owner only)",
    params: workspaceParam,
    ok: {
      status: 204,
      description:
        "Deleted, with its channels; their sockets are closed. DM threads started there stay; those " +
        "whose two people no longer share a workspace and are not friends become read-only.",
    },
    errors: { 403: FORBIDDEN, 404: NOT_FOUND },
  }),
  operation({
    method: "post",
    path: "/workspaces/{workspace_id}/invites",
    tag,
    summary: "Invite a user by handle",
    params: workspaceParam,
    body: inviteCreate,
    ok: { description: "The pending invite.", schema: WorkspaceInviteRead },
    errors: {
      400: "`Cannot invite yourself`, `User is already a member` or `Invite already pending`.",
      403: FORBIDDEN,
      404: "`Workspace not found` or `User not found`.",
    },
  }),
  operation({
    method: "get",
    path: "/workspaces/{workspace_id}/invites",
    tag,
    summary: "The workspace's pending invites",
    params: workspaceParam,
    ok: { description: "Pending invites.", schema: z.array(WorkspaceInviteRead) },
    errors: { 403: FORBIDDEN, 404: NOT_FOUND },
  }),
  operation({
    method: "delete",
    path: "/workspaces/{workspace_id}/invites/{invite_id}",
    tag,
    summary: "Cancel a pending invite",
    params: inviteParam,
    ok: { status: 204, description: "Cancelled." },
    errors: { 403: FORBIDDEN, 404: "`Invite not found`.", 409: "`Invite is no longer pending`." },
  }),
  operation({
    method: "get",
    path: "/workspaces/{workspace_id}/members",
    tag,
    summary: "The workspace's members",
    params: workspaceParam,
    ok: { description: "Members with their roles.", schema: z.array(WorkspaceMemberRead) },
    errors: { 403: "`Forbidden`: not a member.", 404: NOT_FOUND },
  }),
  operation({
    method: "patch",
    path: "/workspaces/{workspace_id}/members/{user_id}",
    tag,
    summary: "Change a member's role",
    params: memberParam,
    body: roleChange,
    ok: { description: "The member.", schema: WorkspaceMemberRead },
    errors: {
      400: "`Cannot change the owner's role; transfer ownership instead`.",
      403: FORBIDDEN,
      404: "`Member not found`.",
    },
  }),
  operation({
    method: "delete",
    path: "/workspaces/{workspace_id}/members/{user_id}",
    tag,
    summary: "Remove a member, or leave (the caller's own id)",
    params: memberParam,
    ok: {
      status: 204,
      description:
        "Removed; their channel sockets are closed, and their DM threads with people they no longer " +
        "reach become read-only (those threads' sockets are closed).",
    },
    errors: {
      400: "`The owner cannot leave the workspace; transfer ownership first`.",
      403: "`Forbidden`, `Cannot remove the owner` or `Only the owner can remove an admin`.",
      404: "`Member not found`.",
    },
  }),
  operation({
    method: "post",
    path: "/workspaces/{workspace_id}/transfer-ownership",
    tag,
    summary: "Transfer ownership to another member (owner only)",
    params: workspaceParam,
    body: ownershipTransfer,
    ok: { description: "The workspace, with the caller's new role.", schema: WorkspaceRead },
    errors: {
      400: "`You already own this workspace` or `User is not a member of this workspace`.",
      403: FORBIDDEN,
      404: NOT_FOUND,
    },
  }),
  operation({
    method: "get",
    path: "/workspaces/{workspace_id}/audit-logs",
    tag,
    summary: "The workspace's audit log, newest first (owner and admins)",
    description: "Page with `before_id` = the previous page's `next_before_id`.",
    params: workspaceParam,
    query: auditPage,
    ok: { description: "One page.", schema: AuditLogPage },
    errors: { 403: FORBIDDEN, 404: NOT_FOUND },
  }),
];

/**
 * Workspace routes (docs/http-api.md#workspaces-members-and-invites;
 * docs/original-defects.md#d17-missing-features): the original's create, list, read and invite, served at
 * `/workspaces` and `/workspaces/` alike without a redirect, and the routes the original lacked: rename,
 * delete, members and roles, ownership transfer, leaving, outgoing invites, and the audit log.
 */
import { Hono } from "hono";
import { createFactory } from "hono/factory";
import { z } from "zod";
import type { AppEnv } from "../context";
import { requireAuth } from "../http/auth";
import { jsonBody, validate, zId, zInt, zName, zText } from "../http/validation";
import { toAuditLogPage } from "../presenters/audit-logs";
import { toInviteRead } from "../presenters/invites";
import { toWorkspaceMemberRead, toWorkspaceRead } from "../presenters/workspaces";
import { ASSIGNABLE_ROLES } from "../services/access";
import { AUDIT_PAGE_MAX, listAuditLogs } from "../services/audit-log";
import { cancelInvite, createInvite, listWorkspaceInvites } from "../services/invites";
import {
  changeMemberRole,
  listMembers,
  removeMember,
  transferOwnership,
} from "../services/workspace-members";
import {
  createWorkspace,
  deleteWorkspace,
  getWorkspace,
  listWorkspaces,
  updateWorkspace,
} from "../services/workspaces";

export const WORKSPACE_NAME_MAX = 100;
export const SLUG_MAX = 100;

export const workspaceParam = z.object({ workspace_id: zId() });
export const memberParam = z.object({ workspace_id: zId(), user_id: zId() });
export const inviteParam = z.object({ workspace_id: zId(), invite_id: zId() });

/** An empty or missing slug is derived from the name, as in the original. */
export const workspaceCreate = z.object({
  name: zName(1, WORKSPACE_NAME_MAX),
  slug: zName(0, SLUG_MAX).nullish(),
});
export const workspaceUpdate = z
  .object({ name: zName(1, WORKSPACE_NAME_MAX).optional(), slug: zName(1, SLUG_MAX).optional() })
  .refine((body) => body.name !== undefined || body.slug !== undefined, {
    message: "at least one of name, slug is required",
  });
export const inviteCreate = z.object({ invitee_display_name: zText(0, 255) });
export const roleChange = z.object({ role: z.enum(ASSIGNABLE_ROLES) });
export const ownershipTransfer = z.object({ user_id: zId() });
export const auditPage = z.object({
  before_id: zId().optional(),
  limit: zInt().pipe(z.number().min(1).max(AUDIT_PAGE_MAX)).optional(),
});

const factory = createFactory<AppEnv>();

const listWorkspacesHandlers = factory.createHandlers(requireAuth, async (c) => {
  const list = await listWorkspaces(c.var.deps.db, c.var.caller.userId);
  return c.json(list.map(({ workspace, role }) => toWorkspaceRead(workspace, role)));
});

const createWorkspaceHandlers = factory.createHandlers(requireAuth, jsonBody(workspaceCreate), async (c) => {
  const { workspace, role } = await createWorkspace(c.var.deps.db, c.var.caller.userId, c.req.valid("json"));
  return c.json(toWorkspaceRead(workspace, role));
});

export const workspaceRoutes = new Hono<AppEnv>()
  // The web client calls these without the slash; both answer alike, without a redirect
  // (docs/original-defects.md#d23-web-app-quirks).
  .get("/workspaces", ...listWorkspacesHandlers)
  .get("/workspaces/", ...listWorkspacesHandlers)
  .post("/workspaces", ...createWorkspaceHandlers)
  .post("/workspaces/", ...createWorkspaceHandlers)

  .get("/workspaces/:workspace_id", requireAuth, validate("param", workspaceParam), async (c) => {
    const { workspace, role } = await getWorkspace(
      c.var.deps.db,
      c.var.caller.userId,
      c.req.valid("param").workspace_id,
    );
    return c.json(toWorkspaceRead(workspace, role));
  })

  .patch(
    "/workspaces/:workspace_id",
    requireAuth,
    validate("param", workspaceParam),
    jsonBody(workspaceUpdate),
    async (c) => {
      const { workspace, role } = await updateWorkspace(
        c.var.deps.db,
        c.var.caller.userId,
        c.req.valid("param").workspace_id,
        c.req.valid("json"),
      );
      return c.json(toWorkspaceRead(workspace, role));
    },
  )

  .delete("/workspaces/:workspace_id", requireAuth, validate("param", workspaceParam), async (c) => {
    const { workspace_id } = c.req.valid("param");
    await deleteWorkspace(c.var.deps.db, c.var.deps, c.var.caller.userId, workspace_id);
    return c.body(null, 204);
  })

  .post(
    "/workspaces/:workspace_id/invites",
    requireAuth,
    validate("param", workspaceParam),
    jsonBody(inviteCreate),
    async (c) => {
      const invite = await createInvite(
        c.var.deps.db,
        c.var.deps.notifier,
        c.var.caller.userId,
        c.req.valid("param").workspace_id,
        c.req.valid("json").invitee_display_name,
      );
      return c.json(toInviteRead(invite));
    },
  )

  .get("/workspaces/:workspace_id/invites", requireAuth, validate("param", workspaceParam), async (c) => {
    const invites = await listWorkspaceInvites(
      c.var.deps.db,
      c.var.caller.userId,
      c.req.valid("param").workspace_id,
    );
    return c.json(invites.map(toInviteRead));
  })

  .delete(
    "/workspaces/:workspace_id/invites/:invite_id",
    requireAuth,
    validate("param", inviteParam),
    async (c) => {
      const { workspace_id, invite_id } = c.req.valid("param");
      await cancelInvite(c.var.deps.db, c.var.deps.notifier, c.var.caller.userId, workspace_id, invite_id);
      return c.body(null, 204);
    },
  )

  .get("/workspaces/:workspace_id/members", requireAuth, validate("param", workspaceParam), async (c) => {
    const members = await listMembers(c.var.deps.db, c.var.caller.userId, c.req.valid("param").workspace_id);
    return c.json(members.map(toWorkspaceMemberRead));
  })

  .patch(
    "/workspaces/:workspace_id/members/:user_id",
    requireAuth,
    validate("param", memberParam),
    jsonBody(roleChange),
    async (c) => {
      const { workspace_id, user_id } = c.req.valid("param");
      const member = await changeMemberRole(
        c.var.deps.db,
        c.var.deps,
        c.var.caller.userId,
        workspace_id,
        user_id,
        c.req.valid("json").role,
      );
      return c.json(toWorkspaceMemberRead(member));
    },
  )

  // Removes a member, or leaves the workspace when the user is the caller.
  .delete(
    "/workspaces/:workspace_id/members/:user_id",
    requireAuth,
    validate("param", memberParam),
    async (c) => {
      const { workspace_id, user_id } = c.req.valid("param");
      await removeMember(c.var.deps.db, c.var.deps, c.var.caller.userId, workspace_id, user_id);
      return c.body(null, 204);
    },
  )

  .post(
    "/workspaces/:workspace_id/transfer-ownership",
    requireAuth,
    validate("param", workspaceParam),
    jsonBody(ownershipTransfer),
    async (c) => {
      const { workspace, role } = await transferOwnership(
        c.var.deps.db,
        c.var.deps,
        c.var.caller.userId,
        c.req.valid("param").workspace_id,
        c.req.valid("json").user_id,
      );
      return c.json(toWorkspaceRead(workspace, role));
    },
  )

  .get(
    "/workspaces/:workspace_id/audit-logs",
    requireAuth,
    validate("param", workspaceParam),
    validate("query", auditPage),
    async (c) => {
      const query = c.req.valid("query");
      const page = await listAuditLogs(
        c.var.deps.db,
        c.var.caller.userId,
        c.req.valid("param").workspace_id,
        {
          beforeId: query.before_id,
          limit: query.limit,
        },
      );
      return c.json(toAuditLogPage(page.entries, page.nextBeforeId));
    },
  );

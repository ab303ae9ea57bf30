/**
 * The members of a workspace (docs/http-api.md#workspaces-members-and-invites;
 * docs/original-defects.md#d17-missing-features): list them, change roles, transfer ownership, remove a
 * member or leave.
 *
 * Every change is written with its audit entry in one transaction, and the affected users are
 * told through the notifier, and the conversation objects through the realtime port, once it is
 * committed.
 */
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import { channelMembers, channels, users, type Workspace, workspaceMembers, workspaces } from "../db/schema";
import { badRequest, forbidden, notFound } from "../errors";
import { toWorkspaceRead, type WorkspaceMemberView } from "../presenters/workspaces";
import {
  type AssignableRole,
  effectiveRole,
  findWorkspaceRole,
  type Queryable,
  requireWorkspaceManager,
  requireWorkspaceMember,
  requireWorkspaceOwner,
  threadsOutOfReach,
  type WorkspaceAccess,
  type WorkspaceRole,
} from "./access";
import { recordAudit } from "./audit-log";
import { workspaceChannelIds } from "./channels";
import type { Effects } from "./effects";
import { notifyAll, publicUser } from "./events";
import type { NotificationEvent } from "./notifier";

const ROLE_ORDER = sql`case ${workspaceMembers.role} when 'owner' then 0 when 'admin' then 1 else 2 end`;

/** Members with their roles: the owner first, then admins, then members, each by joining order. */
export async function listMembers(
  db: Queryable,
  callerId: number,
  workspaceId: number,
): Promise<WorkspaceMemberView[]> {
  const { workspace } = await requireWorkspaceMember(db, workspaceId, callerId);
  const rows = await db
    .select({
      role: workspaceMembers.role,
      joinedAt: workspaceMembers.createdAt,
      user: { id: users.id, displayName: users.displayName, avatarUrl: users.avatarUrl },
    })
    .from(workspaceMembers)
    .innerJoin(users, eq(users.id, workspaceMembers.userId))
    .where(eq(workspaceMembers.workspaceId, workspaceId))
    .orderBy(sql`${workspaceMembers.userId} <> ${workspace.ownerId}`, ROLE_ORDER, asc(workspaceMembers.id));
  return rows.map((row) => ({
    workspaceId,
    joinedAt: row.joinedAt,
    user: row.user,
    role: effectiveRole(workspace.ownerId, row.user.id, row.role) ?? "member",
  }));
}

async function memberView(db: Queryable, workspace: Workspace, userId: number): Promise<WorkspaceMemberView> {
  const found = await findWorkspaceRole(db, workspace.id, userId);
  const [row] = await db
    .select({
      joinedAt: workspaceMembers.createdAt,
      user: { id: users.id, displayName: users.displayName, avatarUrl: users.avatarUrl },
    })
    .from(workspaceMembers)
    .innerJoin(users, eq(users.id, workspaceMembers.userId))
    .where(and(eq(workspaceMembers.workspaceId, workspace.id), eq(workspaceMembers.userId, userId)));
  if (!row || !found?.role) throw notFound("Member not found");
  return { workspaceId: workspace.id, role: found.role, joinedAt: row.joinedAt, user: row.user };
}

/** The target's role, or 404 "Member not found". */
async function requireTarget(db: Queryable, workspaceId: number, userId: number): Promise<WorkspaceRole> {
  const found = await findWorkspaceRole(db, workspaceId, userId);
  if (!found?.role) throw notFound("Member not found");
  return found.role;
}

function roleChangedEvent(workspace: Workspace, role: WorkspaceRole, by: unknown): NotificationEvent {
  return { type: "workspace.role_changed", payload: { workspace: toWorkspaceRead(workspace), role, by } };
}

/** Owner only; the owner's own role changes only by a transfer. */
export async function changeMemberRole(
  db: Queryable,
  effects: Effects,
  callerId: number,
  workspaceId: number,
  targetId: number,
  role: AssignableRole,
): Promise<WorkspaceMemberView> {
  const { workspace } = await requireWorkspaceOwner(db, workspaceId, callerId);
  const current = await requireTarget(db, workspaceId, targetId);
  if (current === "owner") throw badRequest("Cannot change the owner's role; transfer ownership instead");
  if (current !== role) {
    await db.transaction(async (tx) => {
      await tx
        .update(workspaceMembers)
        .set({ role })
        .where(and(eq(workspaceMembers.workspaceId, workspaceId), eq(workspaceMembers.userId, targetId)));
      await recordAudit(tx, {
        workspaceId,
        actorUserId: callerId,
        action: "member.role_changed",
        targetType: "user",
        targetId,
        details: { role: { from: current, to: role } },
      });
    });
    // Moderation rights in every channel of the workspace follow the role.
    await effects.realtime.accessChanged("channel", await workspaceChannelIds(db, workspaceId), [targetId]);
    await notifyAll(effects.notifier, [
      [targetId, roleChangedEvent(workspace, role, await publicUser(db, callerId))],
    ]);
  }
  return memberView(db, workspace, targetId);
}

/** The owner hands the workspace to another member and stays on as an admin. */
export async function transferOwnership(
  db: Queryable,
  effects: Effects,
  callerId: number,
  workspaceId: number,
  targetId: number,
): Promise<WorkspaceAccess> {
  await requireWorkspaceOwner(db, workspaceId, callerId);
  if (targetId === callerId) throw badRequest("You already own this workspace");
  const target = await findWorkspaceRole(db, workspaceId, targetId);
  if (!target?.role) throw badRequest("User is not a member of this workspace");
  const updated = await db.transaction(async (tx) => {
    // Only while the caller still owns it: two concurrent transfers cannot both win.
    const [row] = await tx
      .update(workspaces)
      .set({ ownerId: targetId })
      .where(and(eq(workspaces.id, workspaceId), eq(workspaces.ownerId, callerId)))
      .returning();
    if (!row) throw forbidden();
    const setRole = (userId: number, role: WorkspaceRole) =>
      tx
        .insert(workspaceMembers)
        .values({ workspaceId, userId, role })
        .onConflictDoUpdate({
          target: [workspaceMembers.workspaceId, workspaceMembers.userId],
          set: { role },
        });
    await setRole(targetId, "owner");
    await setRole(callerId, "admin");
    await recordAudit(tx, {
      workspaceId,
      actorUserId: callerId,
      action: "workspace.ownership_transferred",
      targetType: "user",
      targetId,
      details: { from_user_id: callerId, to_user_id: targetId },
    });
    return row;
  });
  await effects.realtime.accessChanged("channel", await workspaceChannelIds(db, workspaceId), [
    targetId,
    callerId,
  ]);
  const by = await publicUser(db, callerId);
  await notifyAll(effects.notifier, [
    [targetId, roleChangedEvent(updated, "owner", by)],
    [callerId, roleChangedEvent(updated, "admin", by)],
  ]);
  return { workspace: updated, role: "admin" };
}

/**
 * Removes a member, or leaves when the target is the caller. Admins may remove members but not
 * other admins; nobody removes the owner, who leaves only after transferring ownership. The
 * member's channel memberships in the workspace go with them; their direct-message threads stay,
 * read-only with the members they can no longer reach (services/access.ts).
 */
export async function removeMember(
  db: Queryable,
  effects: Effects,
  callerId: number,
  workspaceId: number,
  targetId: number,
): Promise<void> {
  const leaving = targetId === callerId;
  const { workspace, role: callerRole } = leaving
    ? await requireWorkspaceMember(db, workspaceId, callerId)
    : await requireWorkspaceManager(db, workspaceId, callerId);
  const targetRole = leaving ? callerRole : await requireTarget(db, workspaceId, targetId);
  if (targetRole === "owner") {
    throw leaving
      ? badRequest("The owner cannot leave the workspace; transfer ownership first")
      : forbidden("Cannot remove the owner");
  }
  if (!leaving && callerRole === "admin" && targetRole === "admin") {
    throw forbidden("Only the owner can remove an admin");
  }
  const remaining = await db.transaction(async (tx) => {
    await tx
      .delete(channelMembers)
      .where(
        and(
          eq(channelMembers.userId, targetId),
          inArray(
            channelMembers.channelId,
            tx.select({ id: channels.id }).from(channels).where(eq(channels.workspaceId, workspaceId)),
          ),
        ),
      );
    await tx
      .delete(workspaceMembers)
      .where(and(eq(workspaceMembers.workspaceId, workspaceId), eq(workspaceMembers.userId, targetId)));
    await recordAudit(tx, {
      workspaceId,
      actorUserId: callerId,
      action: leaving ? "member.left" : "member.removed",
      targetType: "user",
      targetId,
      details: { role: targetRole },
    });
    return tx
      .select({ userId: workspaceMembers.userId })
      .from(workspaceMembers)
      .where(eq(workspaceMembers.workspaceId, workspaceId));
  });
  const partners = [workspace.ownerId, ...remaining.map((m) => m.userId)];
  const readOnlyThreadIds = await threadsOutOfReach(db, [targetId], partners);
  // Their sockets on the workspace's channels close, and on threads that lost their reach.
  await effects.realtime.accessChanged("channel", await workspaceChannelIds(db, workspaceId), [targetId]);
  await effects.realtime.accessChanged("dm", readOnlyThreadIds);
  await notifyAll(effects.notifier, [
    [
      targetId,
      {
        type: "workspace.member_removed",
        payload: {
          workspace_id: workspaceId,
          workspace_name: workspace.name,
          reason: leaving ? "left" : "removed",
          by: await publicUser(db, callerId),
        },
      },
    ],
  ]);
}

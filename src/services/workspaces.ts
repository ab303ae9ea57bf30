/**
 * Workspaces (docs/http-api.md#workspaces-members-and-invites;
 * docs/original-defects.md#d9-500s-for-ordinary-mistakes): create, list, read, rename, delete. Their members
 * (roles, ownership, removal, leaving) are in workspace-members.ts.
 *
 * Every change is written with its audit entry in one transaction, and the affected users are
 * told through the notifier once it is committed.
 */
import { and, desc, eq, inArray, or, sql } from "drizzle-orm";
import { uniqueViolation } from "../db/errors";
import {
  channelMembers,
  channels,
  messages,
  type Workspace,
  workspaceInvites,
  workspaceMembers,
  workspaces,
} from "../db/schema";
import { conflict, notFound } from "../errors";
import { toInviteRead } from "../presenters/invites";
import {
  effectiveRole,
  type Queryable,
  requireWorkspaceManager,
  requireWorkspaceMember,
  requireWorkspaceOwner,
  threadsOutOfReach,
  type WorkspaceAccess,
} from "./access";
import { changes, recordAudit } from "./audit-log";
import { workspaceChannelIds } from "./channels";
import type { Effects } from "./effects";
import { notifyAll, publicUser } from "./events";
import { listPendingInvites } from "./invites";
import { forgetChannelMentions } from "./mentions";
import type { NotificationEvent } from "./notifier";

const SLUG_CONSTRAINT = "uq_workspaces_slug";
const slugTaken = () => conflict("Slug already taken");

/** The original's derivation, kept so the same name gives the same slug: lower-cased, spaces to "-". */
export const slugFromName = (name: string) => name.toLowerCase().replaceAll(" ", "-");

async function assertSlugFree(db: Queryable, slug: string, exceptWorkspaceId?: number) {
  const [taken] = await db.select({ id: workspaces.id }).from(workspaces).where(eq(workspaces.slug, slug));
  if (taken && taken.id !== exceptWorkspaceId) throw slugTaken();
}

/** Runs `work`, answering a slug that a concurrent request took first like one taken before. */
async function withSlugConflict<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (uniqueViolation(error) === SLUG_CONSTRAINT) throw slugTaken();
    throw error;
  }
}

export async function createWorkspace(
  db: Queryable,
  callerId: number,
  input: { name: string; slug?: string | null },
): Promise<WorkspaceAccess> {
  const slug = input.slug || slugFromName(input.name);
  await assertSlugFree(db, slug);
  const workspace = await withSlugConflict(() =>
    db.transaction(async (tx) => {
      const [created] = await tx
        .insert(workspaces)
        .values({ name: input.name, slug, ownerId: callerId })
        .returning();
      const workspace = created as Workspace;
      await tx
        .insert(workspaceMembers)
        .values({ workspaceId: workspace.id, userId: callerId, role: "owner" });
      await recordAudit(tx, {
        workspaceId: workspace.id,
        actorUserId: callerId,
        action: "workspace.created",
        targetType: "workspace",
        targetId: workspace.id,
        details: { name: workspace.name, slug: workspace.slug },
      });
      return workspace;
    }),
  );
  return { workspace, role: "owner" };
}

/** Workspaces the caller owns or belongs to, newest first. */
export async function listWorkspaces(db: Queryable, callerId: number): Promise<WorkspaceAccess[]> {
  const rows = await db
    .select({ workspace: workspaces, role: workspaceMembers.role })
    .from(workspaces)
    .leftJoin(
      workspaceMembers,
      and(eq(workspaceMembers.workspaceId, workspaces.id), eq(workspaceMembers.userId, callerId)),
    )
    .where(or(eq(workspaces.ownerId, callerId), sql`${workspaceMembers.id} is not null`))
    .orderBy(desc(workspaces.createdAt), desc(workspaces.id));
  return rows.map(({ workspace, role }) => ({
    workspace,
    role: effectiveRole(workspace.ownerId, callerId, role) ?? "member",
  }));
}

/** GET /workspaces/{id}: 404 "Not Found" / 403 "Forbidden" as in the original. */
export function getWorkspace(db: Queryable, callerId: number, workspaceId: number): Promise<WorkspaceAccess> {
  return requireWorkspaceMember(db, workspaceId, callerId, { missing: notFound() });
}

export async function updateWorkspace(
  db: Queryable,
  callerId: number,
  workspaceId: number,
  input: { name?: string; slug?: string },
): Promise<WorkspaceAccess> {
  const { workspace, role } = await requireWorkspaceManager(db, workspaceId, callerId);
  const changed = changes({ name: workspace.name, slug: workspace.slug }, input);
  if (Object.keys(changed).length === 0) return { workspace, role };
  if (changed.slug) await assertSlugFree(db, input.slug as string, workspaceId);
  const updated = await withSlugConflict(() =>
    db.transaction(async (tx) => {
      const [row] = await tx
        .update(workspaces)
        .set({ name: input.name ?? workspace.name, slug: input.slug ?? workspace.slug })
        .where(eq(workspaces.id, workspaceId))
        .returning();
      await recordAudit(tx, {
        workspaceId,
        actorUserId: callerId,
        action: "workspace.updated",
        targetType: "workspace",
        targetId: workspaceId,
        details: changed,
      });
      return row as Workspace;
    }),
  );
  return { workspace: updated, role };
}

/**
 * Deletes the workspace and everything in it (channels, their messages and members, invites,
 * memberships). Direct-message threads are not in it: they belong to their two people, and keep
 * their messages (their `workspace_id` becomes null, by the foreign key); those whose people no
 * longer reach each other become read-only (services/access.ts). Its audit trail stays, ending
 * with the deletion. Members are told with `workspace.deleted`; people with a pending invite
 * with `invite.cancelled`, which makes the web app refetch its invites.
 */
export async function deleteWorkspace(
  db: Queryable,
  effects: Effects,
  callerId: number,
  workspaceId: number,
): Promise<void> {
  const { workspace } = await requireWorkspaceOwner(db, workspaceId, callerId);
  const channelIdsBefore = await workspaceChannelIds(db, workspaceId);
  const { memberIds, pendingInvites } = await db.transaction(async (tx) => {
    const members = await tx
      .select({ userId: workspaceMembers.userId })
      .from(workspaceMembers)
      .where(eq(workspaceMembers.workspaceId, workspaceId));
    const pendingInvites = await listPendingInvites(tx, workspaceId);
    const channelIds = tx
      .select({ id: channels.id })
      .from(channels)
      .where(eq(channels.workspaceId, workspaceId));
    await forgetChannelMentions(tx, channelIds);
    await tx.delete(messages).where(inArray(messages.channelId, channelIds));
    await tx.delete(channelMembers).where(inArray(channelMembers.channelId, channelIds));
    await tx.delete(channels).where(eq(channels.workspaceId, workspaceId));
    await tx.delete(workspaceInvites).where(eq(workspaceInvites.workspaceId, workspaceId));
    await tx.delete(workspaceMembers).where(eq(workspaceMembers.workspaceId, workspaceId));
    await tx.delete(workspaces).where(eq(workspaces.id, workspaceId));
    await recordAudit(tx, {
      workspaceId,
      actorUserId: callerId,
      action: "workspace.deleted",
      targetType: "workspace",
      targetId: workspaceId,
      details: { name: workspace.name, slug: workspace.slug },
    });
    return { memberIds: new Set([callerId, ...members.map((m) => m.userId)]), pendingInvites };
  });
  const formerMembers = [...memberIds];
  const readOnlyThreadIds = await threadsOutOfReach(db, formerMembers, formerMembers);
  const deleted: NotificationEvent = {
    type: "workspace.deleted",
    payload: {
      workspace_id: workspaceId,
      workspace_name: workspace.name,
      by: await publicUser(db, callerId),
    },
  };
  await notifyAll(effects.notifier, [
    ...[...memberIds].map((userId): [number, NotificationEvent] => [userId, deleted]),
    ...pendingInvites.map((view): [number, NotificationEvent] => [
      view.invitee.id,
      { type: "invite.cancelled", payload: toInviteRead(view) },
    ]),
  ]);
  await effects.realtime.conversationsDeleted("channel", channelIdsBefore);
  await effects.realtime.accessChanged("dm", readOnlyThreadIds);
}

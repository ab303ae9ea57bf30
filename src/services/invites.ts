/**
 * Workspace invites (docs/http-api.md#workspaces-members-and-invites;
 * docs/original-defects.md#d12-settled-requests, docs/original-defects.md#d18-relationships): the owner and
 * admins invite by handle, list and cancel their workspace's pending invites; the invitee lists, accepts or
 * declines. Only a pending invite can be answered or cancelled (409 otherwise, and no event).
 */
import { and, desc, eq, sql } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import { users, workspaceInvites, workspaceMembers, workspaces } from "../db/schema";
import { badRequest, conflict, forbidden, notFound } from "../errors";
import { type InviteView, toInviteRead } from "../presenters/invites";
import { toWorkspaceRead } from "../presenters/workspaces";
import { isWorkspaceMember, type Queryable, requireWorkspaceManager, threadsBetween } from "./access";
import { recordAudit } from "./audit-log";
import { workspaceChannelIds } from "./channels";
import type { Effects } from "./effects";
import { notifyAll } from "./events";
import type { Notifier } from "./notifier";

const inviteNotFound = () => notFound("Invite not found");
const noLongerPending = () => conflict("Invite is no longer pending");

const inviter = alias(users, "inviter");
const invitee = alias(users, "invitee");

/** Invites with what WorkspaceInviteRead shows of their workspace and people. */
function selectInviteViews(db: Queryable) {
  return db
    .select({
      invite: workspaceInvites,
      workspaceName: sql<string>`coalesce(${workspaces.name}, '')`,
      inviter: { id: inviter.id, displayName: inviter.displayName, avatarUrl: inviter.avatarUrl },
      invitee: { id: invitee.id, displayName: invitee.displayName, avatarUrl: invitee.avatarUrl },
    })
    .from(workspaceInvites)
    .leftJoin(workspaces, eq(workspaces.id, workspaceInvites.workspaceId))
    .innerJoin(inviter, eq(inviter.id, workspaceInvites.inviterUserId))
    .innerJoin(invitee, eq(invitee.id, workspaceInvites.inviteeUserId));
}

async function inviteView(db: Queryable, inviteId: number): Promise<InviteView | undefined> {
  const [row] = await selectInviteViews(db).where(eq(workspaceInvites.id, inviteId));
  return row;
}

/** POST /workspaces/{id}/invites, with the original's order of checks. */
export async function createInvite(
  db: Queryable,
  notifier: Notifier,
  callerId: number,
  workspaceId: number,
  inviteeHandle: string,
): Promise<InviteView> {
  await requireWorkspaceManager(db, workspaceId, callerId);
  const handle = inviteeHandle.trim();
  const [target] = handle
    ? await db
        .select({ id: users.id })
        .from(users)
        .where(sql`lower(${users.displayName}) = lower(${handle})`)
        .limit(1)
    : [];
  if (!target) throw notFound("User not found");
  if (target.id === callerId) throw badRequest("Cannot invite yourself");
  if (await isWorkspaceMember(db, workspaceId, target.id)) throw badRequest("User is already a member");

  const created = await db.transaction(async (tx) => {
    // The partial unique index on pending invites settles concurrent invitations of the same person.
    const [row] = await tx
      .insert(workspaceInvites)
      .values({ workspaceId, inviterUserId: callerId, inviteeUserId: target.id, status: "pending" })
      .onConflictDoNothing()
      .returning();
    if (!row) throw badRequest("Invite already pending");
    await recordAudit(tx, {
      workspaceId,
      actorUserId: callerId,
      action: "invite.created",
      targetType: "invite",
      targetId: row.id,
      details: { invitee_user_id: target.id },
    });
    return row;
  });
  const view = (await inviteView(db, created.id)) as InviteView;
  await notifyAll(notifier, [[target.id, { type: "invite.created", payload: toInviteRead(view) }]]);
  return view;
}

/** The caller's pending invites, newest first. */
export async function listIncomingInvites(db: Queryable, callerId: number): Promise<InviteView[]> {
  return selectInviteViews(db)
    .where(and(eq(workspaceInvites.inviteeUserId, callerId), eq(workspaceInvites.status, "pending")))
    .orderBy(desc(workspaceInvites.createdAt), desc(workspaceInvites.id));
}

/** A workspace's pending invites, newest first (no access check: for callers that made theirs). */
export function listPendingInvites(db: Queryable, workspaceId: number): Promise<InviteView[]> {
  return selectInviteViews(db)
    .where(and(eq(workspaceInvites.workspaceId, workspaceId), eq(workspaceInvites.status, "pending")))
    .orderBy(desc(workspaceInvites.createdAt), desc(workspaceInvites.id));
}

/** A workspace's pending invites, newest first: its owner and admins only. */
export async function listWorkspaceInvites(
  db: Queryable,
  callerId: number,
  workspaceId: number,
): Promise<InviteView[]> {
  await requireWorkspaceManager(db, workspaceId, callerId);
  return listPendingInvites(db, workspaceId);
}

type Answer = "accepted" | "declined";

/**
 * Accepts or declines: 404 unknown, 403 not the invitee, 409 no longer pending
 * (docs/original-defects.md#d12-settled-requests: no event then). Accepting makes the invitee a member unless
 * they already are.
 */
export async function answerInvite(
  db: Queryable,
  effects: Effects,
  callerId: number,
  inviteId: number,
  answer: Answer,
): Promise<InviteView> {
  const [invite] = await db.select().from(workspaceInvites).where(eq(workspaceInvites.id, inviteId));
  if (!invite) throw inviteNotFound();
  if (invite.inviteeUserId !== callerId) throw forbidden();
  if (invite.status !== "pending") throw noLongerPending();

  const joined = await db.transaction(async (tx) => {
    // Conditional on still pending: of two concurrent answers, only one changes anything.
    const [updated] = await tx
      .update(workspaceInvites)
      .set({ status: answer })
      .where(and(eq(workspaceInvites.id, inviteId), eq(workspaceInvites.status, "pending")))
      .returning();
    if (!updated) throw noLongerPending();
    let joined = false;
    if (answer === "accepted") {
      const inserted = await tx
        .insert(workspaceMembers)
        .values({ workspaceId: invite.workspaceId, userId: callerId, role: "member" })
        .onConflictDoNothing({ target: [workspaceMembers.workspaceId, workspaceMembers.userId] })
        .returning({ id: workspaceMembers.id });
      joined = inserted.length > 0;
    }
    await recordAudit(tx, {
      workspaceId: invite.workspaceId,
      actorUserId: callerId,
      action: answer === "accepted" ? "invite.accepted" : "invite.declined",
      targetType: "invite",
      targetId: inviteId,
      details: { inviter_user_id: invite.inviterUserId },
    });
    if (joined) {
      await recordAudit(tx, {
        workspaceId: invite.workspaceId,
        actorUserId: callerId,
        action: "member.joined",
        targetType: "user",
        targetId: callerId,
        details: { role: "member", invite_id: inviteId },
      });
    }
    return joined;
  });

  const view = (await inviteView(db, inviteId)) as InviteView;
  const payload = toInviteRead(view);
  const deliveries: Parameters<typeof notifyAll>[1] = [
    [invite.inviterUserId, { type: answer === "accepted" ? "invite.accepted" : "invite.declined", payload }],
  ];
  if (joined) {
    const [workspace] = await db.select().from(workspaces).where(eq(workspaces.id, invite.workspaceId));
    if (workspace) {
      deliveries.push([
        callerId,
        {
          type: "workspace.member_added",
          payload: { workspace: toWorkspaceRead(workspace), role: "member", by: payload.inviter },
        },
      ]);
    }
  }
  if (joined) {
    // A new member reads the workspace's public channels at once, whatever a channel remembered,
    // and threads with its members that were read-only are live again.
    const channelIds = await workspaceChannelIds(db, invite.workspaceId);
    await effects.realtime.accessChanged("channel", channelIds, [callerId]);
    const members = await db
      .select({ userId: workspaceMembers.userId })
      .from(workspaceMembers)
      .where(eq(workspaceMembers.workspaceId, invite.workspaceId));
    const threads = await threadsBetween(
      db,
      [callerId],
      members.map((m) => m.userId),
    );
    await effects.realtime.accessChanged("dm", threads);
  }
  await notifyAll(effects.notifier, deliveries);
  return view;
}

/**
 * Withdraws a pending invite (owner and admins). The row is deleted, so the invitee's accept then
 * answers 404; the invitee is told with `invite.cancelled` (the invite as it was).
 */
export async function cancelInvite(
  db: Queryable,
  notifier: Notifier,
  callerId: number,
  workspaceId: number,
  inviteId: number,
): Promise<void> {
  await requireWorkspaceManager(db, workspaceId, callerId);
  const view = await inviteView(db, inviteId);
  if (!view || view.invite.workspaceId !== workspaceId) throw inviteNotFound();
  if (view.invite.status !== "pending") throw noLongerPending();
  await db.transaction(async (tx) => {
    const deleted = await tx
      .delete(workspaceInvites)
      .where(and(eq(workspaceInvites.id, inviteId), eq(workspaceInvites.status, "pending")))
      .returning({ id: workspaceInvites.id });
    if (deleted.length === 0) throw noLongerPending();
    await recordAudit(tx, {
      workspaceId,
      actorUserId: callerId,
      action: "invite.cancelled",
      targetType: "invite",
      targetId: inviteId,
      details: { invitee_user_id: view.invite.inviteeUserId, inviter_user_id: view.invite.inviterUserId },
    });
  });
  await notifyAll(notifier, [
    [view.invite.inviteeUserId, { type: "invite.cancelled", payload: toInviteRead(view) }],
  ]);
}

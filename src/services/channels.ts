/**
 * Channels (docs/http-api.md#channels; docs/original-defects.md#d3-private-channels): create, list, read,
 * rename, set the topic, archive, delete, and the members of a channel, which decide who sees a private one.
 *
 * Names are unique per workspace, case-insensitively. The original allowed duplicates, so an
 * adopted database may hold some and a unique index could not be added; instead, every name
 * change in a workspace takes a transaction-scoped advisory lock on it, which makes the check
 * and the write one step.
 */
import { and, asc, eq, ne, or, sql } from "drizzle-orm";
import { type Channel, channelMembers, channels, messages, users } from "../db/schema";
import { badRequest, conflict, forbidden, notFound } from "../errors";
import type { ChannelMemberView } from "../presenters/channels";
import { toChannelRead } from "../presenters/channels";
import {
  canSeeChannel,
  findChannelAccess,
  isManager,
  isWorkspaceMember,
  type Queryable,
  requireChannelAccess,
  requireChannelManager,
  requireWorkspaceManager,
  requireWorkspaceMember,
} from "./access";
import { changes, recordAudit } from "./audit-log";
import type { Effects } from "./effects";
import { notifyAll, publicUser } from "./events";
import { forgetChannelMentions } from "./mentions";

/** First key of the advisory lock on a workspace's channel names ("Chan"); the second is the workspace id. */
const CHANNEL_NAMES_LOCK = 0x4368616e;

async function lockChannelNames(tx: Queryable, workspaceId: number) {
  await tx.execute(sql`select pg_advisory_xact_lock(${CHANNEL_NAMES_LOCK}::int, ${workspaceId}::int)`);
}

async function assertNameFree(tx: Queryable, workspaceId: number, name: string, exceptChannelId?: number) {
  const [taken] = await tx
    .select({ id: channels.id })
    .from(channels)
    .where(
      and(
        eq(channels.workspaceId, workspaceId),
        sql`lower(${channels.name}) = lower(${name})`,
        exceptChannelId === undefined ? undefined : ne(channels.id, exceptChannelId),
      ),
    )
    .limit(1);
  if (taken) throw conflict("Channel name already taken");
}

/**
 * Owners and admins create channels; the creator becomes the channel's first member. A missing
 * workspace answers 403, as the original does for these routes.
 */
export async function createChannel(
  db: Queryable,
  callerId: number,
  workspaceId: number,
  input: { name: string; isPrivate: boolean },
): Promise<Channel> {
  await requireWorkspaceManager(db, workspaceId, callerId, { missing: forbidden() });
  return db.transaction(async (tx) => {
    await lockChannelNames(tx, workspaceId);
    await assertNameFree(tx, workspaceId, input.name);
    const [created] = await tx
      .insert(channels)
      .values({ workspaceId, name: input.name, isPrivate: input.isPrivate })
      .returning();
    const channel = created as Channel;
    await tx.insert(channelMembers).values({ channelId: channel.id, userId: callerId });
    await recordAudit(tx, {
      workspaceId,
      actorUserId: callerId,
      action: "channel.created",
      targetType: "channel",
      targetId: channel.id,
      details: { name: channel.name, is_private: channel.isPrivate },
    });
    return channel;
  });
}

/** The channels of a workspace the caller can see (public ones, and private ones they are in), by id. */
export async function listChannels(
  db: Queryable,
  callerId: number,
  workspaceId: number,
  options: { includeArchived: boolean },
): Promise<Channel[]> {
  await requireWorkspaceMember(db, workspaceId, callerId, { missing: forbidden() });
  const rows = await db
    .select({ channel: channels })
    .from(channels)
    .leftJoin(
      channelMembers,
      and(eq(channelMembers.channelId, channels.id), eq(channelMembers.userId, callerId)),
    )
    .where(
      and(
        eq(channels.workspaceId, workspaceId),
        or(eq(channels.isPrivate, false), sql`${channelMembers.id} is not null`),
        options.includeArchived ? undefined : eq(channels.isArchived, false),
      ),
    )
    .orderBy(asc(channels.id));
  return rows.map((row) => row.channel);
}

export async function getChannel(db: Queryable, callerId: number, channelId: number): Promise<Channel> {
  return (await requireChannelAccess(db, channelId, callerId)).channel;
}

export interface ChannelChanges {
  name?: string;
  /** null clears it. */
  topic?: string | null;
  isArchived?: boolean;
}

export async function updateChannel(
  db: Queryable,
  effects: Effects,
  callerId: number,
  channelId: number,
  input: ChannelChanges,
): Promise<Channel> {
  const { channel } = await requireChannelManager(db, channelId, callerId);
  const result = await db.transaction(async (tx) => {
    if (input.name !== undefined && input.name !== channel.name) {
      await lockChannelNames(tx, channel.workspaceId);
      await assertNameFree(tx, channel.workspaceId, input.name, channel.id);
    }
    // Read again under the lock, so the audit entry records what this change replaced.
    const [current] = await tx.select().from(channels).where(eq(channels.id, channelId));
    if (!current) throw notFound();
    const changed = changes(
      { name: current.name, topic: current.topic, is_archived: current.isArchived },
      { name: input.name, topic: input.topic, is_archived: input.isArchived },
    );
    if (Object.keys(changed).length === 0) return { current, changed: false };
    const [updated] = await tx
      .update(channels)
      .set({ name: input.name, topic: input.topic, isArchived: input.isArchived })
      .where(eq(channels.id, channelId))
      .returning();
    await recordAudit(tx, {
      workspaceId: channel.workspaceId,
      actorUserId: callerId,
      action: "channel.updated",
      targetType: "channel",
      targetId: channelId,
      details: changed,
    });
    return { current: updated as Channel, changed: true };
  });
  // Archiving makes the channel read-only for everyone in it.
  if (result.changed) await effects.realtime.accessChanged("channel", [channelId]);
  return result.current;
}

/** Deletes the channel with its messages and members (owners and admins). */
export async function deleteChannel(
  db: Queryable,
  effects: Effects,
  callerId: number,
  channelId: number,
): Promise<void> {
  const { channel } = await requireChannelManager(db, channelId, callerId);
  await db.transaction(async (tx) => {
    await forgetChannelMentions(tx, [channelId]);
    await tx.delete(messages).where(eq(messages.channelId, channelId));
    await tx.delete(channelMembers).where(eq(channelMembers.channelId, channelId));
    await tx.delete(channels).where(eq(channels.id, channelId));
    await recordAudit(tx, {
      workspaceId: channel.workspaceId,
      actorUserId: callerId,
      action: "channel.deleted",
      targetType: "channel",
      targetId: channelId,
      details: { name: channel.name, is_private: channel.isPrivate },
    });
  });
  await effects.realtime.conversationsDeleted("channel", [channelId]);
}

/** Who is in the channel: for those who can see it, and for the workspace's owner and admins. */
export async function listChannelMembers(
  db: Queryable,
  callerId: number,
  channelId: number,
): Promise<ChannelMemberView[]> {
  const found = await findChannelAccess(db, channelId, callerId);
  if (!found) throw notFound();
  const allowed =
    found.role && (canSeeChannel(found.channel, found.isChannelMember) || isManager(found.role));
  if (!allowed) throw forbidden();
  const rows = await db
    .select({
      joinedAt: channelMembers.createdAt,
      user: { id: users.id, displayName: users.displayName, avatarUrl: users.avatarUrl },
    })
    .from(channelMembers)
    .innerJoin(users, eq(users.id, channelMembers.userId))
    .where(eq(channelMembers.channelId, channelId))
    .orderBy(asc(channelMembers.id));
  return rows.map((row) => ({ channelId, joinedAt: row.joinedAt, user: row.user }));
}

/**
 * Adds a member of the workspace to the channel: owners and admins add anyone; a member may join
 * a public channel themselves.
 */
export async function addChannelMember(
  db: Queryable,
  effects: Effects,
  callerId: number,
  channelId: number,
  userId: number,
): Promise<ChannelMemberView> {
  const found = await findChannelAccess(db, channelId, callerId);
  if (!found) throw notFound();
  const selfJoin = userId === callerId && found.role !== null && !found.channel.isPrivate;
  if (!isManager(found.role) && !selfJoin) throw forbidden();
  const { channel } = found;
  if (!(await isWorkspaceMember(db, channel.workspaceId, userId))) {
    throw badRequest("User is not a member of this workspace");
  }
  const [added] = await db.transaction(async (tx) => {
    const inserted = await tx
      .insert(channelMembers)
      .values({ channelId, userId })
      .onConflictDoNothing({ target: [channelMembers.channelId, channelMembers.userId] })
      .returning();
    if (inserted.length === 0) throw badRequest("User is already a member of this channel");
    await recordAudit(tx, {
      workspaceId: channel.workspaceId,
      actorUserId: callerId,
      action: "channel.member_added",
      targetType: "channel",
      targetId: channelId,
      details: { user_id: userId },
    });
    return inserted;
  });
  await effects.realtime.accessChanged("channel", [channelId], [userId]);
  const by = await publicUser(db, callerId);
  await notifyAll(effects.notifier, [
    [userId, { type: "channel.member_added", payload: { channel: toChannelRead(channel), by } }],
  ]);
  const [user] = await db
    .select({ id: users.id, displayName: users.displayName, avatarUrl: users.avatarUrl })
    .from(users)
    .where(eq(users.id, userId));
  return {
    channelId,
    joinedAt: (added as { createdAt: Date }).createdAt,
    user: user as ChannelMemberView["user"],
  };
}

/** Removes a member from the channel (owners and admins), or leaves it (anyone in it). */
export async function removeChannelMember(
  db: Queryable,
  effects: Effects,
  callerId: number,
  channelId: number,
  userId: number,
): Promise<void> {
  const found = await findChannelAccess(db, channelId, callerId);
  if (!found) throw notFound();
  const leaving = userId === callerId && found.role !== null;
  if (!isManager(found.role) && !leaving) throw forbidden();
  const { channel } = found;
  await db.transaction(async (tx) => {
    const removed = await tx
      .delete(channelMembers)
      .where(and(eq(channelMembers.channelId, channelId), eq(channelMembers.userId, userId)))
      .returning({ id: channelMembers.id });
    if (removed.length === 0) throw notFound("Member not found");
    await recordAudit(tx, {
      workspaceId: channel.workspaceId,
      actorUserId: callerId,
      action: "channel.member_removed",
      targetType: "channel",
      targetId: channelId,
      details: { user_id: userId, reason: leaving ? "left" : "removed" },
    });
  });
  // Their sockets on the channel close, unless they may still read it (a public channel).
  await effects.realtime.accessChanged("channel", [channelId], [userId]);
  const by = await publicUser(db, callerId);
  await notifyAll(effects.notifier, [
    [
      userId,
      {
        type: "channel.member_removed",
        payload: {
          channel_id: channelId,
          workspace_id: channel.workspaceId,
          channel_name: channel.name,
          reason: leaving ? "left" : "removed",
          by,
        },
      },
    ],
  ]);
}

/** Ids of a workspace's channels (to close their sockets when members or the workspace go). */
export async function workspaceChannelIds(db: Queryable, workspaceId: number): Promise<number[]> {
  const rows = await db
    .select({ id: channels.id })
    .from(channels)
    .where(eq(channels.workspaceId, workspaceId));
  return rows.map((row) => row.id);
}

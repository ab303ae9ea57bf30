/**
 * Who may see and do what in a workspace: the one place for workspace roles and channel
 * visibility, used by every route and socket that touches a workspace or a channel.
 *
 * The rules (docs/original-defects.md#d3-private-channels, docs/original-defects.md#d17-missing-features):
 * - A workspace's members are its `workspace_members` rows; its `owner_id` is always the owner,
 *   even in an adopted database where that row is missing or says otherwise.
 * - The owner and admins manage (invite, create and manage channels, remove members); only the
 *   owner deletes the workspace, transfers ownership and changes roles.
 * - A public channel is open to every member of its workspace; a private one only to its
 *   `channel_members`, whatever their workspace role. Owners and admins may still manage a private
 *   channel they are not in (rename, archive, delete, add or remove members): that is how one
 *   recovers a private channel whose members all left, and the audit log records it.
 * - Missing things answer 404 and existing ones the caller may not reach 403, as the original
 *   does; the detail strings are the original's, per route, so callers pass their own 404.
 * - Who can reach whom: two people can reach each other while they share a workspace (as members;
 *   a workspace's `owner_id` counts as one) or are friends. That one rule (`reachable`, below)
 *   decides who may open a direct-message thread (docs/original-defects.md#d18-relationships), who may keep
 *   writing in one and hold its socket, and whom /users/search and /users/online reveal
 *   (docs/original-defects.md#d19-user-discovery).
 * - A direct-message thread belongs to its two participants, and only to them, whatever workspace
 *   it was opened from (docs/http-api.md#direct-messages): 404 "Thread not found", 403 "Not part of this
 *   thread". Nothing a third party does (deleting a workspace, removing a member) deletes it. While its two
 *   people can reach each other it is a live conversation; once they cannot, it is read-only:
 *   both still read its history, move their read pointer and delete their own messages, but
 *   nobody posts, edits or holds its socket (403 THREAD_READ_ONLY), until they can reach each
 *   other again (a new shared workspace, a friendship). Its socket carries presence, typing and
 *   read receipts, which only pass between people within reach, as /users/online does.
 */
import { type AnyColumn, and, eq, type SQL, sql } from "drizzle-orm";
import type { PgDatabase } from "drizzle-orm/pg-core";
import type { PostgresJsQueryResultHKT } from "drizzle-orm/postgres-js";
import {
  type Channel,
  channelMembers,
  channels,
  type DirectMessageThread,
  directMessageThreads,
  friends,
  type Workspace,
  workspaceMembers,
  workspaces,
} from "../db/schema";
import { type AppError, forbidden, notFound } from "../errors";

/** The database or a transaction on it: access checks also run inside transactions. */
export type Queryable = PgDatabase<PostgresJsQueryResultHKT>;

export const WORKSPACE_ROLES = ["owner", "admin", "member"] as const;
export type WorkspaceRole = (typeof WORKSPACE_ROLES)[number];

/** Roles an owner may hand out with a role change; ownership moves only by transfer. */
export const ASSIGNABLE_ROLES = ["admin", "member"] as const;
export type AssignableRole = (typeof ASSIGNABLE_ROLES)[number];

export interface WorkspaceAccess {
  workspace: Workspace;
  role: WorkspaceRole;
}

export interface ChannelAccess {
  channel: Channel;
  /** The caller's role in the channel's workspace. */
  role: WorkspaceRole;
  isChannelMember: boolean;
}

/**
 * The role that counts: `owner_id` decides who the owner is. A stored "owner" on anyone else (possible
 * in an adopted database) counts as admin, and an unknown stored role as member.
 */
export function effectiveRole(ownerId: number, userId: number, stored: string | null): WorkspaceRole | null {
  if (ownerId === userId) return "owner";
  if (stored === null) return null;
  if (stored === "owner" || stored === "admin") return "admin";
  return "member";
}

export const isManager = (role: WorkspaceRole | null) => role === "owner" || role === "admin";

/** The workspace and the user's role in it (null when not a member), or undefined if it does not exist. */
export async function findWorkspaceRole(
  db: Queryable,
  workspaceId: number,
  userId: number,
): Promise<{ workspace: Workspace; role: WorkspaceRole | null } | undefined> {
  const [row] = await db
    .select({ workspace: workspaces, role: workspaceMembers.role })
    .from(workspaces)
    .leftJoin(
      workspaceMembers,
      and(eq(workspaceMembers.workspaceId, workspaces.id), eq(workspaceMembers.userId, userId)),
    )
    .where(eq(workspaces.id, workspaceId))
    .limit(1);
  if (!row) return undefined;
  return { workspace: row.workspace, role: effectiveRole(row.workspace.ownerId, userId, row.role) };
}

export interface MissingWorkspace {
  /** What a missing workspace answers; routes differ (404 "Not Found", 404 "Workspace not found", 403). */
  missing?: AppError;
}

const workspaceNotFound = () => notFound("Workspace not found");

/** Any member of the workspace, else 403; its role. */
export async function requireWorkspaceMember(
  db: Queryable,
  workspaceId: number,
  userId: number,
  options: MissingWorkspace = {},
): Promise<WorkspaceAccess> {
  const found = await findWorkspaceRole(db, workspaceId, userId);
  if (!found) throw options.missing ?? workspaceNotFound();
  if (!found.role) throw forbidden();
  return { workspace: found.workspace, role: found.role };
}

/** The owner or an admin, else 403. */
export async function requireWorkspaceManager(
  db: Queryable,
  workspaceId: number,
  userId: number,
  options: MissingWorkspace = {},
): Promise<WorkspaceAccess> {
  const access = await requireWorkspaceMember(db, workspaceId, userId, options);
  if (!isManager(access.role)) throw forbidden();
  return access;
}

/** The owner only, else 403. */
export async function requireWorkspaceOwner(
  db: Queryable,
  workspaceId: number,
  userId: number,
  options: MissingWorkspace = {},
): Promise<WorkspaceAccess> {
  const access = await requireWorkspaceMember(db, workspaceId, userId, options);
  if (access.role !== "owner") throw forbidden();
  return access;
}

/** The channel with the user's standing in it, or undefined if the channel does not exist. */
export async function findChannelAccess(
  db: Queryable,
  channelId: number,
  userId: number,
): Promise<{ channel: Channel; role: WorkspaceRole | null; isChannelMember: boolean } | undefined> {
  const [row] = await db
    .select({
      channel: channels,
      ownerId: workspaces.ownerId,
      role: workspaceMembers.role,
      channelMemberId: channelMembers.id,
    })
    .from(channels)
    .innerJoin(workspaces, eq(workspaces.id, channels.workspaceId))
    .leftJoin(
      workspaceMembers,
      and(eq(workspaceMembers.workspaceId, channels.workspaceId), eq(workspaceMembers.userId, userId)),
    )
    .leftJoin(
      channelMembers,
      and(eq(channelMembers.channelId, channels.id), eq(channelMembers.userId, userId)),
    )
    .where(eq(channels.id, channelId))
    .limit(1);
  if (!row) return undefined;
  return {
    channel: row.channel,
    role: effectiveRole(row.ownerId, userId, row.role),
    isChannelMember: row.channelMemberId !== null,
  };
}

/** Whether a workspace member with this standing sees the channel (listings, reads, posts, sockets). */
export function canSeeChannel(channel: Pick<Channel, "isPrivate">, isChannelMember: boolean): boolean {
  return !channel.isPrivate || isChannelMember;
}

export interface ChannelAccessOptions {
  /** Also refuse an archived channel (for posting): 403 "Channel is archived". */
  write?: boolean;
}

/**
 * Read access to a channel: 404 "Not Found" if it does not exist; 403 "Forbidden" unless the user
 * is a member of its workspace and, for a private channel, of the channel.
 */
export async function requireChannelAccess(
  db: Queryable,
  channelId: number,
  userId: number,
  options: ChannelAccessOptions = {},
): Promise<ChannelAccess> {
  const found = await findChannelAccess(db, channelId, userId);
  if (!found) throw notFound();
  if (!found.role || !canSeeChannel(found.channel, found.isChannelMember)) throw forbidden();
  if (options.write && found.channel.isArchived) throw forbidden("Channel is archived");
  return { channel: found.channel, role: found.role, isChannelMember: found.isChannelMember };
}

/** Management of a channel (rename, archive, delete, members): its workspace's owner or an admin. */
export async function requireChannelManager(
  db: Queryable,
  channelId: number,
  userId: number,
): Promise<ChannelAccess> {
  const found = await findChannelAccess(db, channelId, userId);
  if (!found) throw notFound();
  if (!isManager(found.role)) throw forbidden();
  return {
    channel: found.channel,
    role: found.role as WorkspaceRole,
    isChannelMember: found.isChannelMember,
  };
}

/** Whether the user is a member of the workspace (for checks on someone other than the caller). */
export async function isWorkspaceMember(
  db: Queryable,
  workspaceId: number,
  userId: number,
): Promise<boolean> {
  const found = await findWorkspaceRole(db, workspaceId, userId);
  return Boolean(found?.role);
}

/** A user id in SQL: a number, a column, or an expression of the outer query. */
export type UserIdSql = number | AnyColumn | SQL;

/**
 * SQL that is true while users `a` and `b` can reach each other: they share a workspace (its
 * `workspace_members` rows, or its `owner_id`, which counts even where an adopted database lacks
 * the owner's row) or they are friends. Written once, here; every check of reach uses it.
 */
export function reachable(userA: UserIdSql, userB: UserIdSql): SQL {
  // A number is sent as an untyped parameter: cast it, or least()/greatest() would see text.
  const typed = (user: UserIdSql) => (typeof user === "number" ? sql`${user}::int` : user);
  const [a, b] = [typed(userA), typed(userB)];
  const workspacesOf = (user: SQL | AnyColumn) => sql`
    select workspace_id from ${workspaceMembers} where user_id = ${user}
    union all select id from ${workspaces} where owner_id = ${user}`;
  return sql`(
    exists (
      select 1 from (${workspacesOf(a)}) as mine
      join (${workspacesOf(b)}) as theirs on theirs.workspace_id = mine.workspace_id
    )
    or exists (
      select 1 from ${friends}
      where user1_id = least(${a}, ${b}) and user2_id = greatest(${a}, ${b})
    )
  )`;
}

/** Whether two users can reach each other (see `reachable`). */
export async function canReach(db: Queryable, a: number, b: number): Promise<boolean> {
  const rows = await db.execute<{ reachable: boolean }>(sql`select ${reachable(a, b)} as reachable`);
  return rows[0]?.reachable === true;
}

/** The 403 detail, and socket close reason, of a thread whose participants can no longer reach each other. */
export const THREAD_READ_ONLY =
  "Thread is read-only: its participants share no workspace and are not friends";

export interface ThreadAccess {
  thread: DirectMessageThread;
  /** The participant who is not the caller. */
  otherUserId: number;
}

/** Whether the user is one of the thread's two participants. */
export const isThreadParticipant = (
  thread: Pick<DirectMessageThread, "user1Id" | "user2Id">,
  userId: number,
) => thread.user1Id === userId || thread.user2Id === userId;

export interface ThreadAccessOptions {
  /**
   * The live conversation: posting, editing, and holding the thread's socket. Refused with 403
   * THREAD_READ_ONLY while the participants cannot reach each other. Without it (reading,
   * listing, read pointers, deleting one's own messages) participation is enough.
   */
  live?: boolean;
}

/**
 * A direct-message thread the user takes part in (REST and the /ws/dm handshake alike): 404 "Thread
 * not found" if it does not exist, 403 "Not part of this thread" if the user is not a participant,
 * and with `live`, 403 THREAD_READ_ONLY if its two participants can no longer reach each other.
 */
export async function requireThreadParticipant(
  db: Queryable,
  threadId: number,
  userId: number,
  options: ThreadAccessOptions = {},
): Promise<ThreadAccess> {
  const [row] = await db
    .select({
      thread: directMessageThreads,
      reachable: options.live
        ? sql<boolean>`${reachable(directMessageThreads.user1Id, directMessageThreads.user2Id)}`
        : sql<boolean>`true`,
    })
    .from(directMessageThreads)
    .where(eq(directMessageThreads.id, threadId));
  if (!row) throw notFound("Thread not found");
  const { thread } = row;
  if (!isThreadParticipant(thread, userId)) throw forbidden("Not part of this thread");
  if (!row.reachable) throw forbidden(THREAD_READ_ONLY);
  return { thread, otherUserId: thread.user1Id === userId ? thread.user2Id : thread.user1Id };
}

/**
 * The threads between one of `participants` and one of `partners` whose two people can no longer
 * reach each other: what a change of membership or friendship among them turned read-only (their
 * objects are then told, which closes their sockets). Asked after the change is committed.
 */
export function threadsOutOfReach(
  db: Queryable,
  participants: readonly number[],
  partners: readonly number[],
) {
  return threadsBetween(db, participants, partners, { outOfReachOnly: true });
}

/**
 * The threads between one of `participants` and one of `partners` (with `outOfReachOnly`, only
 * those whose two people can no longer reach each other).
 */
export async function threadsBetween(
  db: Queryable,
  participants: readonly number[],
  partners: readonly number[],
  options: { outOfReachOnly?: boolean } = {},
): Promise<number[]> {
  if (participants.length === 0 || partners.length === 0) return [];
  // One array parameter each, whatever the size of a workspace (a parameter per id would meet
  // PostgreSQL's limit of 65535 parameters).
  const intArray = (ids: readonly number[]) =>
    sql`${`{${ids.map((id) => Math.trunc(id)).join(",")}}`}::int[]`;
  const p = intArray(participants);
  const q = intArray(partners);
  const t = directMessageThreads;
  const rows = await db
    .select({ id: t.id })
    .from(t)
    .where(
      and(
        sql`((${t.user1Id} = any(${p}) and ${t.user2Id} = any(${q}))
          or (${t.user2Id} = any(${p}) and ${t.user1Id} = any(${q})))`,
        options.outOfReachOnly ? sql`not ${reachable(t.user1Id, t.user2Id)}` : undefined,
      ),
    );
  return rows.map((row) => row.id);
}

// ---------------------------------------------------------------------------------------------
// The same rules as SQL, for queries over many conversations at once (mentions, readers)
// ---------------------------------------------------------------------------------------------

/**
 * Whether `user` can read channel `channel` now, as requireChannelAccess decides it: a member of
 * its workspace (or its owner) and, for a private channel, a member of the channel.
 */
export function channelReadableBy(channel: SQL, user: SQL): SQL {
  // Aliases no caller is likely to use: an outer `c.id` passed in would otherwise be captured by
  // an inner `c` and compare the inner row with itself.
  return sql`exists (
    select 1 from channels readable_c join workspaces readable_w on readable_w.id = readable_c.workspace_id
    where readable_c.id = ${channel}
      and (readable_w.owner_id = ${user}
           or exists (select 1 from workspace_members readable_wm
                      where readable_wm.workspace_id = readable_c.workspace_id and readable_wm.user_id = ${user}))
      and (not readable_c.is_private
           or exists (select 1 from channel_members readable_cm
                      where readable_cm.channel_id = readable_c.id and readable_cm.user_id = ${user})))`;
}

/** Whether `user` is one of thread `thread`'s two participants. */
export function threadParticipant(thread: SQL, user: SQL): SQL {
  return sql`exists (
    select 1 from direct_message_threads readable_t
    where readable_t.id = ${thread} and (readable_t.user1_id = ${user} or readable_t.user2_id = ${user}))`;
}

/**
 * The users who can read a channel now (channelReadableBy), optionally only those whose handle is
 * one of `handles` (lower-cased), at most `limit`.
 */
export async function channelReaders(
  db: Queryable,
  channelId: number,
  options: { handles?: readonly string[]; limit: number },
): Promise<{ id: number; handle: string }[]> {
  const handles = options.handles;
  if (handles && handles.length === 0) return [];
  const rows = await db.execute<{ id: number; display_name: string }>(sql`
    select u.id, u.display_name from users u
    where ${channelReadableBy(sql`${channelId}`, sql`u.id`)}
      ${onlyHandles(handles)}
    order by u.id
    limit ${options.limit}`);
  return rows.map((row) => ({ id: Number(row.id), handle: row.display_name }));
}

/** `and` the user `u` has one of these (lower-cased) handles; nothing when there is no list. */
const onlyHandles = (handles: readonly string[] | undefined) =>
  handles
    ? sql`and lower(u.display_name) in (${sql.join(
        handles.map((h) => sql`${h}`),
        sql`, `,
      )})`
    : sql``;

/** A thread's participants (the thread's readers), optionally only those whose handle is one of `handles`. */
export async function threadReaders(
  db: Queryable,
  thread: { user1Id: number; user2Id: number },
  options: { handles?: readonly string[] } = {},
): Promise<{ id: number; handle: string }[]> {
  const handles = options.handles;
  if (handles && handles.length === 0) return [];
  const rows = await db.execute<{ id: number; display_name: string }>(sql`
    select u.id, u.display_name from users u
    where u.id in (${thread.user1Id}, ${thread.user2Id})
      ${onlyHandles(handles)}
    order by u.id`);
  return rows.map((row) => ({ id: Number(row.id), handle: row.display_name }));
}

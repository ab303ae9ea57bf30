/**
 * Direct messages (docs/http-api.md#direct-messages): threads between two users,
 * their messages, and each participant's read state, as the statements behind them.
 *
 * A thread belongs to a pair of users. Whoever of the two opens it, from whichever workspace and
 * however often, gets the same thread: the pair is stored in order (user1_id < user2_id) under a
 * unique key, so two opens racing each other collide in the database instead of creating two
 * threads (docs/original-defects.md#d22-schema-constraints). Opening one needs the two to be able to reach
 * each other (services/access.ts: a shared workspace or a friendship); the thread outlives that, read-only
 * (access.ts says what that allows). Its `workspace_id` records where the conversation was started: the
 * caller's workspace named when it was created, whether or not the other user is in it; it is not part of
 * any access rule, and becomes null when that workspace is deleted (the thread stays).
 *
 * A thread's messages and read pointers are written once for channels and threads alike
 * (services/conversation-messages.ts), through the thread's object (realtime/dm-thread.ts). Read
 * state lives in PostgreSQL (direct_message_reads), not in the store as in the original: one
 * pointer per participant and thread that only moves forward, from which unread counts are
 * computed, so every device of a user sees the same count, and a restart loses nothing.
 */
import { and, eq, type SQL, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { escapeLike, foreignKeyViolation } from "../db/errors";
import {
  type DirectMessageThread,
  directMessageReads,
  directMessages,
  directMessageThreads,
  type User,
  users,
} from "../db/schema";
import { badRequest, forbidden, notFound } from "../errors";
import { canReach, findWorkspaceRole, type Queryable, reachable } from "./access";
import { findUserByEmail, getUser } from "./accounts";
import type { Author } from "./conversation-messages";
import { UNREAD_COUNT_CAP } from "./message-rules";

/** Page sizes of GET /dm/threads (default 50, clamped to 1..50, as the original). */
export const THREAD_PAGE_DEFAULT = 50;
export const THREAD_PAGE_MAX = 50;

export interface ThreadView {
  thread: DirectMessageThread;
  /** The two participants, lower user id first. */
  participants: [Author, Author];
  /** The caller's unread messages in the thread (capped at UNREAD_COUNT_CAP). */
  unreadCount: number;
  /** The two can no longer reach each other: history only, nothing new (services/access.ts). */
  readOnly: boolean;
}

const userNotFound = () => notFound("User not found");

/** Why a thread with this user cannot be created (they were named by id). */
export const NOT_WITHIN_REACH = "You share no workspace with this user and are not friends";

// ---------------------------------------------------------------------------------------------
// Threads
// ---------------------------------------------------------------------------------------------

export interface OpenThreadInput {
  workspaceId: number;
  /** Exactly one of userId and email (the route checks it). */
  userId?: number;
  /** Already normalised (accounts.normaliseEmail). */
  email?: string;
  /**
   * Counts the call against the caller's limit on opening threads (throws to refuse it). Called
   * before anything that creates a thread or tells whether a user exists or where; not for an
   * existing thread of the pair, which the web app re-opens every time a conversation is shown.
   */
  charge?: () => Promise<void>;
}

/**
 * POST /dm/threads: the thread of the caller and another user, created if the pair has none.
 *
 * The checks, in order: the workspace named exists (404 "Workspace not found") and the caller is
 * a member (403 "Forbidden"): it is the caller's own workspace, the one the conversation is
 * started from (the web app sends its selected one), and is what a new thread records. The other
 * user exists (404 "User not found") and is not the caller (400,
 * docs/original-defects.md#d9-500s-for-ordinary-mistakes). An existing thread of the pair is then returned
 * whatever workspace it was opened from, read-only or not: the two already talk. Creating one needs the two
 * to be able to reach each other, through any shared workspace or a friendship
 * (docs/original-defects.md#d18-relationships): 403 NOT_WITHIN_REACH when named by id; when named by e-mail,
 * 404 "User not found" as for an unknown address, so the route cannot be used to learn which addresses are
 * registered.
 */
export async function openThread(
  db: Database,
  callerId: number,
  input: OpenThreadInput,
): Promise<{ thread: DirectMessageThread; created: boolean }> {
  const workspace = await findWorkspaceRole(db, input.workspaceId, callerId);
  if (!workspace) throw notFound("Workspace not found");
  if (!workspace.role) throw forbidden();

  const charge = input.charge ?? (async () => {});
  const other: User | undefined =
    input.userId !== undefined
      ? await getUser(db, input.userId)
      : await findUserByEmail(db, input.email ?? "");
  if (!other) {
    await charge();
    throw userNotFound();
  }
  if (other.id === callerId) throw badRequest("Cannot create direct message thread with yourself");

  const [user1Id, user2Id] = callerId < other.id ? [callerId, other.id] : [other.id, callerId];
  const existing = await findThreadOfPair(db, user1Id, user2Id);
  if (existing) return { thread: existing, created: false };

  await charge();
  if (!(await canReach(db, callerId, other.id))) {
    if (input.userId === undefined) throw userNotFound();
    throw forbidden(NOT_WITHIN_REACH);
  }

  try {
    // A concurrent open of the same pair commits first or waits for this one: either way the
    // loser's insert does nothing, and the select below finds the winner's thread.
    const [created] = await db
      .insert(directMessageThreads)
      .values({ workspaceId: input.workspaceId, user1Id, user2Id })
      .onConflictDoNothing()
      .returning();
    if (created) return { thread: created, created: true };
  } catch (error) {
    // The workspace or a user was deleted in the meantime.
    if (foreignKeyViolation(error)) throw notFound("Workspace not found");
    throw error;
  }
  const winner = await findThreadOfPair(db, user1Id, user2Id);
  if (!winner) throw new Error("direct message thread vanished after a conflicting insert");
  return { thread: winner, created: false };
}

async function findThreadOfPair(db: Queryable, user1Id: number, user2Id: number) {
  const [thread] = await db
    .select()
    .from(directMessageThreads)
    .where(and(eq(directMessageThreads.user1Id, user1Id), eq(directMessageThreads.user2Id, user2Id)));
  return thread;
}

export interface ThreadListQuery {
  /** The other participant's handle only (docs/original-defects.md#d20-self-matching-search). */
  q?: string;
  limit: number;
  offset: number;
}

interface ThreadRow extends Record<string, unknown> {
  id: number;
  workspace_id: number | null;
  user1_id: number;
  user2_id: number;
  created_at: string | Date;
  updated_at: string | Date | null;
  u1_display_name: string | null;
  u1_avatar_url: string | null;
  u2_display_name: string | null;
  u2_avatar_url: string | null;
  unread: number;
  reachable: boolean;
}

const asDate = (value: string | Date) => (value instanceof Date ? value : new Date(value));

function toThreadView(row: ThreadRow): ThreadView {
  return {
    thread: {
      id: Number(row.id),
      workspaceId: row.workspace_id === null ? null : Number(row.workspace_id),
      user1Id: Number(row.user1_id),
      user2Id: Number(row.user2_id),
      createdAt: asDate(row.created_at),
      updatedAt: row.updated_at === null ? null : asDate(row.updated_at),
    },
    participants: [
      { id: Number(row.user1_id), displayName: row.u1_display_name, avatarUrl: row.u1_avatar_url },
      { id: Number(row.user2_id), displayName: row.u2_display_name, avatarUrl: row.u2_avatar_url },
    ],
    unreadCount: Number(row.unread),
    readOnly: row.reachable !== true,
  };
}

/**
 * The threads of a user with the user's unread count in each, as one statement: the page is
 * chosen first (`where`, ordered by last activity: the newest message, else the thread's creation;
 * then by id, so offset paging is stable), and only its threads are counted.
 */
async function selectThreads(
  db: Queryable,
  callerId: number,
  where: SQL,
  page: { limit: number; offset: number },
): Promise<ThreadView[]> {
  const rows = await db.execute<ThreadRow>(sql`
    with page as (
      select t.id, t.workspace_id, t.user1_id, t.user2_id, t.created_at, t.updated_at,
             coalesce(last.created_at, t.created_at) as activity_at
      from ${directMessageThreads} t
      left join lateral (
        select m.created_at from ${directMessages} m where m.thread_id = t.id order by m.id desc limit 1
      ) last on true
      where ${where}
      order by activity_at desc, t.id desc
      limit ${page.limit} offset ${page.offset}
    )
    select page.id, page.workspace_id, page.user1_id, page.user2_id, page.created_at, page.updated_at,
           u1.display_name as u1_display_name, u1.avatar_url as u1_avatar_url,
           u2.display_name as u2_display_name, u2.avatar_url as u2_avatar_url,
           (select count(*)::int from (
              select 1 from ${directMessages} m
              where m.thread_id = page.id and m.id > coalesce(r.last_read_message_id, 0)
                and not m.is_deleted and m.sender_id <> ${callerId}
              limit ${UNREAD_COUNT_CAP}
            ) as unread_rows) as unread,
           ${reachable(sql`page.user1_id`, sql`page.user2_id`)} as reachable
    from page
    join ${users} u1 on u1.id = page.user1_id
    join ${users} u2 on u2.id = page.user2_id
    left join ${directMessageReads} r on r.thread_id = page.id and r.user_id = ${callerId}
    order by page.activity_at desc, page.id desc`);
  return rows.map(toThreadView);
}

/**
 * GET /dm/threads: the caller's threads, most recent activity first, each once. `q` keeps the
 * threads whose other participant's handle contains it, case-insensitively and literally; the
 * caller's own handle is never matched (docs/original-defects.md#d20-self-matching-search), so a query that
 * matches one's own name does not return every thread.
 */
export function listThreads(db: Queryable, callerId: number, query: ThreadListQuery): Promise<ThreadView[]> {
  const conditions: SQL[] = [sql`(t.user1_id = ${callerId} or t.user2_id = ${callerId})`];
  const needle = query.q?.trim().toLowerCase();
  if (needle) {
    conditions.push(sql`exists (
      select 1 from ${users} o
      where o.id = case when t.user1_id = ${callerId} then t.user2_id else t.user1_id end
        and lower(o.display_name) like ${`%${escapeLike(needle)}%`} escape '\\')`);
  }
  return selectThreads(db, callerId, sql.join(conditions, sql` and `), query);
}

/** One thread as the caller sees it (the answer to POST /dm/threads). */
export async function getThreadView(db: Queryable, threadId: number, callerId: number): Promise<ThreadView> {
  const [view] = await selectThreads(db, callerId, sql`t.id = ${threadId}`, { limit: 1, offset: 0 });
  if (!view) throw notFound("Thread not found");
  return view;
}

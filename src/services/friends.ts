/**
 * Friends and friend requests (docs/http-api.md#friends), with docs/original-defects.md#d10-long-handles,
 * docs/original-defects.md#d12-settled-requests and docs/original-defects.md#d20-self-matching-search fixed,
 * unfriending and cancelling a request added, and the notification events sent through the Notifier once the
 * change is committed.
 *
 * One request row per direction is kept and reused (uq_friend_requests_users), as in the
 * original. Everything that decides between "friends", "pending one way" and "pending the
 * other way" for a pair runs in a transaction holding an advisory lock on that pair, so two
 * people befriending each other at the same moment cannot end up with crossed pending requests
 * or a request left pending beside a friendship. The lock is always taken before any row lock,
 * in every operation, so they cannot deadlock one another.
 */
import { and, desc, eq, type SQL, sql } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import type { Database } from "../db/client";
import { escapeLike } from "../db/errors";
import { type FriendRequest, friendRequests, friends, type User, users } from "../db/schema";
import { badRequest, conflict, forbidden, notFound } from "../errors";
import type { FriendRequestView } from "../presenters/friends";
import { toUserPublic } from "../presenters/users";
import { threadsBetween, threadsOutOfReach } from "./access";
import { getUser } from "./accounts";
import type { Effects } from "./effects";
import { findByHandle } from "./users";

export interface FriendsContext extends Effects {
  db: Database;
}

type Transaction = Parameters<Parameters<Database["transaction"]>[0]>[0];

export interface Page {
  limit: number;
  offset: number;
}

const requestNotFound = () => notFound("Request not found");

/** Ids PostgreSQL can hold (serial); anything else names no row, and must not reach a query. */
const isRowId = (id: number) => Number.isSafeInteger(id) && id > 0 && id <= 2_147_483_647;

/** Serialises every decision about one pair of users (see the module comment). */
async function lockPair(tx: Transaction, a: number, b: number) {
  const pair = `${Math.min(a, b)}:${Math.max(a, b)}`;
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext('friend_pair'), hashtext(${pair}))`);
}

async function requireUser(db: Database | Transaction, id: number): Promise<User> {
  const [user] = await db.select().from(users).where(eq(users.id, id));
  if (!user) throw notFound("User not found");
  return user;
}

async function view(db: Database, request: FriendRequest): Promise<FriendRequestView> {
  const [requester, addressee] = await Promise.all([
    requireUser(db, request.requesterId),
    requireUser(db, request.addresseeId),
  ]);
  return { request, requester, addressee };
}

/**
 * GET /friends: the other user of each of the caller's friendships, newest friendship first.
 * `query` keeps those whose handle contains it, case-insensitively and literally; it is matched
 * against the friend only, never against the caller (docs/original-defects.md#d20-self-matching-search).
 */
export async function listFriends(db: Database, callerId: number, query: string | undefined, page: Page) {
  const other = alias(users, "other");
  const otherId = sql`case when ${friends.user1Id} = ${callerId} then ${friends.user2Id} else ${friends.user1Id} end`;
  const conditions: SQL[] = [sql`(${friends.user1Id} = ${callerId} or ${friends.user2Id} = ${callerId})`];
  const needle = query?.trim().toLowerCase();
  if (needle) {
    conditions.push(sql`lower(${other.displayName}) like ${`%${escapeLike(needle)}%`} escape '\\'`);
  }
  const rows = await db
    .select({ user: other })
    .from(friends)
    .innerJoin(other, sql`${other.id} = ${otherId}`)
    .where(and(...conditions))
    .orderBy(desc(friends.createdAt), desc(friends.id))
    .limit(page.limit)
    .offset(page.offset);
  return rows.map((row) => row.user);
}

/** Pending requests addressed to the caller (incoming) or sent by them (outgoing), newest first. */
export async function listPendingRequests(
  db: Database,
  callerId: number,
  direction: "incoming" | "outgoing",
  page: Page,
): Promise<FriendRequestView[]> {
  const requester = alias(users, "requester");
  const addressee = alias(users, "addressee");
  const mine = direction === "incoming" ? friendRequests.addresseeId : friendRequests.requesterId;
  const rows = await db
    .select({ request: friendRequests, requester, addressee })
    .from(friendRequests)
    .innerJoin(requester, eq(requester.id, friendRequests.requesterId))
    .innerJoin(addressee, eq(addressee.id, friendRequests.addresseeId))
    .where(and(eq(mine, callerId), eq(friendRequests.status, "pending")))
    // A reopened request counts from its reopening.
    .orderBy(
      desc(sql`coalesce(${friendRequests.updatedAt}, ${friendRequests.createdAt})`),
      desc(friendRequests.id),
    )
    .limit(page.limit)
    .offset(page.offset);
  return rows;
}

async function areFriends(tx: Transaction, a: number, b: number) {
  const [row] = await tx
    .select({ id: friends.id })
    .from(friends)
    .where(and(eq(friends.user1Id, Math.min(a, b)), eq(friends.user2Id, Math.max(a, b))));
  return row !== undefined;
}

/**
 * POST /friends/requests, in the original's order of checks. A request the caller already has
 * pending is returned as it is; a declined or accepted one (after an unfriending) is reopened.
 * The addressee is told every time (friend.requested), as the original does.
 */
export async function sendFriendRequest(ctx: FriendsContext, callerId: number, handle: string) {
  const addressee = await findByHandle(ctx.db, handle);
  if (addressee.id === callerId) throw badRequest("Cannot friend yourself");

  const request = await ctx.db.transaction(async (tx) => {
    await lockPair(tx, callerId, addressee.id);
    if (await areFriends(tx, callerId, addressee.id)) throw badRequest("Already friends");
    const [incoming] = await tx
      .select({ id: friendRequests.id })
      .from(friendRequests)
      .where(
        and(
          eq(friendRequests.requesterId, addressee.id),
          eq(friendRequests.addresseeId, callerId),
          eq(friendRequests.status, "pending"),
        ),
      );
    if (incoming) throw conflict("Incoming request already pending");
    const [row] = await tx
      .insert(friendRequests)
      .values({ requesterId: callerId, addresseeId: addressee.id, status: "pending" })
      .onConflictDoUpdate({
        target: [friendRequests.requesterId, friendRequests.addresseeId],
        set: {
          status: "pending",
          updatedAt: sql`case when ${friendRequests.status} = 'pending' then ${friendRequests.updatedAt} else now() end`,
        },
      })
      .returning();
    return row as FriendRequest;
  });

  await ctx.notifier.notify(addressee.id, { type: "friend.requested", payload: { id: request.id } });
  return { request, requester: await requireUser(ctx.db, callerId), addressee };
}

/**
 * The request row, locked for this transaction. The pair's lock comes first, in the same order
 * every writer of the pair takes it, so two people acting on one friendship cannot deadlock.
 */
async function lockPendingRequest(tx: Transaction, requestId: number) {
  const [peek] = await tx.select().from(friendRequests).where(eq(friendRequests.id, requestId));
  if (!peek) throw requestNotFound();
  await lockPair(tx, peek.requesterId, peek.addresseeId);
  const [row] = await tx.select().from(friendRequests).where(eq(friendRequests.id, requestId)).for("update");
  if (!row) throw requestNotFound();
  return row;
}

function assertPending(row: FriendRequest) {
  if (row.status !== "pending") throw conflict(`Request already ${row.status}`);
}

/**
 * Accepting or declining: only the addressee may, and only while the request is pending — any
 * other state answers 409 and tells nobody anything (docs/original-defects.md#d12-settled-requests: the
 * original re-sent the event, so a requester could see "accepted" for a request that had been declined).
 */
async function respond(
  ctx: FriendsContext,
  callerId: number,
  requestId: number,
  outcome: "accepted" | "declined",
) {
  if (!isRowId(requestId)) throw requestNotFound();
  const updated = await ctx.db.transaction(async (tx) => {
    const row = await lockPendingRequest(tx, requestId);
    if (row.addresseeId !== callerId) throw forbidden();
    assertPending(row);

    const [changed] = await tx
      .update(friendRequests)
      .set({ status: outcome })
      .where(eq(friendRequests.id, row.id))
      .returning();
    if (outcome === "accepted") {
      await tx
        .insert(friends)
        .values({
          user1Id: Math.min(row.requesterId, row.addresseeId),
          user2Id: Math.max(row.requesterId, row.addresseeId),
        })
        .onConflictDoNothing();
    }
    return changed as FriendRequest;
  });

  if (outcome === "accepted") {
    // A thread the two had, read-only while they could not reach each other, is live again.
    await ctx.realtime.accessChanged(
      "dm",
      await threadsBetween(ctx.db, [updated.requesterId], [updated.addresseeId]),
    );
  }
  const result = await view(ctx.db, updated);
  await ctx.notifier.notify(updated.requesterId, {
    type: outcome === "accepted" ? "friend.accepted" : "friend.declined",
    payload: { id: updated.id, by: toUserPublic(result.addressee) },
  });
  return result;
}

export const acceptFriendRequest = (ctx: FriendsContext, callerId: number, requestId: number) =>
  respond(ctx, callerId, requestId, "accepted");

export const declineFriendRequest = (ctx: FriendsContext, callerId: number, requestId: number) =>
  respond(ctx, callerId, requestId, "declined");

/**
 * DELETE /friends/requests/{id}: the requester withdraws a pending request. The row goes (a
 * later request starts afresh) and the addressee's lists are told to refresh (friend.cancelled,
 * an event this project adds; the web app refetches on any `friend.*`).
 */
export async function cancelFriendRequest(ctx: FriendsContext, callerId: number, requestId: number) {
  if (!isRowId(requestId)) throw requestNotFound();
  const cancelled = await ctx.db.transaction(async (tx) => {
    const row = await lockPendingRequest(tx, requestId);
    if (row.requesterId !== callerId) throw forbidden();
    assertPending(row);
    await tx.delete(friendRequests).where(eq(friendRequests.id, row.id));
    return row;
  });
  await ctx.notifier.notify(cancelled.addresseeId, {
    type: "friend.cancelled",
    payload: { id: cancelled.id },
  });
}

/**
 * DELETE /friends/{user_id}: ends a friendship. The other user's lists are told to refresh
 * (friend.removed, added by this project, with who ended it). Their direct-message thread stays;
 * if they share no workspace either, it becomes read-only (services/access.ts) and its sockets
 * close.
 */
export async function unfriend(ctx: FriendsContext, callerId: number, otherId: number): Promise<void> {
  if (!isRowId(otherId)) throw notFound("Friend not found");
  const removed = await ctx.db.transaction(async (tx) => {
    await lockPair(tx, callerId, otherId);
    return tx
      .delete(friends)
      .where(
        and(
          eq(friends.user1Id, Math.min(callerId, otherId)),
          eq(friends.user2Id, Math.max(callerId, otherId)),
        ),
      )
      .returning({ id: friends.id });
  });
  if (removed.length === 0) throw notFound("Friend not found");
  // Their thread, if they share no workspace either, is now read-only: its sockets close.
  await ctx.realtime.accessChanged("dm", await threadsOutOfReach(ctx.db, [callerId], [otherId]));
  const caller = await getUser(ctx.db, callerId);
  await ctx.notifier.notify(otherId, {
    type: "friend.removed",
    payload: { user_id: callerId, by: caller ? toUserPublic(caller) : null },
  });
}

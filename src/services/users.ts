/**
 * Finding people, their online state, and one's own profile (docs/http-api.md#users;
 * docs/original-defects.md#d19-user-discovery).
 *
 * "Reach" is the privacy rule of this module: a caller may discover someone they share a
 * workspace with, a friend, or someone whose full handle they already know (a handle is how
 * people are introduced, like a phone number). Prefix search and online state reveal nothing
 * about anyone else, so neither can be used to enumerate the user base.
 */
import { and, eq, inArray, type SQL, sql } from "drizzle-orm";
import { baseNameProblem, codePointLength, formatHandle, isHandle } from "../auth/handles";
import type { Database } from "../db/client";
import { escapeLike, uniqueViolation } from "../db/errors";
import { type User, users } from "../db/schema";
import { badRequest, conflict, notFound, serviceUnavailable } from "../errors";
import type { Logger } from "../log";
import { onlineKey } from "../store/keys";
import type { KeyValueStore } from "../store/store";
import { reachable } from "./access";
import { allocateHandle, getUser } from "./accounts";

/** The longest handle there is (a 32-character base, '#', four digits). */
const MAX_HANDLE_LENGTH = 37;
/** Fewer characters than this find nobody by prefix (the web app sends at least 2). */
export const SEARCH_MIN_LENGTH = 2;

const userNotFound = () => notFound("User not found");

/** Case-insensitive exact match on the full handle, after trimming, as the original looked handles up. */
export async function findByHandle(db: Database, raw: string): Promise<User> {
  const handle = raw.trim();
  // Nothing longer than a handle can be one; no need to ask the database.
  if (handle === "" || codePointLength(handle) > MAX_HANDLE_LENGTH) throw userNotFound();
  const [user] = await db
    .select()
    .from(users)
    .where(sql`lower(${users.displayName}) = ${handle.toLowerCase()}`);
  if (!user) throw userNotFound();
  return user;
}

/**
 * Whether `other` is within the caller's reach: the caller, or someone the caller can reach (a
 * shared workspace or a friendship; the rule is services/access.ts `reachable`).
 */
function withinReach(callerId: number, other: typeof users.id): SQL {
  return sql`(${other} = ${callerId} or ${reachable(callerId, other)})`;
}

/**
 * GET /users/search. A full handle finds its owner, whoever they are; anything else is a
 * case-insensitive prefix of the handle, matched literally (`%` and `_` are not wildcards) and
 * only among the people within reach. Queries shorter than two characters after trimming find
 * nobody (an empty list, as the original answers an empty query, rather than an error the web
 * app would show while the user types); so do queries longer than any handle. The caller is
 * included when they match (the web app filters itself out).
 */
export async function searchUsers(db: Database, callerId: number, rawQuery: string, limit: number) {
  const query = rawQuery.trim();
  const length = codePointLength(query);
  if (length < SEARCH_MIN_LENGTH || length > MAX_HANDLE_LENGTH) return [];
  const lowered = query.toLowerCase();
  const filter = isHandle(query)
    ? sql`lower(${users.displayName}) = ${lowered}`
    : and(
        sql`lower(${users.displayName}) like ${`${escapeLike(lowered)}%`} escape '\\'`,
        withinReach(callerId, users.id),
      );
  return db
    .select()
    .from(users)
    .where(filter)
    .orderBy(sql`lower(${users.displayName})`, users.id)
    .limit(limit);
}

/** Ids above this are not user ids (users.id is a PostgreSQL integer). */
const MAX_ID = 2_147_483_647;

/**
 * GET /users/online: one entry per requested id, in order, duplicates kept. Only people within
 * reach can show as online; everyone else, and ids that name nobody, answer false. "Online"
 * means an open notifications socket (src/realtime/notification-feed.ts keeps the key alive,
 * with a TTL, while one is open).
 */
export async function onlineStatuses(
  ctx: { db: Database; store: KeyValueStore; log: Logger },
  callerId: number,
  ids: readonly number[],
) {
  const candidates = [...new Set(ids.filter((id) => id > 0 && id <= MAX_ID))];
  const online = new Set<number>();
  if (candidates.length > 0) {
    const visible = await ctx.db
      .select({ id: users.id })
      .from(users)
      .where(and(inArray(users.id, candidates), withinReach(callerId, users.id)));
    const visibleIds = visible.map((row) => row.id);
    if (visibleIds.length > 0) {
      let flags: (string | null)[];
      try {
        flags = await ctx.store.getMany(visibleIds.map(onlineKey));
      } catch (error) {
        ctx.log.error("online status unavailable: store failed", { err: error });
        throw serviceUnavailable("Online status is temporarily unavailable");
      }
      visibleIds.forEach((id, index) => {
        if (flags[index] !== null && flags[index] !== undefined) online.add(id);
      });
    }
  }
  return ids.map((id) => ({ user_id: id, online: online.has(id) }));
}

export interface ProfileChanges {
  /** A validated http(s) URL, or null to remove the avatar. */
  avatarUrl?: string | null;
  /** A new base name; the handle keeps the rules of registration (src/auth/handles.ts). */
  displayName?: string;
}

const INSERT_ATTEMPTS = 4;

/**
 * PATCH /users/me. A new base name gets a new free discriminator, as at registration; a change
 * of case only (bob → Bob) keeps the discriminator, which is still the caller's own.
 */
export async function updateProfile(db: Database, userId: number, changes: ProfileChanges): Promise<User> {
  const user = await getUser(db, userId);
  if (!user) throw userNotFound();
  const values: Partial<Pick<User, "avatarUrl" | "displayName">> = {};
  if (changes.avatarUrl !== undefined) values.avatarUrl = changes.avatarUrl;

  let newBase: string | undefined;
  if (changes.displayName !== undefined) {
    const base = changes.displayName.trim();
    const problem = baseNameProblem(base);
    if (problem) throw badRequest(problem);
    const current = user.displayName ?? "";
    const currentBase = current.slice(0, current.lastIndexOf("#"));
    if (base !== currentBase) {
      if (isHandle(current) && base.toLowerCase() === currentBase.toLowerCase()) {
        values.displayName = formatHandle(base, Number(current.slice(-4)));
      } else {
        newBase = base;
      }
    }
  }

  for (let attempt = 1; ; attempt++) {
    if (newBase !== undefined) values.displayName = await allocateHandle(db, newBase);
    if (Object.keys(values).length === 0) return user;
    try {
      const [updated] = await db.update(users).set(values).where(eq(users.id, userId)).returning();
      if (!updated) throw userNotFound();
      return updated;
    } catch (error) {
      // Another user took the same handle between the draw and the update: draw again.
      if (uniqueViolation(error) === "uq_users_display_name_lower" && newBase !== undefined) {
        if (attempt < INSERT_ATTEMPTS) continue;
        throw conflict("Unable to allocate a unique tag for this display name.");
      }
      throw error;
    }
  }
}

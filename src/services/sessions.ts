/**
 * Sessions: one row per login, named by the `sid` of its tokens (contract 5.2), with refresh
 * rotation and reuse detection (OWASP ASVS 10.4.5) and the grace window of D16.
 *
 * Rotation keeps the session id. Each refresh token carries a `jti`; the session row remembers
 * the current one and the one before it. Presenting:
 *   - the current token rotates: a new `jti` and a new pair;
 *   - the previous token within the grace window returns the pair already issued (signing is
 *     deterministic, so it is byte for byte the same), so two tabs, or a response lost on the
 *     way, do not log anyone out;
 *   - any older token, or the previous one after the window, means the token leaked: the whole
 *     session is revoked.
 * Access tokens are not touched by rotation: they live until their own `exp` unless the
 * session is revoked.
 *
 * The per-request session check must not cost a database round trip: its answer is cached in
 * the store, and revocation overwrites the cache entry at once, so it takes effect on the next
 * request in every isolate.
 */
import { and, eq, isNull, ne, sql } from "drizzle-orm";
import { issueTokenPair, type TokenClaims, type TokenPair, type TokenSettings } from "../auth/tokens";
import type { Database } from "../db/client";
import { userSessions } from "../db/schema";
import { unauthorized } from "../errors";
import type { Logger } from "../log";
import type { KeyValueStore } from "../store/store";
import type { Notifier } from "./notifier";

export interface SessionContext {
  db: Database;
  store: KeyValueStore;
  log: Logger;
  tokens: TokenSettings;
  refreshReuseGraceSeconds: number;
  /** Closes the revoked sessions' open sockets at once (absent: they close at their next check). */
  notifier?: Notifier;
}

/**
 * Cached verdicts in the store: `session:{sid}` holds the user id of a live session, or this
 * marker for a revoked one. Socket objects read the same keys to close revoked sockets
 * (realtime/socket-liveness.ts).
 */
export const REVOKED = "revoked";
const ACTIVE_CACHE_SECONDS = 300;
export const sessionCacheKey = (sessionId: string) => `session:${sessionId}`;
const cacheKey = sessionCacheKey;

const newTokenId = () => crypto.randomUUID();
const nowSeconds = () => Math.floor(Date.now() / 1000);

export interface NewSession {
  userId: number;
  userAgent: string | null;
  ipAddress: string | null;
}

/** Creates a session and its first token pair (login, Google sign-in). */
export async function startSession(ctx: SessionContext, input: NewSession): Promise<TokenPair> {
  const sessionId = crypto.randomUUID();
  const refreshTokenId = newTokenId();
  const issuedAt = nowSeconds();
  await ctx.db.insert(userSessions).values({
    userId: input.userId,
    sessionId,
    userAgent: input.userAgent?.slice(0, 512) ?? null,
    ipAddress: input.ipAddress,
    lastSeenAt: new Date(issuedAt * 1000),
    refreshTokenId,
    refreshedAt: new Date(issuedAt * 1000),
  });
  return issueTokenPair({ userId: input.userId, sessionId, refreshTokenId, issuedAt }, ctx.tokens);
}

const sessionRevoked = () => unauthorized("Session revoked");
const invalidRefreshToken = () => unauthorized("Invalid refresh token");

/** Exchanges a refresh token (already verified as a JWT) for a pair; see the module comment. */
export async function refreshSession(ctx: SessionContext, claims: TokenClaims): Promise<TokenPair> {
  if (claims.type === "access" || !claims.sessionId) throw invalidRefreshToken();
  const sessionId = claims.sessionId;

  const outcome = await ctx.db.transaction(async (tx) => {
    const [row] = await tx
      .select()
      .from(userSessions)
      .where(eq(userSessions.sessionId, sessionId))
      .for("update");
    if (!row || row.userId !== claims.userId || row.revokedAt) return { kind: "revoked" as const };

    const presented = claims.tokenId;
    // The original's refresh tokens have no jti: accept one only while no rotation of ours
    // has happened in this session (an adopted session's first refresh).
    const isCurrent =
      presented === undefined ? row.refreshTokenId === null : presented === row.refreshTokenId;
    if (isCurrent) {
      const refreshTokenId = newTokenId();
      const issuedAt = nowSeconds();
      await tx
        .update(userSessions)
        .set({
          refreshTokenId,
          previousRefreshTokenId: row.refreshTokenId ?? "legacy",
          refreshedAt: new Date(issuedAt * 1000),
        })
        .where(eq(userSessions.id, row.id));
      return { kind: "rotated" as const, refreshTokenId, issuedAt };
    }

    const withinGrace =
      // An original token has no jti; its rotation recorded "legacy" as the previous id.
      (presented ?? "legacy") === row.previousRefreshTokenId &&
      row.refreshTokenId !== null &&
      row.refreshedAt !== null &&
      Date.now() - row.refreshedAt.getTime() <= ctx.refreshReuseGraceSeconds * 1000;
    if (withinGrace && row.refreshTokenId && row.refreshedAt) {
      return {
        kind: "replayed" as const,
        refreshTokenId: row.refreshTokenId,
        issuedAt: Math.floor(row.refreshedAt.getTime() / 1000),
      };
    }

    await tx.update(userSessions).set({ revokedAt: sql`now()` }).where(eq(userSessions.id, row.id));
    return { kind: "reused" as const };
  });

  if (outcome.kind === "reused") {
    ctx.log.warn("refresh token reuse detected: session revoked", {
      session_id: sessionId,
      user_id: claims.userId,
    });
    await markRevoked(ctx, claims.userId, [sessionId]);
    throw sessionRevoked();
  }
  if (outcome.kind === "revoked") throw sessionRevoked();
  return issueTokenPair(
    { userId: claims.userId, sessionId, refreshTokenId: outcome.refreshTokenId, issuedAt: outcome.issuedAt },
    ctx.tokens,
  );
}

/**
 * Tells every isolate at once, through the store, that these sessions are gone, then has the
 * user's socket objects close the sessions' sockets. The push is what lets an idle object sleep:
 * without it every object holding a socket would have to poll the store for revocations.
 */
async function markRevoked(
  ctx: Pick<SessionContext, "store" | "log" | "tokens" | "notifier">,
  userId: number,
  sessionIds: string[],
) {
  if (sessionIds.length === 0) return;
  // Keep the marker as long as an access token of the session can still be presented.
  const ttlSeconds = ctx.tokens.accessTtlSeconds + 60;
  await Promise.all(
    sessionIds.map(async (id) => {
      try {
        await ctx.store.set(cacheKey(id), REVOKED, { ttlSeconds });
      } catch (error) {
        // The database already says revoked; a stale cache entry expires within minutes.
        ctx.log.error("could not mark a revoked session in the store", { session_id: id, err: error });
      }
    }),
  );
  await ctx.notifier?.closeSessions(userId, sessionIds);
}

/** Revokes one session of a user. Returns false when it is not theirs (or does not exist). */
export async function revokeSession(
  ctx: SessionContext,
  userId: number,
  sessionId: string,
): Promise<boolean> {
  const [row] = await ctx.db
    .select({ id: userSessions.id, revokedAt: userSessions.revokedAt })
    .from(userSessions)
    .where(and(eq(userSessions.sessionId, sessionId), eq(userSessions.userId, userId)));
  if (!row) return false;
  if (!row.revokedAt) {
    await ctx.db.update(userSessions).set({ revokedAt: sql`now()` }).where(eq(userSessions.id, row.id));
  }
  await markRevoked(ctx, userId, [sessionId]);
  return true;
}

/** Revokes every live session of a user except `keepSessionId`; returns how many. */
export async function revokeOtherSessions(ctx: SessionContext, userId: number, keepSessionId: string | null) {
  const conditions = [eq(userSessions.userId, userId), isNull(userSessions.revokedAt)];
  if (keepSessionId) conditions.push(ne(userSessions.sessionId, keepSessionId));
  const revoked = await ctx.db
    .update(userSessions)
    .set({ revokedAt: sql`now()` })
    .where(and(...conditions))
    .returning({ sessionId: userSessions.sessionId });
  await markRevoked(
    ctx,
    userId,
    revoked.map((r) => r.sessionId),
  );
  return revoked.length;
}

export async function listActiveSessions(db: Database, userId: number) {
  return db
    .select()
    .from(userSessions)
    .where(and(eq(userSessions.userId, userId), isNull(userSessions.revokedAt)))
    .orderBy(userSessions.id);
}

/**
 * The per-request check: the session exists, is the user's, and is not revoked. Answered
 * from the store when it can be; the database is asked on a miss (or when the store is
 * down), and its answer cached.
 */
export async function assertSessionActive(
  ctx: Pick<SessionContext, "db" | "store" | "log">,
  userId: number,
  sessionId: string,
): Promise<void> {
  let cached: string | null = null;
  try {
    cached = await ctx.store.get(cacheKey(sessionId));
  } catch (error) {
    ctx.log.warn("session cache unavailable; asking the database", { err: error });
  }
  if (cached === REVOKED) throw sessionRevoked();
  if (cached !== null) {
    if (cached !== String(userId)) throw sessionRevoked();
    return;
  }

  const [row] = await ctx.db
    .select({ userId: userSessions.userId, revokedAt: userSessions.revokedAt })
    .from(userSessions)
    .where(eq(userSessions.sessionId, sessionId));
  if (!row || row.userId !== userId || row.revokedAt) throw sessionRevoked();
  try {
    // Only-if-absent: a revocation that raced this read must win over our "active".
    await ctx.store.set(cacheKey(sessionId), String(userId), {
      ttlSeconds: ACTIVE_CACHE_SECONDS,
      onlyIfAbsent: true,
    });
  } catch {
    // Caching is an optimisation; the answer above stands.
  }
}

/**
 * Sessions this isolate touched, and when: within the throttle it skips even the store's
 * only-if-absent write, which would otherwise cost every authenticated request a second store
 * round trip. Several isolates each touch at most once per period, which only rewrites a
 * timestamp. Bounded: cleared when it grows large.
 */
const touchedHere = new Map<string, number>();
const TOUCHED_HERE_MAX = 10_000;

/**
 * Updates last_seen_at at most once per `ttlSeconds` per session (contract 5.5). Best
 * effort: failures are logged and ignored.
 */
export async function touchSession(
  ctx: Pick<SessionContext, "db" | "store" | "log">,
  sessionId: string,
  ttlSeconds: number,
): Promise<void> {
  const now = Date.now();
  const last = touchedHere.get(sessionId);
  if (last !== undefined && now - last < ttlSeconds * 1000) return;
  if (touchedHere.size >= TOUCHED_HERE_MAX) touchedHere.clear();
  touchedHere.set(sessionId, now);
  try {
    const first = await ctx.store.set(`sess:touch:${sessionId}`, "1", { ttlSeconds, onlyIfAbsent: true });
    if (first) {
      await ctx.db
        .update(userSessions)
        .set({ lastSeenAt: sql`now()` })
        .where(eq(userSessions.sessionId, sessionId));
    }
  } catch (error) {
    ctx.log.debug("session touch skipped", { err: error });
  }
}

/**
 * Sessions: one row per login, named by the `sid` of its tokens (docs/http-api.md#accounts-and-sessions),
 * with refresh rotation and reuse detection (OWASP ASVS 10.4.5) and a grace window
 * (docs/original-defects.md#d16-refresh-rotation).
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
 * The per-request session check must not cost a round trip: its answer is kept in the isolate's
 * memory (session-verdicts.ts), and a revocation is written to PostgreSQL first, then to that
 * memory, then pushed to the user's socket objects. The store plays no part: a logout must not
 * depend on it, nor be undone by it coming back (see session-verdicts.ts).
 */
import { and, eq, inArray, isNull, ne, sql } from "drizzle-orm";
import { issueTokenPair, type TokenClaims, type TokenPair, type TokenSettings } from "../auth/tokens";
import type { Database } from "../db/client";
import { userSessions } from "../db/schema";
import { unauthorized } from "../errors";
import type { Logger } from "../log";
import type { Notifier } from "./notifier";
import { knownVerdict, rememberActive, rememberRevoked } from "./session-verdicts";

export interface SessionContext {
  db: Database;
  log: Logger;
  tokens: TokenSettings;
  refreshReuseGraceSeconds: number;
  /** Closes the revoked sessions' open sockets at once (absent: they close at their next check). */
  notifier?: Notifier;
}

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
 * Called once the database says these sessions are revoked: this isolate refuses them from now
 * on, and the user's socket objects close their sockets. The push is what lets an idle object
 * sleep: without it every object holding a socket would have to poll for revocations.
 */
async function markRevoked(ctx: Pick<SessionContext, "notifier">, userId: number, sessionIds: string[]) {
  if (sessionIds.length === 0) return;
  const now = Date.now();
  for (const id of sessionIds) rememberRevoked(id, userId, now);
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

export interface SessionCheck {
  /** Asked only when memory cannot answer (a getter: opening a connection is not free). */
  db: () => Database;
  /** How long an "active" verdict is trusted (SESSION_CACHE_SECONDS). */
  cacheSeconds: number;
}

/**
 * The per-request check: the session exists, is the user's, and is not revoked. Answered from the
 * isolate's memory when it can be (session-verdicts.ts), else by the database, whose answer is
 * remembered.
 */
export async function assertSessionActive(
  ctx: SessionCheck,
  userId: number,
  sessionId: string,
): Promise<void> {
  const known = knownVerdict(sessionId, Date.now(), ctx.cacheSeconds * 1000);
  if (known) {
    if (known.revoked || known.userId !== userId) throw sessionRevoked();
    return;
  }
  const askedAt = Date.now();
  const [row] = await ctx
    .db()
    .select({ userId: userSessions.userId, revokedAt: userSessions.revokedAt })
    .from(userSessions)
    .where(eq(userSessions.sessionId, sessionId));
  if (!row) throw sessionRevoked();
  if (row.revokedAt) {
    rememberRevoked(sessionId, row.userId, askedAt);
    throw sessionRevoked();
  }
  rememberActive(sessionId, row.userId, askedAt);
  if (row.userId !== userId) throw sessionRevoked();
}

/**
 * Which of these sessions are revoked, for the socket objects' periodic re-check, a safety net
 * behind the pushed revocations: from memory where the verdict is younger than `maxAgeSeconds`,
 * else one query for the rest (which refreshes them). Without a database, what memory knows.
 */
export async function revokedSessions(
  db: Database | undefined,
  sessionIds: readonly string[],
  maxAgeSeconds: number,
): Promise<Set<string>> {
  const now = Date.now();
  const revoked = new Set<string>();
  const unknown: string[] = [];
  for (const id of new Set(sessionIds)) {
    const known = knownVerdict(id, now, maxAgeSeconds * 1000);
    if (known?.revoked) revoked.add(id);
    else if (!known) unknown.push(id);
  }
  if (unknown.length === 0 || !db) return revoked;
  const rows = await db
    .select({
      sessionId: userSessions.sessionId,
      userId: userSessions.userId,
      revokedAt: userSessions.revokedAt,
    })
    .from(userSessions)
    .where(inArray(userSessions.sessionId, unknown));
  const found = new Set<string>();
  for (const row of rows) {
    found.add(row.sessionId);
    if (row.revokedAt) {
      rememberRevoked(row.sessionId, row.userId, now);
      revoked.add(row.sessionId);
    } else rememberActive(row.sessionId, row.userId, now);
  }
  for (const id of unknown) if (!found.has(id)) revoked.add(id);
  return revoked;
}

/**
 * Sessions this isolate touched, and when: each isolate writes last_seen_at at most once per
 * period per session (several isolates only rewrite a timestamp). Bounded: cleared when it grows
 * large.
 */
const touchedHere = new Map<string, number>();
const TOUCHED_HERE_MAX = 10_000;

/**
 * Updates last_seen_at at most once per `ttlSeconds` per session and isolate, as the original did. Best
 * effort: failures are logged and ignored.
 */
export async function touchSession(
  ctx: { db: () => Database; log: Logger },
  sessionId: string,
  ttlSeconds: number,
): Promise<void> {
  const now = Date.now();
  const last = touchedHere.get(sessionId);
  if (last !== undefined && now - last < ttlSeconds * 1000) return;
  if (touchedHere.size >= TOUCHED_HERE_MAX) touchedHere.clear();
  touchedHere.set(sessionId, now);
  try {
    await ctx
      .db()
      .update(userSessions)
      .set({ lastSeenAt: sql`now()` })
      .where(eq(userSessions.sessionId, sessionId));
  } catch (error) {
    ctx.log.debug("session touch skipped", { err: error });
  }
}

/**
 * Authentication of REST requests (docs/http-api.md#authentication, with session checks that are cheap and
 * revocation that is immediate: see services/sessions.ts).
 */
import type { Context, MiddlewareHandler } from "hono";
import { InvalidTokenError, verifyToken } from "../auth/tokens";
import type { AppEnv } from "../context";
import { notAuthenticated, unauthorized } from "../errors";
import { getUser } from "../services/accounts";
import { assertSessionActive, touchSession } from "../services/sessions";
import { rejectMalformedBody } from "./validation";

export interface Caller {
  userId: number;
  /** Absent only for tokens without `sid`, accepted when REQUIRE_SESSION_CLAIM is false. */
  sessionId: string | undefined;
}

const invalidAuthentication = () => unauthorized("Invalid authentication");

/** The bearer token of a request, or null (the scheme is matched case-insensitively). */
export function bearerToken(c: Context<AppEnv>): string | null {
  const header = c.req.header("Authorization");
  const match = header ? /^bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1] ?? null;
}

/**
 * Resolves an access token to its caller, in the original's order of checks. Shared by REST
 * and the socket handshakes, so both refuse exactly the same tokens.
 */
export async function authenticateAccessToken(c: Context<AppEnv>, token: string): Promise<Caller> {
  const { config, deps, log } = c.var;
  let claims: Awaited<ReturnType<typeof verifyToken>>;
  try {
    claims = await verifyToken(token, config.jwt.secret);
  } catch (error) {
    if (error instanceof InvalidTokenError) throw invalidAuthentication();
    throw error;
  }
  if (claims.type === "refresh") throw invalidAuthentication();
  if (!claims.sessionId) {
    if (config.session.requireSessionClaim) throw invalidAuthentication();
    if (!(await getUser(deps.db, claims.userId))) throw unauthorized("User not found");
    return { userId: claims.userId, sessionId: undefined };
  }
  await assertSessionActive(
    { db: () => deps.db, cacheSeconds: config.session.cacheSeconds },
    claims.userId,
    claims.sessionId,
  );
  if (config.session.touchEnabled && config.session.touchTtlSeconds > 0) {
    const touch = touchSession({ db: () => deps.db, log }, claims.sessionId, config.session.touchTtlSeconds);
    try {
      c.executionCtx.waitUntil(touch);
    } catch {
      await touch;
    }
  }
  return { userId: claims.userId, sessionId: claims.sessionId };
}

/** Requires a valid access token; `c.var.caller` is then set. */
export const requireAuth: MiddlewareHandler<AppEnv> = async (c, next) => {
  // The original refuses a malformed JSON body before it looks at credentials.
  rejectMalformedBody(c);
  const token = bearerToken(c);
  if (!token) throw notAuthenticated();
  c.set("caller", await authenticateAccessToken(c, token));
  await next();
};

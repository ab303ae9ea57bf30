/**
 * Auth routes (docs/http-api.md#accounts-and-sessions), with rotation, reuse detection, immediate revocation
 * and Google sign-in added.
 */
import { type Context, Hono } from "hono";
import { z } from "zod";
import { verifyGoogleIdToken } from "../auth/google";
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from "../auth/passwords";
import { InvalidTokenError, verifyToken } from "../auth/tokens";
import type { AppEnv } from "../context";
import { AppError, notFound, unauthorized, validationFailed } from "../errors";
import { requireAuth } from "../http/auth";
import { clientIp } from "../http/client-ip";
import { enforceAddressRate, enforceRate, ipIdentifier, underAccountLoginLimit } from "../http/rate-limit";
import { jsonBody, rejectUnstorable, toValidationIssues, validate, zText } from "../http/validation";
import { isoTime, toUserRead } from "../presenters/users";
import {
  authenticate,
  changePassword,
  findOrCreateExternalUser,
  getUser,
  normaliseEmail,
  register,
} from "../services/accounts";
import {
  listActiveSessions,
  refreshSession,
  revokeOtherSessions,
  revokeSession,
  type SessionContext,
  startSession,
} from "../services/sessions";

const MAX_EMAIL_LENGTH = 255;
const MAX_TOKEN_LENGTH = 4096;

/**
 * Normalised (docs/original-defects.md#d11-e-mail-case); anything that is not a usable address, too
 * long included, is the original's single "value is not a valid email address".
 */
const email = z.string().transform((raw, ctx) => {
  const normalised = raw.length <= 320 ? normaliseEmail(raw) : "";
  if (normalised.length > MAX_EMAIL_LENGTH || !z.email().safeParse(normalised).success) {
    ctx.addIssue({ code: "invalid_format", format: "email", input: raw });
    return z.NEVER;
  }
  return normalised;
});
const newPassword = zText(PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH);
/** Any password the caller may type at login: bounded, so an over-long one is a 422, not a CPU burn. */
const anyPassword = zText(0, PASSWORD_MAX_LENGTH);

export const registration = z.object({ email, display_name: zText(2, 32), password: newPassword });
export const loginForm = z.object({
  username: z.string().max(320),
  password: anyPassword,
  grant_type: z
    .string()
    .regex(/^password/)
    .optional(),
  scope: z.string().optional(),
  client_id: z.string().optional(),
  client_secret: z.string().optional(),
});
export const refreshBody = z.object({ refresh_token: z.string().max(MAX_TOKEN_LENGTH) });
export const logoutBody = z.object({ refresh_token: z.string().max(MAX_TOKEN_LENGTH).nullish() }).nullish();
export const passwordChange = z.object({ current_password: anyPassword, new_password: newPassword });
export const sessionParam = z.object({ session_id: z.string().max(64) });
export const googleSignIn = z.object({
  id_token: z
    .string()
    .min(1)
    .max(MAX_TOKEN_LENGTH * 2),
});

function sessionContext(c: Context<AppEnv>): SessionContext {
  const { config, deps, log } = c.var;
  return {
    db: deps.db,
    log,
    tokens: config.jwt,
    refreshReuseGraceSeconds: config.refreshReuseGraceSeconds,
    notifier: deps.notifier,
  };
}

function newSessionFor(c: Context<AppEnv>, userId: number) {
  return startSession(sessionContext(c), {
    userId,
    userAgent: c.req.header("User-Agent") ?? null,
    ipAddress: clientIp(c),
  });
}

/** The OAuth2 password form (urlencoded or multipart); a JSON body lacks its fields (422). */
async function readLoginForm(c: Context<AppEnv>) {
  const mediaType = (c.req.header("Content-Type") ?? "").split(";")[0]?.trim().toLowerCase();
  const isForm = mediaType === "application/x-www-form-urlencoded" || mediaType === "multipart/form-data";
  let form: Record<string, unknown> = {};
  if (isForm) {
    try {
      form = await c.req.parseBody();
    } catch {
      throw new AppError(400, "Malformed form body");
    }
  }
  rejectUnstorable(form, "body");
  const result = loginForm.safeParse(form);
  if (!result.success) throw validationFailed(toValidationIssues(result.error, "body", form));
  return result.data;
}

/** A refresh token presented in a body: verified, else 401 "Invalid refresh token". */
async function refreshClaims(c: Context<AppEnv>, token: string) {
  try {
    const claims = await verifyToken(token, c.var.config.jwt.secret);
    if (claims.type !== undefined && claims.type !== "refresh") throw unauthorized("Invalid refresh token");
    return claims;
  } catch (error) {
    if (error instanceof InvalidTokenError) throw unauthorized("Invalid refresh token");
    throw error;
  }
}

export const authRoutes = new Hono<AppEnv>()
  .post("/auth/register", jsonBody(registration), async (c) => {
    const body = c.req.valid("json");
    await enforceAddressRate(c, "register");
    const user = await register(c.var.deps.db, {
      email: body.email,
      displayName: body.display_name,
      password: body.password,
    });
    return c.json(toUserRead(user));
  })

  .post("/auth/login", async (c) => {
    const form = await readLoginForm(c);
    // Per address, then per address and user name (docs/http-api.md#rate-limits); counted before the password
    // is checked. Then the failures per account, across addresses (issue 13.7).
    const account = normaliseEmail(form.username);
    await enforceAddressRate(c, "login");
    await enforceAddressRate(c, "login-user", `:u:${account}`);
    const user = await underAccountLoginLimit(c, account, () =>
      authenticate(c.var.deps.db, form.username, form.password),
    );
    return c.json(await newSessionFor(c, user.id));
  })

  .post("/auth/refresh", jsonBody(refreshBody), async (c) => {
    // Counted per user when the token verifies, per address otherwise; refused tokens count too.
    const verified = await refreshClaims(c, c.req.valid("json").refresh_token).then(
      (claims) => ({ claims }),
      (error: unknown) => ({ error }),
    );
    const identifier = "claims" in verified ? `u:${verified.claims.userId}` : ipIdentifier(c);
    if (identifier !== null) await enforceRate(c, "refresh", identifier);
    if (!("claims" in verified)) throw verified.error;
    return c.json(await refreshSession(sessionContext(c), verified.claims));
  })

  .post("/auth/logout", requireAuth, jsonBody(logoutBody), async (c) => {
    const { caller } = c.var;
    const token = c.req.valid("json")?.refresh_token;
    if (token) {
      const claims = await refreshClaims(c, token);
      if (claims.userId !== caller.userId || !claims.sessionId) throw unauthorized("Invalid refresh token");
      await revokeSession(sessionContext(c), caller.userId, claims.sessionId);
    } else if (caller.sessionId) {
      await revokeSession(sessionContext(c), caller.userId, caller.sessionId);
    }
    return c.body(null, 204);
  })

  .get("/auth/me", requireAuth, async (c) => {
    const user = await getUser(c.var.deps.db, c.var.caller.userId);
    if (!user) throw unauthorized("User not found");
    return c.json(toUserRead(user));
  })

  .get("/auth/sessions", requireAuth, async (c) => {
    const { caller } = c.var;
    const sessions = await listActiveSessions(c.var.deps.db, caller.userId);
    return c.json(
      sessions.map((s) => ({
        session_id: s.sessionId,
        user_agent: s.userAgent,
        ip_address: s.ipAddress,
        created_at: isoTime(s.createdAt),
        last_seen_at: isoTime(s.lastSeenAt),
        revoked_at: isoTime(s.revokedAt),
        // Additive: which of these is the caller's own.
        is_current: s.sessionId === caller.sessionId,
      })),
    );
  })

  // Additive: "log out everywhere else". Declared before the {session_id} route it resembles.
  .post("/auth/sessions/revoke-others", requireAuth, async (c) => {
    const { caller } = c.var;
    const revoked = await revokeOtherSessions(sessionContext(c), caller.userId, caller.sessionId ?? null);
    return c.json({ revoked });
  })

  .delete("/auth/sessions/:session_id", requireAuth, validate("param", sessionParam), async (c) => {
    const revoked = await revokeSession(
      sessionContext(c),
      c.var.caller.userId,
      c.req.valid("param").session_id,
    );
    if (!revoked) throw notFound("Session not found");
    return c.body(null, 204);
  })

  // Additive: change the password, which logs out every other session.
  .post("/auth/password", requireAuth, jsonBody(passwordChange), async (c) => {
    const { caller } = c.var;
    const body = c.req.valid("json");
    await changePassword(c.var.deps.db, caller.userId, body.current_password, body.new_password);
    await revokeOtherSessions(sessionContext(c), caller.userId, caller.sessionId ?? null);
    return c.body(null, 204);
  })

  // Additive (the original's roadmap): sign in with a Google ID token.
  .post("/auth/google", jsonBody(googleSignIn), async (c) => {
    const google = c.var.config.google;
    if (!google) throw new AppError(501, "Google sign-in is not configured");
    // A sign-in like the password form: the same per-address budget.
    await enforceAddressRate(c, "login");
    const identity = await verifyGoogleIdToken(c.req.valid("json").id_token, google);
    const user = await findOrCreateExternalUser(c.var.deps.db, identity.email, identity.name);
    return c.json(await newSessionFor(c, user.id));
  });

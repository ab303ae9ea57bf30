/**
 * The HTTP side of the rate limits (docs/http-api.md#rate-limits;
 * docs/original-defects.md#d5-rate-limit-500s): who a request counts against, the global rule as middleware,
 * the socket-connect rule at the handshake, and the answer a refused request gets. The rules themselves,
 * their keys and settings live in services/rate-limits.ts.
 *
 * Identity. A caller presenting an access token that verifies (signature, expiry, not a refresh
 * token: a local HMAC check, no database) counts as `u:<user id>`, so users behind one NAT or
 * proxy do not share a budget; everyone else counts as `ip:<address>` (http/client-ip.ts, as
 * CLIENT_IP_SOURCE says). When no address is known, rules counted per address are skipped rather
 * than counted in one bucket that every anonymous caller would share (ten failed logins used to
 * lock everyone out); a warning says so once per isolate, and logins are still limited per
 * account (services/login-limits.ts).
 *
 * A refusal is 429 {"detail":"Too many requests"} with Retry-After and RateLimit-Limit,
 * RateLimit-Remaining, RateLimit-Reset (seconds until the window ends), or 503 {"detail":"Rate
 * limiter unavailable"} when the store is down and RATE_LIMIT_FAIL_OPEN is false. Both are thrown
 * as AppError inside the CORS middleware, so they carry CORS headers like every other error (the
 * original's global limiter answered a bare 500 without them), and they expose the rate
 * headers to browsers.
 */
import type { Context, MiddlewareHandler } from "hono";
import { verifyToken } from "../auth/tokens";
import type { AppEnv } from "../context";
import { AppError } from "../errors";
import { metrics } from "../observability/metrics";
import {
  accountLoginDecision,
  type LoginLimitContext,
  recordFailedLogin,
  rememberLoginAddress,
} from "../services/login-limits";
import {
  checkRate,
  type RateDecision,
  type RateRule,
  refusalDetail,
  secondsUntilReset,
} from "../services/rate-limits";
import { bearerToken } from "./auth";
import { clientIp } from "./client-ip";
import { isUpgrade, MAX_TOKEN_LENGTH, presentedToken } from "./socket-handshake";

/** Exact paths the global rule never counts: probes and metrics. */
export const RATE_LIMIT_EXEMPT_PATHS: ReadonlySet<string> = new Set([
  "/health",
  "/healthz",
  "/readyz",
  "/metrics",
]);

const EXPOSED_HEADERS = "Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset";

export function rateLimitHeaders(decision: RateDecision): Record<string, string> {
  const reset = String(secondsUntilReset(decision));
  return {
    "Retry-After": reset,
    "RateLimit-Limit": String(decision.limit),
    "RateLimit-Remaining": String(decision.remaining),
    "RateLimit-Reset": reset,
    "Access-Control-Expose-Headers": EXPOSED_HEADERS,
  };
}

/** The error a refused request is answered with (429, or 503 when the limiter is unavailable). */
export function rateLimitRefusal(decision: RateDecision): AppError {
  if (decision.outcome === "unavailable") return new AppError(503, refusalDetail(decision));
  return new AppError(429, refusalDetail(decision), rateLimitHeaders(decision));
}

/**
 * A Durable Object's message-limit refusal (`{ kind: "rate_limited", rate?: RateDecision }`) as
 * the HTTP answer: exact headers when the object passes on the decision of checkMessageRate
 * (`rate`), else headers bounded by the object's own window (`fallback`).
 */
export function objectLimitRefusal(
  result: object,
  fallback: { rule: RateRule; limit: number; windowMs: number },
): AppError {
  const decision = "rate" in result ? (result.rate as RateDecision | undefined) : undefined;
  if (decision) return rateLimitRefusal(decision);
  metrics.rateLimited(fallback.rule);
  return rateLimitRefusal({
    rule: fallback.rule,
    outcome: "limited",
    allowed: false,
    limit: fallback.limit,
    remaining: 0,
    resetAt: Date.now() + fallback.windowMs,
  });
}

/** `ip:<address>`, or null when the deployment gives no trustworthy address. */
export function ipIdentifier(c: Context<AppEnv>): string | null {
  const address = clientIp(c);
  if (address !== null) return `ip:${address}`;
  if (!warnedNoAddress) {
    warnedNoAddress = true;
    c.var.log?.warn(
      "no client address (CLIENT_IP_SOURCE): rate limits counted per address are skipped; logins stay limited per account",
      { client_ip_source: c.var.config?.clientIpSource },
    );
  }
  return null;
}
let warnedNoAddress = false;

/** `u:<id>` for an access token that verifies; null for none, a bad one or a refresh token. */
export async function tokenIdentifier(c: Context<AppEnv>, token: string | null): Promise<string | null> {
  if (!token || token.length > MAX_TOKEN_LENGTH) return null;
  try {
    const claims = await verifyToken(token, c.var.config.jwt.secret);
    return claims.type === "refresh" ? null : `u:${claims.userId}`;
  } catch {
    return null;
  }
}

/** Counts one hit; throws the refusal when the request may not proceed. */
export async function enforceRate(
  c: Context<AppEnv>,
  rule: RateRule,
  identifier: string,
): Promise<RateDecision> {
  const { config, deps, log } = c.var;
  const decision = await checkRate({ store: deps.store, config, log }, rule, identifier);
  if (!decision.allowed) throw rateLimitRefusal(decision);
  return decision;
}

/**
 * Counts a rule keyed on the client's address (plus `suffix`, e.g. a user name); skipped when no
 * address is known (see the module comment).
 */
export async function enforceAddressRate(c: Context<AppEnv>, rule: RateRule, suffix = ""): Promise<void> {
  const identifier = ipIdentifier(c);
  if (identifier !== null) await enforceRate(c, rule, `${identifier}${suffix}`);
}

/**
 * A password login under the per-account limit: refused (429) before the password is checked
 * while the account is locked for this address; a failure (401) is counted against the account;
 * a success remembers the address (services/login-limits.ts).
 */
export async function underAccountLoginLimit<T>(
  c: Context<AppEnv>,
  account: string,
  attempt: () => Promise<T>,
): Promise<T> {
  const ctx: LoginLimitContext = { store: c.var.deps.store, config: c.var.config, log: c.var.log };
  const address = clientIp(c);
  const decision = await accountLoginDecision(ctx, account, address);
  if (!decision.allowed) throw rateLimitRefusal(decision);
  try {
    const result = await attempt();
    await rememberLoginAddress(ctx, account, address);
    return result;
  } catch (error) {
    if (error instanceof AppError && error.status === 401) await recordFailedLogin(ctx, account);
    throw error;
  }
}

/**
 * The global rule (RATE_LIMIT_HTTP_PER_MINUTE): every request but the exempt paths and socket
 * handshakes (counted by their own rule). CORS preflights never get here: the CORS middleware
 * answers them first.
 */
export const globalRateLimit: MiddlewareHandler<AppEnv> = async (c, next) => {
  const config = c.var.config;
  if (!config?.rateLimits.enabled || RATE_LIMIT_EXEMPT_PATHS.has(c.req.path) || isUpgrade(c)) {
    return next();
  }
  const identifier = (await tokenIdentifier(c, bearerToken(c))) ?? ipIdentifier(c);
  if (identifier !== null) await enforceRate(c, "http", identifier);
  return next();
};

/**
 * The socket-connect rule (RATE_LIMIT_WS_CONNECT_PER_MINUTE), first step of every handshake on
 * every /ws/* endpoint (docs/socket-protocol.md#handshake): refused with 429 (503 when fail-closed) before
 * any upgrade and before the token is checked against the database. A plain GET is not counted.
 */
export const socketConnectRateLimit: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!c.var.config?.rateLimits.enabled || !isUpgrade(c)) return next();
  const identifier = (await tokenIdentifier(c, presentedToken(c).token)) ?? ipIdentifier(c);
  if (identifier !== null) await enforceRate(c, "ws-connect", identifier);
  return next();
};

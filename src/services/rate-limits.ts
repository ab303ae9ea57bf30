/**
 * Rate limits (docs/http-api.md#rate-limits; docs/original-defects.md#d14-rate-limit-bypass): every rule, its
 * key and its setting, in one place, usable from the Worker's middleware (http/rate-limit.ts) and from the
 * Durable Objects alike.
 *
 * Counting is done in the store by @upstash/ratelimit's fixed window (one EVALSHA per check: INCRBY
 * plus PEXPIRE in one script, so a counter can never be left without its TTL,
 * docs/original-defects.md#d15-store-expiry-and-outages). Windows are
 * aligned to the epoch (a 60 s window ends on the minute). The key of a check is
 * `<STORE_KEY_PREFIX><rule prefix>:<identifier>:<window number>`, e.g.
 * `rl:http:ip:203.0.113.9:29651234` or `rl:msg:post:u:42:c:7:177907401`; identifiers are
 * `u:<user id>` for an authenticated caller and `ip:<address>` otherwise. The library keeps, per
 * isolate, the identifiers it has seen refused until their window ends, so a client hammering past
 * its limit costs no further store calls.
 *
 * Without a configured store (development only) the same windows are counted in the in-memory store.
 *
 * Failure (docs/original-defects.md#d15-store-expiry-and-outages): a check the store cannot answer within
 * RATE_LIMIT_TIMEOUT_MS (connection refused, timeout, Redis down behind the bridge) lets the request through
 * when RATE_LIMIT_FAIL_OPEN is true (the default) and refuses it otherwise (503 "Rate limiter unavailable");
 * either way a warning is logged (at most one per rule every 10 s per isolate) and counted in
 * rate_limiter_unavailable_total. After such a failure the store is left alone for 5 s, so an outage does not
 * add the timeout to every request.
 * RATE_LIMITS_ENABLED=false switches every rule off (benchmarks): no store call is made at all.
 */
import { Ratelimit } from "@upstash/ratelimit";
import { Redis } from "@upstash/redis/cloudflare";
import type { Config } from "../config";
import type { Logger } from "../log";
import { metrics } from "../observability/metrics";
import type { KeyValueStore } from "../store/store";

export type RateRule =
  | "http"
  | "ws-connect"
  | "login"
  | "login-user"
  | "login-account"
  | "refresh"
  | "register"
  | "channel-message"
  | "dm-message"
  | "dm-thread"
  | "reaction"
  | "search";

export interface RuleSpec {
  /** Key prefix (after STORE_KEY_PREFIX); the original's key names where the original had the rule. */
  prefix: string;
  limit: number;
  windowMs: number;
}

const MINUTE = 60_000;

export function ruleSpec(config: Config, rule: RateRule): RuleSpec {
  const r = config.rateLimits;
  const [prefix, limit, naturalWindowMs] = (
    {
      http: ["rl:http", r.httpPerMinute, MINUTE],
      "ws-connect": ["rl:ws:connect", r.wsConnectPerMinute, MINUTE],
      login: ["rl:auth:login", r.loginPerMinute, MINUTE],
      "login-user": ["rl:auth:login", r.loginPerMinutePerUser, MINUTE],
      // Counted by services/login-limits.ts in the store itself (failures only, read before counting).
      "login-account": ["rl:auth:login-fail", r.loginFailuresPerAccountPer15Minutes, 15 * MINUTE],
      refresh: ["rl:auth:refresh", r.refreshPerMinute, MINUTE],
      register: ["rl:auth:register", r.registerPerHour, 60 * MINUTE],
      "channel-message": ["rl:msg:post", config.messagePostLimitPer10Seconds, 10_000],
      "dm-message": ["rl:dm:post", r.dmMessagePer10Seconds, 10_000],
      "dm-thread": ["rl:dm:thread", r.dmThreadCreatePerMinute, MINUTE],
      reaction: ["rl:reaction", r.reactionPerMinute, MINUTE],
      search: ["rl:search", r.searchPerMinute, MINUTE],
    } satisfies Record<RateRule, [string, number, number]>
  )[rule];
  return { prefix, limit, windowMs: r.windowOverrideMs ?? naturalWindowMs };
}

export const RATE_RULES: readonly RateRule[] = [
  "http",
  "ws-connect",
  "login",
  "login-user",
  "login-account",
  "refresh",
  "register",
  "channel-message",
  "dm-message",
  "dm-thread",
  "reaction",
  "search",
];
for (const rule of RATE_RULES) metrics.declareRateRule(rule);

export interface RateDecision {
  rule: RateRule;
  /**
   * allowed / limited: the store answered. unavailable: it did not (`allowed` is then
   * RATE_LIMIT_FAIL_OPEN). disabled: RATE_LIMITS_ENABLED is false.
   */
  outcome: "allowed" | "limited" | "unavailable" | "disabled";
  allowed: boolean;
  limit: number;
  remaining: number;
  /** When the current window ends, in epoch milliseconds (0 when unknown). */
  resetAt: number;
}

export interface RateLimitContext {
  store: KeyValueStore;
  config: Config;
  log?: Logger;
}

// ---------------------------------------------------------------------------------------------
// The store's limiters, one per rule per settings object (so per isolate), sharing one client.
// ---------------------------------------------------------------------------------------------

interface Limiters {
  redis: Redis;
  byRule: Map<RateRule, Ratelimit>;
}

const limitersByConfig = new WeakMap<Config, Limiters>();

function upstashLimiter(config: Config, rule: RateRule, spec: RuleSpec): Ratelimit {
  let limiters = limitersByConfig.get(config);
  if (!limiters) {
    const { restUrl, restToken } = config.store;
    if (!restUrl || !restToken) throw new Error("rate limits: no store URL and token configured");
    const timeoutMs = config.rateLimits.timeoutMs;
    limiters = {
      redis: new Redis({
        url: restUrl,
        token: restToken,
        responseEncoding: "base64",
        enableAutoPipelining: false,
        enableTelemetry: false,
        latencyLogging: false,
        // A fresh budget per call (see store/upstash-store.ts); no retry: a limit check that
        // cannot be answered at once fails open (or closed) rather than slowing every request.
        signal: () => AbortSignal.timeout(timeoutMs),
        retry: { retries: 0, backoff: () => 0 },
      }),
      byRule: new Map(),
    };
    limitersByConfig.set(config, limiters);
  }
  let limiter = limiters.byRule.get(rule);
  if (!limiter) {
    limiter = new Ratelimit({
      redis: limiters.redis,
      limiter: Ratelimit.fixedWindow(spec.limit, `${spec.windowMs} ms`),
      prefix: `${config.store.keyPrefix}${spec.prefix}`,
      // On timeout the library answers success with reason "timeout"; see countInUpstash.
      timeout: config.rateLimits.timeoutMs,
      analytics: false,
      enableProtection: false,
      enableTelemetry: false,
      ephemeralCache: new Map(),
    });
    limiters.byRule.set(rule, limiter);
  }
  return limiter;
}

interface Count {
  success: boolean;
  limit: number;
  remaining: number;
  reset: number;
}

class LimiterTimeout extends Error {
  constructor(ms: number) {
    super(`no answer from the store within ${ms} ms`);
    this.name = "LimiterTimeout";
  }
}

/**
 * After a failed check the store is not asked again for a few seconds (per isolate): during an
 * outage requests then pay no timeout each, and the store is tried again soon after.
 */
const RETRY_STORE_AFTER_MS = 5_000;
const storeDownUntil = new Map<string, number>();

async function countInUpstash(ctx: RateLimitContext, rule: RateRule, spec: RuleSpec, id: string) {
  const url = ctx.config.store.restUrl ?? "";
  const downUntil = storeDownUntil.get(url);
  if (downUntil !== undefined && Date.now() < downUntil) {
    throw new Error("the store failed a moment ago; not asking it again yet");
  }
  try {
    const result = await upstashLimiter(ctx.config, rule, spec).limit(id);
    if (result.reason === "timeout") throw new LimiterTimeout(ctx.config.rateLimits.timeoutMs);
    storeDownUntil.delete(url);
    return result;
  } catch (error) {
    storeDownUntil.set(url, Date.now() + RETRY_STORE_AFTER_MS);
    throw error;
  }
}

async function countInStore(
  ctx: RateLimitContext,
  rule: RateRule,
  spec: RuleSpec,
  id: string,
): Promise<Count> {
  if (ctx.store.kind === "upstash") return countInUpstash(ctx, rule, spec, id);
  // The in-memory store (development without a store): the same epoch-aligned fixed window.
  const now = Date.now();
  const window = Math.floor(now / spec.windowMs);
  const used = await ctx.store.increment(`${spec.prefix}:${id}:${window}`, {
    ttlSeconds: Math.max(1, Math.ceil(spec.windowMs / 1000)),
  });
  return {
    success: used <= spec.limit,
    limit: spec.limit,
    remaining: Math.max(0, spec.limit - used),
    reset: (window + 1) * spec.windowMs,
  };
}

// ---------------------------------------------------------------------------------------------
// Warnings when the store fails: useful once, noise a thousand times.
// ---------------------------------------------------------------------------------------------

const WARN_INTERVAL_MS = 10_000;
const lastWarning = new Map<RateRule, { at: number; suppressed: number }>();

function warnUnavailable(log: Logger | undefined, rule: RateRule, error: unknown, allowed: boolean) {
  const now = Date.now();
  const last = lastWarning.get(rule);
  if (last && now - last.at < WARN_INTERVAL_MS) {
    last.suppressed += 1;
    return;
  }
  lastWarning.set(rule, { at: now, suppressed: 0 });
  log?.warn(allowed ? "rate limiter unavailable: failing open" : "rate limiter unavailable: refusing", {
    rule,
    error: error instanceof Error ? error.message.slice(0, 300) : String(error),
    suppressed_since_last_warning: last?.suppressed ?? 0,
  });
}

// ---------------------------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------------------------

/**
 * Counts one hit of `identifier` against `rule` and says whether it may proceed. Never throws:
 * a store failure becomes an `unavailable` decision (see the module comment).
 */
export async function checkRate(
  ctx: RateLimitContext,
  rule: RateRule,
  identifier: string,
): Promise<RateDecision> {
  const spec = ruleSpec(ctx.config, rule);
  if (!ctx.config.rateLimits.enabled) {
    return { rule, outcome: "disabled", allowed: true, limit: spec.limit, remaining: spec.limit, resetAt: 0 };
  }
  try {
    const count = await countInStore(ctx, rule, spec, identifier);
    if (!count.success) metrics.rateLimited(rule);
    return {
      rule,
      outcome: count.success ? "allowed" : "limited",
      allowed: count.success,
      limit: count.limit,
      remaining: count.remaining,
      resetAt: count.reset,
    };
  } catch (error) {
    return unavailableDecision(ctx, rule, error);
  }
}

/** The decision when the store could not answer: RATE_LIMIT_FAIL_OPEN decides; counted and logged. */
export function unavailableDecision(ctx: RateLimitContext, rule: RateRule, error: unknown): RateDecision {
  const allowed = ctx.config.rateLimits.failOpen;
  metrics.rateLimiterUnavailable(rule, allowed);
  warnUnavailable(ctx.log, rule, error, allowed);
  return {
    rule,
    outcome: "unavailable",
    allowed,
    limit: ruleSpec(ctx.config, rule).limit,
    remaining: 0,
    resetAt: 0,
  };
}

/** What a message limit is counted per (always per user as well). */
export type MessageScope =
  /** A channel message, over REST and the channel socket together (one budget). */
  | { kind: "channel"; channelId: number }
  /** A direct message, over REST and the DM socket together (one budget per thread). */
  | { kind: "dm"; threadId: number }
  /** Opening (or finding) a DM thread. */
  | { kind: "dm-thread" }
  /** Adding or removing a reaction, anywhere. */
  | { kind: "reaction" };

/**
 * The message limits (docs/original-defects.md#d14-rate-limit-bypass), for the Durable Objects and the
 * message routes:
 *
 *   channel:   RATE_LIMIT_POST_MESSAGE_PER_10_SECONDS per user per channel (key rl:msg:post:u:{uid}:c:{cid})
 *   dm:        RATE_LIMIT_DM_MESSAGE_PER_10_SECONDS per user per thread (rl:dm:post:u:{uid}:t:{tid})
 *   dm-thread: RATE_LIMIT_DM_THREAD_CREATE_PER_MINUTE per user (rl:dm:thread:u:{uid})
 *
 * `decision.allowed` false means refuse: `outcome` "limited" is "Too many requests" (429), and
 * "unavailable" (store down with RATE_LIMIT_FAIL_OPEN=false) is "Rate limiter unavailable" (503).
 */
export function checkMessageRate(
  store: KeyValueStore,
  config: Config,
  userId: number,
  scope: MessageScope,
  log?: Logger,
): Promise<RateDecision> {
  const ctx = { store, config, log };
  switch (scope.kind) {
    case "channel":
      return checkRate(ctx, "channel-message", `u:${userId}:c:${scope.channelId}`);
    case "dm":
      return checkRate(ctx, "dm-message", `u:${userId}:t:${scope.threadId}`);
    case "dm-thread":
      return checkRate(ctx, "dm-thread", `u:${userId}`);
    case "reaction":
      return checkRate(ctx, "reaction", `u:${userId}`);
  }
}

/** The `detail` of a refusal, for REST bodies and socket `error` events alike. */
export const refusalDetail = (decision: RateDecision) =>
  decision.outcome === "unavailable" ? "Rate limiter unavailable" : "Too many requests";

/** Whole seconds until the window ends (at least 1), for Retry-After and RateLimit-Reset. */
export function secondsUntilReset(decision: RateDecision, now = Date.now()): number {
  if (decision.resetAt <= 0) return 1;
  return Math.max(1, Math.ceil((decision.resetAt - now) / 1000));
}

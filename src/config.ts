/**
 * Settings: the one place that reads the Worker's environment.
 *
 * Every setting is validated once per isolate (the result is cached per env object) and the
 * rest of the code only ever sees the typed `Config`. A bad or missing setting never crashes
 * the isolate — a crash would only turn into a restart loop with the same environment — so
 * `loadConfig` returns the problems instead, and the app answers 503 naming them (and logs
 * them once) until the operator fixes the environment.
 *
 * Each setting is documented in .dev.vars.example.
 */
import { z } from "zod";

/** Worker vars may arrive as strings, numbers or booleans (wrangler.toml [vars]); settle on strings. */
const text = (value: unknown) =>
  typeof value === "number" || typeof value === "boolean" ? String(value) : value;
/**
 * An empty value means "not set", as in a .env file with `KEY=`; so does null, which is what
 * standalone workerd's `fromEnvironment` binding holds when the variable is not set
 * (deploy/workerd.capnp).
 */
const optionalText = (value: unknown) => {
  const v = text(value);
  return v === null || (typeof v === "string" && v.trim() === "") ? undefined : v;
};

const flag = (fallback: boolean) => z.preprocess(optionalText, z.stringbool().default(fallback));
const integer = (fallback: number, min: number, max: number) =>
  z.preprocess(optionalText, z.coerce.number().int().min(min).max(max).default(fallback));
const optionalUrl = z.preprocess(optionalText, z.url({ protocol: /^https?$/ }).optional());

const DEFAULT_CORS_ORIGINS = ["http://localhost:3000"];

/**
 * The text search configurations PostgreSQL ships (every version this project supports), which
 * SEARCH_LANGUAGE may name. It must be the one the stored search vectors were built with (the
 * migration builds them with 'simple'; README, "Search", says how to change both together).
 */
export const SEARCH_LANGUAGES = [
  "simple",
  "arabic",
  "danish",
  "dutch",
  "english",
  "finnish",
  "french",
  "german",
  "greek",
  "hungarian",
  "indonesian",
  "irish",
  "italian",
  "lithuanian",
  "nepali",
  "norwegian",
  "portuguese",
  "romanian",
  "russian",
  "spanish",
  "swedish",
  "tamil",
  "turkish",
] as const;
export type SearchLanguage = (typeof SEARCH_LANGUAGES)[number];

/**
 * Where the client's address comes from (http/client-ip.ts). Only a header that a proxy the
 * deployment runs sets (or overwrites) can be trusted; a header a client may write itself keys
 * its rate limits on whatever the client likes.
 */
export const CLIENT_IP_SOURCES = [
  "auto",
  "cf-connecting-ip",
  "x-forwarded-for",
  "x-real-ip",
  "peer",
  "none",
] as const;
export type ClientIpSource = (typeof CLIENT_IP_SOURCES)[number];

const environmentSchema = z
  .object({
    ENV: z.preprocess(optionalText, z.enum(["development", "test", "production"]).default("production")),
    DATABASE_URL: z.preprocess(
      optionalText,
      z
        .string({ error: "is required (a postgres:// URL)" })
        .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL"),
    ),
    DB_CONNECT_TIMEOUT_SECONDS: integer(5, 1, 60),
    DATABASE_PREPARE: flag(true),
    DATABASE_CONNECTIONS: z.preprocess(optionalText, z.enum(["pooled", "per-request"]).optional()),
    DATABASE_POOL_SIZE: integer(8, 1, 100),
    UPSTASH_REDIS_REST_URL: optionalUrl,
    UPSTASH_REDIS_REST_TOKEN: z.preprocess(optionalText, z.string().optional()),
    STORE_KEY_PREFIX: z.preprocess(optionalText, z.string().max(64).default("")),
    STORE_TIMEOUT_MS: integer(1500, 50, 30_000),
    JWT_SECRET: z.preprocess(optionalText, z.string({ error: "is required" })),
    JWT_ALGORITHM: z.preprocess(
      optionalText,
      z.literal("HS256", { error: "only HS256 is supported" }).default("HS256"),
    ),
    ACCESS_TOKEN_EXPIRES_MINUTES: integer(15, 1, 24 * 60),
    REFRESH_TOKEN_EXPIRES_DAYS: integer(7, 1, 365),
    REFRESH_REUSE_GRACE_SECONDS: integer(30, 0, 300),
    GOOGLE_CLIENT_ID: z.preprocess(optionalText, z.string().optional()),
    GOOGLE_JWKS_URL: z.preprocess(
      optionalText,
      z.url({ protocol: /^https?$/ }).default("https://www.googleapis.com/oauth2/v3/certs"),
    ),
    GOOGLE_ISSUERS: z.preprocess(
      optionalText,
      z.string().default("https://accounts.google.com,accounts.google.com"),
    ),
    CORS_ORIGINS: z.preprocess(optionalText, z.string().optional()),
    CLIENT_IP_SOURCE: z.preprocess(
      optionalText,
      z.enum(CLIENT_IP_SOURCES, { error: `must be one of ${CLIENT_IP_SOURCES.join(", ")}` }).optional(),
    ),
    /** Replaced by CLIENT_IP_SOURCE; `true` still means x-forwarded-for. */
    TRUST_PROXY_HEADERS: z.preprocess(optionalText, z.stringbool().optional()),
    REQUIRE_SESSION_CLAIM: flag(true),
    SESSION_TOUCH_ENABLED: flag(true),
    SESSION_TOUCH_TTL_SECONDS: integer(300, 0, 86_400),
    SESSION_CACHE_SECONDS: integer(15, 0, 300),
    WS_MAX_SOCKETS_PER_USER: integer(32, 1, 1000),
    WS_FRAMES_PER_SECOND: integer(10, 1, 10_000),
    ACCESS_CACHE_SECONDS: integer(60, 1, 3600),
    MENTION_EVERYONE_MAX_READERS: integer(50, 0, 1_000_000),
    SEARCH_LANGUAGE: z.preprocess(
      optionalText,
      z.enum(SEARCH_LANGUAGES, { error: `must be one of ${SEARCH_LANGUAGES.join(", ")}` }).default("simple"),
    ),
    METRICS_ENABLED: flag(true),
    METRICS_TOKEN: z.preprocess(optionalText, z.string().max(512).optional()),
    RATE_LIMITS_ENABLED: flag(true),
    RATE_LIMIT_FAIL_OPEN: flag(true),
    RATE_LIMIT_TIMEOUT_MS: integer(500, 20, 10_000),
    RATE_LIMIT_WINDOW_OVERRIDE_MS: z.preprocess(
      optionalText,
      z.coerce.number().int().min(100).max(86_400_000).optional(),
    ),
    RATE_LIMIT_HTTP_PER_MINUTE: integer(300, 1, 1_000_000),
    RATE_LIMIT_WS_CONNECT_PER_MINUTE: integer(60, 1, 1_000_000),
    RATE_LIMIT_LOGIN_PER_MINUTE: integer(10, 1, 1_000_000),
    RATE_LIMIT_LOGIN_PER_MINUTE_PER_USER: integer(5, 1, 1_000_000),
    RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT_PER_15_MINUTES: integer(20, 1, 1_000_000),
    RATE_LIMIT_REFRESH_PER_MINUTE: integer(30, 1, 1_000_000),
    RATE_LIMIT_REGISTER_PER_HOUR: integer(20, 1, 1_000_000),
    RATE_LIMIT_POST_MESSAGE_PER_10_SECONDS: integer(20, 1, 10_000),
    RATE_LIMIT_DM_MESSAGE_PER_10_SECONDS: integer(20, 1, 10_000),
    RATE_LIMIT_DM_THREAD_CREATE_PER_MINUTE: integer(30, 1, 1_000_000),
    RATE_LIMIT_REACTION_PER_MINUTE: integer(60, 1, 1_000_000),
    RATE_LIMIT_SEARCH_PER_MINUTE: integer(30, 1, 1_000_000),
    LOG_LEVEL: z.preprocess(optionalText, z.enum(["debug", "info", "warn", "error"]).default("info")),
  })
  .superRefine((env, ctx) => {
    // Outside development a short secret makes every token forgeable by brute force.
    if (env.JWT_SECRET !== undefined && env.ENV !== "development") {
      if (new TextEncoder().encode(env.JWT_SECRET).length < 32) {
        ctx.addIssue({
          code: "custom",
          path: ["JWT_SECRET"],
          message: `must be at least 32 bytes when ENV is ${env.ENV}`,
        });
      }
    }
    if (
      env.TRUST_PROXY_HEADERS === true &&
      env.CLIENT_IP_SOURCE &&
      env.CLIENT_IP_SOURCE !== "x-forwarded-for"
    ) {
      ctx.addIssue({
        code: "custom",
        path: ["TRUST_PROXY_HEADERS"],
        message: `is replaced by CLIENT_IP_SOURCE and contradicts CLIENT_IP_SOURCE=${env.CLIENT_IP_SOURCE}: remove it`,
      });
    }
    if (env.UPSTASH_REDIS_REST_URL && !env.UPSTASH_REDIS_REST_TOKEN) {
      ctx.addIssue({
        code: "custom",
        path: ["UPSTASH_REDIS_REST_TOKEN"],
        message: "is required when UPSTASH_REDIS_REST_URL is set",
      });
    }
    // The in-memory store is per isolate: fine for one developer, silently wrong in production
    // (rate limits and caches would differ between isolates), so production must name a store.
    if (env.ENV === "production" && !env.UPSTASH_REDIS_REST_URL) {
      ctx.addIssue({
        code: "custom",
        path: ["UPSTASH_REDIS_REST_URL"],
        message: "is required when ENV is production (the in-memory store is for development only)",
      });
    }
  });

/** The name of every setting, for tools that gather them (`npm run dev` hands each one to the Worker). */
export const SETTING_NAMES: readonly string[] = Object.keys(environmentSchema.shape);

export type Environment = "development" | "test" | "production";

export interface Config {
  env: Environment;
  database: DatabaseConfig;
  store: { restUrl?: string; restToken?: string; keyPrefix: string; timeoutMs: number };
  jwt: { secret: string; algorithm: "HS256"; accessTtlSeconds: number; refreshTtlSeconds: number };
  /**
   * How long the previous refresh token of a session still gets the current pair
   * (docs/original-defects.md#d16-refresh-rotation).
   */
  refreshReuseGraceSeconds: number;
  /** Google sign-in; absent when GOOGLE_CLIENT_ID is not set. */
  google?: { clientId: string; jwksUrl: string; issuers: string[] };
  /** Where the client address comes from (CLIENT_IP_SOURCE; http/client-ip.ts). */
  clientIpSource: ClientIpSource;
  corsOrigins: readonly string[];
  session: {
    requireSessionClaim: boolean;
    touchEnabled: boolean;
    touchTtlSeconds: number;
    /** How long an isolate trusts a session's "active" verdict before asking the database again. */
    cacheSeconds: number;
  };
  /** Sockets one user may hold in one object (a conversation, or their notification feed). */
  sockets: {
    maxPerUser: number;
    /** Frames a socket may send per second, in bursts of four seconds' worth (realtime/frame-budget.ts). */
    framesPerSecond: number;
  };
  /**
   * How long a conversation object trusts what it learned about access without being told of a
   * change (realtime/access-cache.ts): the bound for changes made behind the app's back.
   */
  accessCacheSeconds: number;
  /**
   * `@channel` and `@here` reach everyone only in conversations with at most this many readers,
   * unless the author moderates it (services/mentions.ts).
   */
  mentionEveryoneMaxReaders: number;
  /** The text search configuration of message search (SEARCH_LANGUAGE; services/search.ts). */
  searchLanguage: SearchLanguage;
  metricsEnabled: boolean;
  /** When set, GET /metrics requires `Authorization: Bearer <token>`. */
  metricsToken?: string;
  /**
   * Channel messages a user may post per 10 s in one channel, over REST and sockets together
   * (docs/original-defects.md#d14-rate-limit-bypass).
   */
  messagePostLimitPer10Seconds: number;
  /** The rate limits (docs/http-api.md#rate-limits), enforced by services/rate-limits.ts (per window). */
  rateLimits: RateLimitSettings;
  logLevel: "debug" | "info" | "warn" | "error";
}

export interface DatabaseConfig {
  url: string;
  connectTimeoutSeconds: number;
  /** Named prepared statements; off behind a transaction pooler (PgBouncer < 1.21). */
  prepare: boolean;
  /**
   * pooled: requests are served by an ApiHost object that keeps connections open; per-request: each
   * request opens and ends its own (Hyperdrive). See src/db/client.ts.
   */
  connections: "pooled" | "per-request";
  /** Connections an ApiHost keeps open at most. */
  poolSize: number;
}

export interface RateLimitSettings {
  /** false switches every limit off (benchmarks). */
  enabled: boolean;
  /** Let requests through when the store cannot be asked (else 503 "Rate limiter unavailable"). */
  failOpen: boolean;
  /** How long a limit check may wait for the store before it counts as unavailable. */
  timeoutMs: number;
  /** Replaces every rule's window (tests use short windows); unset in production. */
  windowOverrideMs: number | undefined;
  httpPerMinute: number;
  wsConnectPerMinute: number;
  loginPerMinute: number;
  loginPerMinutePerUser: number;
  /** Failed logins per account (normalised e-mail) across all addresses, per 15 minutes. */
  loginFailuresPerAccountPer15Minutes: number;
  refreshPerMinute: number;
  registerPerHour: number;
  dmMessagePer10Seconds: number;
  dmThreadCreatePerMinute: number;
  /** Reactions a user may add or remove per minute, everywhere together. */
  reactionPerMinute: number;
  /** Message searches a user may run per minute. */
  searchPerMinute: number;
}

export interface ConfigProblem {
  setting: string;
  message: string;
}

export type ConfigResult = { ok: true; config: Config } | { ok: false; problems: ConfigProblem[] };

function parseOrigins(raw: string | undefined): string[] {
  const origins = (raw ?? "")
    .split(",")
    .map((o) => o.trim())
    .filter(Boolean);
  return origins.length > 0 ? origins : DEFAULT_CORS_ORIGINS;
}

/**
 * The connection string of a Hyperdrive binding named HYPERDRIVE (wrangler.toml), if the Worker
 * has one. On Cloudflare it replaces DATABASE_URL: queries then go through Hyperdrive's pool.
 */
function hyperdriveConnectionString(env: Record<string, unknown>): string | undefined {
  const binding = env.HYPERDRIVE;
  if (typeof binding !== "object" || binding === null) return undefined;
  const url = (binding as { connectionString?: unknown }).connectionString;
  return typeof url === "string" && url !== "" ? url : undefined;
}

export function parseConfig(env: Record<string, unknown>): ConfigResult {
  const hyperdrive = hyperdriveConnectionString(env);
  const parsed = environmentSchema.safeParse(hyperdrive ? { ...env, DATABASE_URL: hyperdrive } : env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => ({
      setting: String(issue.path[0] ?? "environment"),
      message: issue.message,
    }));
    return { ok: false, problems };
  }
  const e = parsed.data;
  return {
    ok: true,
    config: {
      env: e.ENV,
      database: {
        url: e.DATABASE_URL,
        connectTimeoutSeconds: e.DB_CONNECT_TIMEOUT_SECONDS,
        prepare: e.DATABASE_PREPARE,
        // Hyperdrive is itself a pool close to the database: a connect through it is cheap.
        connections: e.DATABASE_CONNECTIONS ?? (hyperdrive ? "per-request" : "pooled"),
        poolSize: e.DATABASE_POOL_SIZE,
      },
      store: {
        restUrl: e.UPSTASH_REDIS_REST_URL,
        restToken: e.UPSTASH_REDIS_REST_TOKEN,
        keyPrefix: e.STORE_KEY_PREFIX,
        timeoutMs: e.STORE_TIMEOUT_MS,
      },
      jwt: {
        secret: e.JWT_SECRET,
        algorithm: e.JWT_ALGORITHM,
        accessTtlSeconds: e.ACCESS_TOKEN_EXPIRES_MINUTES * 60,
        refreshTtlSeconds: e.REFRESH_TOKEN_EXPIRES_DAYS * 86_400,
      },
      refreshReuseGraceSeconds: e.REFRESH_REUSE_GRACE_SECONDS,
      google: e.GOOGLE_CLIENT_ID
        ? {
            clientId: e.GOOGLE_CLIENT_ID,
            jwksUrl: e.GOOGLE_JWKS_URL,
            issuers: e.GOOGLE_ISSUERS.split(",")
              .map((i) => i.trim())
              .filter(Boolean),
          }
        : undefined,
      clientIpSource: e.CLIENT_IP_SOURCE ?? (e.TRUST_PROXY_HEADERS ? "x-forwarded-for" : "auto"),
      corsOrigins: parseOrigins(e.CORS_ORIGINS),
      session: {
        requireSessionClaim: e.REQUIRE_SESSION_CLAIM,
        touchEnabled: e.SESSION_TOUCH_ENABLED,
        touchTtlSeconds: e.SESSION_TOUCH_TTL_SECONDS,
        cacheSeconds: e.SESSION_CACHE_SECONDS,
      },
      sockets: { maxPerUser: e.WS_MAX_SOCKETS_PER_USER, framesPerSecond: e.WS_FRAMES_PER_SECOND },
      accessCacheSeconds: e.ACCESS_CACHE_SECONDS,
      mentionEveryoneMaxReaders: e.MENTION_EVERYONE_MAX_READERS,
      searchLanguage: e.SEARCH_LANGUAGE,
      metricsEnabled: e.METRICS_ENABLED,
      metricsToken: e.METRICS_TOKEN,
      messagePostLimitPer10Seconds: e.RATE_LIMIT_POST_MESSAGE_PER_10_SECONDS,
      rateLimits: {
        enabled: e.RATE_LIMITS_ENABLED,
        failOpen: e.RATE_LIMIT_FAIL_OPEN,
        timeoutMs: e.RATE_LIMIT_TIMEOUT_MS,
        windowOverrideMs: e.RATE_LIMIT_WINDOW_OVERRIDE_MS,
        httpPerMinute: e.RATE_LIMIT_HTTP_PER_MINUTE,
        wsConnectPerMinute: e.RATE_LIMIT_WS_CONNECT_PER_MINUTE,
        loginPerMinute: e.RATE_LIMIT_LOGIN_PER_MINUTE,
        loginPerMinutePerUser: e.RATE_LIMIT_LOGIN_PER_MINUTE_PER_USER,
        loginFailuresPerAccountPer15Minutes: e.RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT_PER_15_MINUTES,
        refreshPerMinute: e.RATE_LIMIT_REFRESH_PER_MINUTE,
        registerPerHour: e.RATE_LIMIT_REGISTER_PER_HOUR,
        dmMessagePer10Seconds: e.RATE_LIMIT_DM_MESSAGE_PER_10_SECONDS,
        dmThreadCreatePerMinute: e.RATE_LIMIT_DM_THREAD_CREATE_PER_MINUTE,
        reactionPerMinute: e.RATE_LIMIT_REACTION_PER_MINUTE,
        searchPerMinute: e.RATE_LIMIT_SEARCH_PER_MINUTE,
      },
      logLevel: e.LOG_LEVEL,
    },
  };
}

export function describeProblems(problems: readonly ConfigProblem[]): string {
  return problems.map((p) => `${p.setting} ${p.message}`).join("; ");
}

const cache = new WeakMap<object, ConfigResult>();

/** Parses the environment once per env object (one per isolate in practice). */
export function loadConfig(env: object): ConfigResult {
  let result = cache.get(env);
  if (!result) {
    result = parseConfig(env as Record<string, unknown>);
    cache.set(env, result);
  }
  return result;
}

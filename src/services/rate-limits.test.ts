/**
 * The rate-limit rules without a network: the rule table, the identifiers each message scope is
 * counted under, the decisions when the limits are off or the store cannot answer, and the words
 * and numbers a refusal carries. Counting is done by the project's own in-memory store (the
 * development store), whose keys show what a check counted against; counting in the real store
 * through @upstash/ratelimit is tested against Redis in test/ratelimit/.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { type Config, parseConfig } from "../config";
import type { Logger } from "../log";
import { metrics } from "../observability/metrics";
import { MemoryStore, MemoryStoreData } from "../store/memory-store";
import {
  checkMessageRate,
  checkRate,
  RATE_RULES,
  type RateDecision,
  type RateRule,
  refusalDetail,
  ruleSpec,
  secondsUntilReset,
  unavailableDecision,
} from "./rate-limits";

function config(env: Record<string, string> = {}): Config {
  const result = parseConfig({
    ENV: "production",
    DATABASE_URL: "postgres://u:p@db:5432/braumchat",
    JWT_SECRET: "x".repeat(32),
    UPSTASH_REDIS_REST_URL: "http://bridge:8079",
    UPSTASH_REDIS_REST_TOKEN: "token",
    ...env,
  });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.config;
}

/** A store whose keys can be read back, to see what was counted. */
function countingStore() {
  const data = new MemoryStoreData();
  return { store: new MemoryStore({ data }), keys: () => [...data.entries.keys()] };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("the rule table", () => {
  it("gives every rule its key prefix, its setting and its natural window", () => {
    const c = config({
      RATE_LIMIT_HTTP_PER_MINUTE: "101",
      RATE_LIMIT_WS_CONNECT_PER_MINUTE: "102",
      RATE_LIMIT_LOGIN_PER_MINUTE: "103",
      RATE_LIMIT_LOGIN_PER_MINUTE_PER_USER: "104",
      RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT_PER_15_MINUTES: "105",
      RATE_LIMIT_REFRESH_PER_MINUTE: "106",
      RATE_LIMIT_REGISTER_PER_HOUR: "107",
      RATE_LIMIT_POST_MESSAGE_PER_10_SECONDS: "108",
      RATE_LIMIT_DM_MESSAGE_PER_10_SECONDS: "109",
      RATE_LIMIT_DM_THREAD_CREATE_PER_MINUTE: "110",
      RATE_LIMIT_REACTION_PER_MINUTE: "111",
      RATE_LIMIT_SEARCH_PER_MINUTE: "112",
    });
    const table = Object.fromEntries(RATE_RULES.map((rule) => [rule, ruleSpec(c, rule)]));
    expect(table).toEqual({
      http: { prefix: "rl:http", limit: 101, windowMs: 60_000 },
      "ws-connect": { prefix: "rl:ws:connect", limit: 102, windowMs: 60_000 },
      login: { prefix: "rl:auth:login", limit: 103, windowMs: 60_000 },
      "login-user": { prefix: "rl:auth:login", limit: 104, windowMs: 60_000 },
      "login-account": { prefix: "rl:auth:login-fail", limit: 105, windowMs: 15 * 60_000 },
      refresh: { prefix: "rl:auth:refresh", limit: 106, windowMs: 60_000 },
      register: { prefix: "rl:auth:register", limit: 107, windowMs: 3_600_000 },
      "channel-message": { prefix: "rl:msg:post", limit: 108, windowMs: 10_000 },
      "dm-message": { prefix: "rl:dm:post", limit: 109, windowMs: 10_000 },
      "dm-thread": { prefix: "rl:dm:thread", limit: 110, windowMs: 60_000 },
      reaction: { prefix: "rl:reaction", limit: 111, windowMs: 60_000 },
      search: { prefix: "rl:search", limit: 112, windowMs: 60_000 },
    });
  });

  it("has the documented defaults", () => {
    const c = config();
    const limits = Object.fromEntries(RATE_RULES.map((rule) => [rule, ruleSpec(c, rule).limit]));
    expect(limits).toEqual({
      http: 300,
      "ws-connect": 60,
      login: 10,
      "login-user": 5,
      "login-account": 20,
      refresh: 30,
      register: 20,
      "channel-message": 20,
      "dm-message": 20,
      "dm-thread": 30,
      reaction: 60,
      search: 30,
    });
  });

  it("puts every rule on RATE_LIMIT_WINDOW_OVERRIDE_MS when it is set (for tests of the limits)", () => {
    const c = config({ RATE_LIMIT_WINDOW_OVERRIDE_MS: "2000" });
    for (const rule of RATE_RULES) expect(ruleSpec(c, rule).windowMs, rule).toBe(2000);
  });
});

describe("checkMessageRate", () => {
  const ids = (keys: string[]) => keys.map((key) => key.replace(/:\d+$/, ""));

  it("counts channel posts per user and channel, DM posts per user and thread, threads per user", async () => {
    const { store, keys } = countingStore();
    const c = config();
    await checkMessageRate(store, c, 42, { kind: "channel", channelId: 7 });
    await checkMessageRate(store, c, 42, { kind: "dm", threadId: 9 });
    await checkMessageRate(store, c, 42, { kind: "dm-thread" });
    expect(ids(keys())).toEqual(["rl:msg:post:u:42:c:7", "rl:dm:post:u:42:t:9", "rl:dm:thread:u:42"]);
  });

  it("keeps each user's budget, and each conversation's, apart", async () => {
    const { store } = countingStore();
    const c = config({ RATE_LIMIT_POST_MESSAGE_PER_10_SECONDS: "2" });
    const post = (userId: number, channelId: number) =>
      checkMessageRate(store, c, userId, { kind: "channel", channelId }).then((d) => d.outcome);
    expect([await post(1, 7), await post(1, 7), await post(1, 7)]).toEqual(["allowed", "allowed", "limited"]);
    expect(await post(2, 7)).toBe("allowed");
    expect(await post(1, 8)).toBe("allowed");
  });

  it("numbers windows from the epoch, so a window ends on its boundary", async () => {
    vi.useFakeTimers({ now: 1_700_000_003_000, toFake: ["Date"] });
    const { store, keys } = countingStore();
    const decision = await checkMessageRate(store, config(), 1, { kind: "channel", channelId: 1 });
    expect(keys()).toEqual([`rl:msg:post:u:1:c:1:${Math.floor(1_700_000_003_000 / 10_000)}`]);
    expect(decision).toEqual({
      rule: "channel-message",
      outcome: "allowed",
      allowed: true,
      limit: 20,
      remaining: 19,
      resetAt: 1_700_000_010_000,
    });
    expect(secondsUntilReset(decision)).toBe(7);
  });
});

describe("checkRate", () => {
  it("answers disabled, and counts nothing, when the limits are off", async () => {
    const { store, keys } = countingStore();
    const decision = await checkRate(
      { store, config: config({ RATE_LIMITS_ENABLED: "false" }) },
      "login",
      "ip:x",
    );
    expect(decision).toEqual({
      rule: "login",
      outcome: "disabled",
      allowed: true,
      limit: 10,
      remaining: 10,
      resetAt: 0,
    });
    expect(keys()).toEqual([]);
  });

  it("counts a refusal in rate_limit_rejections_total under its rule", async () => {
    const { store } = countingStore();
    const c = config({ RATE_LIMIT_REGISTER_PER_HOUR: "1" });
    const rejections = () =>
      Number(
        /rate_limit_rejections_total\{rule="register"\} (\d+)/.exec(metrics.expose())?.[1] ?? Number.NaN,
      );
    const before = rejections();
    expect((await checkRate({ store, config: c }, "register", "ip:a")).allowed).toBe(true);
    expect(rejections()).toBe(before);
    const refused = await checkRate({ store, config: c }, "register", "ip:a");
    expect(refused).toMatchObject({ outcome: "limited", allowed: false, remaining: 0 });
    expect(rejections()).toBe(before + 1);
  });
});

describe("when the store cannot answer", () => {
  const silentLog = () => {
    const warnings: string[] = [];
    return { log: { warn: (m: string) => warnings.push(m) } as unknown as Logger, warnings };
  };

  it("lets the request through when failing open, and refuses it otherwise", () => {
    const { store } = countingStore();
    const open = unavailableDecision({ store, config: config() }, "dm-thread", new Error("x"));
    expect(open).toEqual({
      rule: "dm-thread",
      outcome: "unavailable",
      allowed: true,
      limit: 30,
      remaining: 0,
      resetAt: 0,
    });
    const closed = unavailableDecision(
      { store, config: config({ RATE_LIMIT_FAIL_OPEN: "false" }) },
      "dm-thread",
      new Error("x"),
    );
    expect(closed).toMatchObject({ outcome: "unavailable", allowed: false });
  });

  it("warns once per rule every few seconds, not once per request", () => {
    vi.useFakeTimers({ now: 5_000_000_000, toFake: ["Date"] });
    const { store } = countingStore();
    const { log, warnings } = silentLog();
    const ctx = { store, config: config({ RATE_LIMIT_FAIL_OPEN: "false" }), log };
    for (let i = 0; i < 5; i++) unavailableDecision(ctx, "ws-connect", new Error("down"));
    expect(warnings).toEqual(["rate limiter unavailable: refusing"]);
    vi.setSystemTime(5_000_000_000 + 10_000);
    unavailableDecision(ctx, "ws-connect", new Error("down"));
    expect(warnings).toHaveLength(2);
  });
});

describe("what a refusal says", () => {
  const decision = (fields: Partial<RateDecision>): RateDecision => ({
    rule: "http" as RateRule,
    outcome: "limited",
    allowed: false,
    limit: 1,
    remaining: 0,
    resetAt: 0,
    ...fields,
  });

  it("is 'Too many requests' for a limit, and 'Rate limiter unavailable' when the store failed", () => {
    expect(refusalDetail(decision({ outcome: "limited" }))).toBe("Too many requests");
    expect(refusalDetail(decision({ outcome: "unavailable" }))).toBe("Rate limiter unavailable");
  });

  it("gives the whole seconds until the window ends, rounded up, at least 1", () => {
    expect(secondsUntilReset(decision({ resetAt: 10_000 }), 0)).toBe(10);
    expect(secondsUntilReset(decision({ resetAt: 10_000 }), 500)).toBe(10);
    expect(secondsUntilReset(decision({ resetAt: 10_000 }), 1_700)).toBe(9);
    expect(secondsUntilReset(decision({ resetAt: 10_000 }), 9_999)).toBe(1);
    expect(secondsUntilReset(decision({ resetAt: 10_000 }), 12_000)).toBe(1);
    expect(secondsUntilReset(decision({ resetAt: 0 }), 12_000)).toBe(1);
  });
});

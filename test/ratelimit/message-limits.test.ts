/**
 * checkMessageRate, the limits the Durable Objects apply to messages
 * (docs/original-defects.md#d14-rate-limit-bypass): channel messages per user and channel, DMs per user and
 * thread, DM thread creation per user. Called here as the objects call it, against the real Redis behind the
 * bridge (and the in-memory store of development), with short windows.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Config, parseConfig } from "../../src/config";
import { checkMessageRate, refusalDetail } from "../../src/services/rate-limits";
import { createStore } from "../../src/store";
import type { KeyValueStore } from "../../src/store/store";
import { TEST_JWT_SECRET } from "../support/app";
import {
  deleteKeysWithPrefix,
  freePort,
  startTestStore,
  type TestStore,
  uniqueKeyPrefix,
} from "../support/store";
import { nextWindow, windowWithRoom } from "./support";

const WINDOW_MS = 2000;
const testStore: TestStore | null = await startTestStore();
const prefix = uniqueKeyPrefix("message-limits");

function configWith(env: Record<string, string | undefined>): Config {
  const result = parseConfig({
    ENV: "test",
    DATABASE_URL: "postgres://unused@127.0.0.1:1/unused",
    JWT_SECRET: TEST_JWT_SECRET,
    UPSTASH_REDIS_REST_URL: testStore?.restUrl,
    UPSTASH_REDIS_REST_TOKEN: testStore?.token,
    STORE_KEY_PREFIX: prefix,
    RATE_LIMIT_WINDOW_OVERRIDE_MS: String(WINDOW_MS),
    RATE_LIMIT_POST_MESSAGE_PER_10_SECONDS: "2",
    RATE_LIMIT_DM_MESSAGE_PER_10_SECONDS: "3",
    RATE_LIMIT_DM_THREAD_CREATE_PER_MINUTE: "2",
    ...env,
  });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.config;
}

describe.skipIf(!testStore)("checkMessageRate against the store", () => {
  let config: Config;
  let store: KeyValueStore;
  let redis: Redis;

  beforeAll(() => {
    config = configWith({});
    store = createStore(config.store);
    redis = new Redis(testStore?.redisUrl ?? "", { protocol: 2 });
  });
  afterAll(async () => {
    redis?.disconnect();
    if (testStore) {
      await deleteKeysWithPrefix(testStore.redisUrl, prefix);
      await testStore.stop();
    }
  });

  const outcomes = async (userId: number, scope: Parameters<typeof checkMessageRate>[3], times: number) => {
    const results = [];
    for (let i = 0; i < times; i++)
      results.push((await checkMessageRate(store, config, userId, scope)).outcome);
    return results;
  };

  it("limits channel messages per user and channel, in the store, until the window ends", async () => {
    await windowWithRoom(WINDOW_MS, 1200);
    expect(await outcomes(1, { kind: "channel", channelId: 7 }, 3)).toEqual([
      "allowed",
      "allowed",
      "limited",
    ]);
    const refused = await checkMessageRate(store, config, 1, { kind: "channel", channelId: 7 });
    expect(refused).toMatchObject({ allowed: false, rule: "channel-message", limit: 2, remaining: 0 });
    expect(refused.resetAt).toBeGreaterThan(0);
    expect(refusalDetail(refused)).toBe("Too many requests");
    // Other channels and other users have their own budgets.
    expect(await outcomes(1, { kind: "channel", channelId: 8 }, 1)).toEqual(["allowed"]);
    expect(await outcomes(2, { kind: "channel", channelId: 7 }, 1)).toEqual(["allowed"]);
    // The counter is in Redis under the original's key, with a TTL.
    const keys = await redis.keys(`${prefix}rl:msg:post:u:1:c:7:*`);
    expect(keys).toHaveLength(1);
    expect(await redis.pttl(keys[0] ?? "")).toBeGreaterThan(0);
    await nextWindow(WINDOW_MS);
    expect(await outcomes(1, { kind: "channel", channelId: 7 }, 1)).toEqual(["allowed"]);
  });

  it("limits DMs per user and thread, and DM threads opened per user", async () => {
    await windowWithRoom(WINDOW_MS, 1200);
    expect(await outcomes(3, { kind: "dm", threadId: 5 }, 4)).toEqual([
      "allowed",
      "allowed",
      "allowed",
      "limited",
    ]);
    expect(await outcomes(3, { kind: "dm", threadId: 6 }, 1)).toEqual(["allowed"]);
    expect(await outcomes(3, { kind: "dm-thread" }, 3)).toEqual(["allowed", "allowed", "limited"]);
    expect(await outcomes(4, { kind: "dm-thread" }, 1)).toEqual(["allowed"]);
    expect(await redis.keys(`${prefix}rl:dm:post:u:3:t:5:*`)).toHaveLength(1);
    expect(await redis.keys(`${prefix}rl:dm:thread:u:3:*`)).toHaveLength(1);
  });

  it("is switched off by RATE_LIMITS_ENABLED=false without touching the store", async () => {
    const off = configWith({ RATE_LIMITS_ENABLED: "false" });
    for (let i = 0; i < 5; i++) {
      expect((await checkMessageRate(store, off, 9, { kind: "dm", threadId: 9 })).outcome).toBe("disabled");
    }
    expect(await redis.keys(`${prefix}rl:dm:post:u:9:*`)).toHaveLength(0);
  });

  it("fails open, or closed with 'Rate limiter unavailable', when the store cannot be reached", async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const open = configWith({ UPSTASH_REDIS_REST_URL: url });
    const closed = configWith({ UPSTASH_REDIS_REST_URL: url, RATE_LIMIT_FAIL_OPEN: "false" });
    const scope = { kind: "channel", channelId: 1 } as const;
    const a = await checkMessageRate(createStore(open.store), open, 1, scope);
    expect(a).toMatchObject({ outcome: "unavailable", allowed: true });
    const b = await checkMessageRate(createStore(closed.store), closed, 1, scope);
    expect(b).toMatchObject({ outcome: "unavailable", allowed: false });
    expect(refusalDetail(b)).toBe("Rate limiter unavailable");
  });
});

describe("checkMessageRate on the in-memory store (development without a store)", () => {
  it("counts the same windows", async () => {
    const config = configWith({ UPSTASH_REDIS_REST_URL: undefined, UPSTASH_REDIS_REST_TOKEN: undefined });
    const store = createStore(config.store);
    expect(store.kind).toBe("memory");
    await windowWithRoom(WINDOW_MS, 1000);
    const results = [];
    for (let i = 0; i < 3; i++) {
      results.push((await checkMessageRate(store, config, 1, { kind: "channel", channelId: 1 })).outcome);
    }
    expect(results).toEqual(["allowed", "allowed", "limited"]);
  });
});

/**
 * The bridge runs @upstash/ratelimit's scripts on a real Redis: their shebang flag
 * `allow-key-locking` (known to Upstash, refused by Redis 7) is dropped, and EVALSHA / SCRIPT LOAD /
 * SCRIPT EXISTS keep working with the SHA1 the client computed from the original script.
 */
import { createHash } from "node:crypto";
import { Ratelimit } from "@upstash/ratelimit";
import { Redis as UpstashRedis } from "@upstash/redis";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisCompatibleScript } from "../../scripts/upstash-bridge";
import { deleteKeysWithPrefix, startTestStore, type TestStore, uniqueKeyPrefix } from "../support/store";

const testStore: TestStore | null = await startTestStore();
const prefix = uniqueKeyPrefix("bridge-scripts");
const sha1 = (text: string) => createHash("sha1").update(text).digest("hex");

/** A script as @upstash/ratelimit writes them: an Upstash-only flag, and a write. */
const script = (tag: string) => `#!lua flags=allow-key-locking
  local v = redis.call("INCRBY", KEYS[1], ARGV[1])
  return {v, "${tag}"}
`;

describe("redisCompatibleScript", () => {
  it("drops only the flags Redis does not know, keeping line numbers", () => {
    expect(redisCompatibleScript("#!lua flags=allow-key-locking\nreturn 1")).toBe("\nreturn 1");
    expect(redisCompatibleScript("#!lua flags=no-writes,allow-key-locking\nreturn 1")).toBe(
      "#!lua flags=no-writes\nreturn 1",
    );
    expect(redisCompatibleScript("#!lua flags=no-writes\nreturn 1")).toBe("#!lua flags=no-writes\nreturn 1");
    expect(redisCompatibleScript("#!lua\nreturn 1")).toBe("#!lua\nreturn 1");
    expect(redisCompatibleScript("return 1")).toBe("return 1");
  });
});

describe.skipIf(!testStore)("scripts through the bridge", () => {
  let redis: Redis;
  const call = async (path: string, body: unknown) => {
    const res = await fetch(`${testStore?.restUrl}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${testStore?.token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as any };
  };

  beforeAll(() => {
    redis = new Redis(testStore?.redisUrl ?? "", { protocol: 2 });
  });
  afterAll(async () => {
    redis?.disconnect();
    if (testStore) {
      await deleteKeysWithPrefix(testStore.redisUrl, prefix);
      await testStore.stop();
    }
  });

  it("runs EVAL of a script with an Upstash-only flag (Redis itself refuses it)", async () => {
    const text = script("eval");
    await expect(redis.eval(text, 1, `${prefix}direct`, "1")).rejects.toThrow(/Unexpected flag/);
    const res = await call("/", ["EVAL", text, 1, `${prefix}a`, 5]);
    expect(res).toEqual({ status: 200, json: { result: [5, "eval"] } });
  });

  it("answers EVALSHA with the client's SHA1 once the script was evaluated, as Upstash does", async () => {
    const text = script("evalsha");
    const before = await call("/", ["EVALSHA", sha1(text), 1, `${prefix}b`, 1]);
    expect(before.status).toBe(400);
    expect(before.json.error).toMatch(/NOSCRIPT/);
    await call("/", ["EVAL", text, 1, `${prefix}b`, 1]);
    const after = await call("/", ["EVALSHA", sha1(text), 1, `${prefix}b`, 1]);
    expect(after).toEqual({ status: 200, json: { result: [2, "evalsha"] } });
    // In a pipeline and in a transaction too.
    const pipeline = await call("/pipeline", [["EVALSHA", sha1(text), 1, `${prefix}b`, 1]]);
    expect(pipeline.json).toEqual([{ result: [3, "evalsha"] }]);
    const multi = await call("/multi-exec", [["EVALSHA", sha1(text), 1, `${prefix}b`, 1]]);
    expect(multi.json).toEqual([{ result: [4, "evalsha"] }]);
  });

  it("answers SCRIPT LOAD with the client's SHA1, and SCRIPT EXISTS knows it", async () => {
    const text = script("load");
    const load = await call("/", ["SCRIPT", "LOAD", text]);
    expect(load).toEqual({ status: 200, json: { result: sha1(text) } });
    expect((await call("/", ["SCRIPT", "EXISTS", sha1(text), "0".repeat(40)])).json).toEqual({
      result: [1, 0],
    });
    expect((await call("/", ["EVALSHA", sha1(text), 1, `${prefix}c`, 7])).json).toEqual({
      result: [7, "load"],
    });
  });

  it("keeps the flags Redis knows: a no-writes script still may not write", async () => {
    const res = await call("/", [
      "EVAL",
      "#!lua flags=no-writes,allow-key-locking\nreturn redis.call('SET', KEYS[1], '1')",
      1,
      `${prefix}ro`,
    ]);
    expect(res.status).toBe(400);
    expect(res.json.error).toMatch(/Write commands are not allowed/);
  });

  it("serves @upstash/ratelimit's fixed window: counts, refuses past the limit, leaves a TTL", async () => {
    const limiter = new Ratelimit({
      redis: new UpstashRedis({ url: testStore?.restUrl ?? "", token: testStore?.token ?? "" }),
      limiter: Ratelimit.fixedWindow(2, "60 s"),
      prefix: `${prefix}rl`,
      ephemeralCache: false,
      enableTelemetry: false,
    });
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await limiter.limit("someone"));
    expect(results.map((r) => [r.success, r.remaining])).toEqual([
      [true, 1],
      [true, 0],
      [false, 0],
    ]);
    const keys = await redis.keys(`${prefix}rl:someone:*`);
    expect(keys).toHaveLength(1);
    expect(await redis.get(keys[0] ?? "")).toBe("3");
    const ttl = await redis.pttl(keys[0] ?? "");
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });
});

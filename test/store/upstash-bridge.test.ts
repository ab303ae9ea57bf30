/**
 * The bridge's Upstash REST protocol, spoken with raw fetch against a real Redis.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startUpstashBridge, type UpstashBridge } from "../../scripts/upstash-bridge";
import { UpstashStore } from "../../src/store/upstash-store";
import { deleteKeysWithPrefix, startTestStore, uniqueKeyPrefix } from "../support/store";

const testStore = await startTestStore();
if (!testStore) console.info("upstash bridge: no Redis available, protocol tests skipped");

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

describe.skipIf(!testStore)("upstash bridge protocol", () => {
  const prefix = uniqueKeyPrefix("bridge");
  const k = (name: string) => `${prefix}${name}`;
  let url: string;
  let token: string;
  let redis: Redis;

  const call = async (
    path: string,
    body: unknown,
    options: { base64?: boolean; auth?: string | null; rawBody?: string } = {},
  ) => {
    const headers: Record<string, string> = { "content-type": "application/json" };
    const auth = options.auth === undefined ? `Bearer ${token}` : options.auth;
    if (auth !== null) headers.authorization = auth;
    if (options.base64) headers["upstash-encoding"] = "base64";
    const response = await fetch(`${url}${path}`, {
      method: "POST",
      headers,
      body: options.rawBody ?? JSON.stringify(body),
    });
    const text = await response.text();
    return {
      status: response.status,
      contentType: response.headers.get("content-type"),
      json: JSON.parse(text),
    };
  };

  beforeAll(() => {
    if (!testStore) return;
    url = testStore.restUrl;
    token = testStore.token;
    redis = new Redis(testStore.redisUrl, { protocol: 2 });
  });

  afterAll(async () => {
    if (!testStore) return;
    redis.disconnect();
    await deleteKeysWithPrefix(testStore.redisUrl, prefix);
    await testStore.stop();
  });

  it("answers GET /health without a token", async () => {
    const response = await fetch(`${url}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok", redis: "ready" });
  });

  it("answers 401 without a token, with a wrong one, or with another scheme", async () => {
    for (const auth of [
      null,
      "Bearer wrong-token",
      `Bearer ${token}x`,
      `Basic ${token}`,
      "Bearer",
      `${token}`,
    ]) {
      for (const path of ["/", "/pipeline", "/multi-exec"]) {
        const body = path === "/" ? ["SET", k("unauthorized"), "1"] : [["SET", k("unauthorized"), "1"]];
        const response = await call(path, body, { auth });
        expect(response.status).toBe(401);
        expect(response.json).toEqual({ error: "Unauthorized" });
      }
    }
    expect(await redis.exists(k("unauthorized"))).toBe(0);
  });

  it("runs one command and answers {result} as JSON", async () => {
    expect(await call("/", ["SET", k("single"), "hello"])).toEqual({
      status: 200,
      contentType: "application/json",
      json: { result: "OK" },
    });
    expect((await call("/", ["GET", k("single")])).json).toEqual({ result: "hello" });
    expect((await call("/", ["GET", k("absent")])).json).toEqual({ result: null });
    expect((await call("/", ["INCR", k("n")])).json).toEqual({ result: 1 });
    // Numbers are accepted as arguments and sent as their decimal text.
    expect((await call("/", ["SET", k("num"), 42, "EX", 100])).json).toEqual({ result: "OK" });
    expect(await redis.get(k("num"))).toBe("42");
    expect(await redis.ttl(k("num"))).toBeGreaterThan(90);
    // The command went to Redis as-is: the key exists there under the exact name.
    expect(await redis.get(k("single"))).toBe("hello");
  });

  it("passes replies through untransformed (HGETALL stays a flat array)", async () => {
    await call("/", ["HSET", k("hash"), "a", "1", "b", "2"]);
    expect((await call("/", ["HGETALL", k("hash")])).json).toEqual({ result: ["a", "1", "b", "2"] });
    expect((await call("/", ["PING"])).json).toEqual({ result: "PONG" });
  });

  it("base64-encodes strings in results with Upstash-Encoding: base64, recursively, and nothing else", async () => {
    const value = 'ünïcödé ✓ {"json": true}';
    expect((await call("/", ["SET", k("enc"), value], { base64: true })).json).toEqual({ result: b64("OK") });
    expect((await call("/", ["GET", k("enc")], { base64: true })).json).toEqual({ result: b64(value) });
    expect((await call("/", ["GET", k("enc")])).json).toEqual({ result: value });
    expect((await call("/", ["GET", k("absent")], { base64: true })).json).toEqual({ result: null });
    expect((await call("/", ["INCR", k("enc-n")], { base64: true })).json).toEqual({ result: 1 });
    expect((await call("/", ["MGET", k("enc"), k("absent")], { base64: true })).json).toEqual({
      result: [b64(value), null],
    });
    expect((await call("/", ["EVAL", "return {1, 'a', {'b', 2}}", "0"], { base64: true })).json).toEqual({
      result: [1, b64("a"), [b64("b"), 2]],
    });
    expect((await call("/pipeline", [["GET", k("enc")], ["PING"]], { base64: true })).json).toEqual([
      { result: b64(value) },
      { result: b64("PONG") },
    ]);
    // Errors are never encoded.
    expect((await call("/", ["INCR", k("enc")], { base64: true })).json).toEqual({
      error: "ERR value is not an integer or out of range",
    });
  });

  it("answers a Redis error with 400 {error}", async () => {
    await call("/", ["SET", k("text"), "abc"]);
    expect(await call("/", ["INCR", k("text")])).toMatchObject({
      status: 400,
      json: { error: "ERR value is not an integer or out of range" },
    });
    const unknown = await call("/", ["NOSUCHCOMMAND", "x"]);
    expect(unknown.status).toBe(400);
    expect(unknown.json.error).toMatch(/^ERR unknown command/);
    const wrongType = await call("/", ["LPUSH", k("text"), "x"]);
    expect(wrongType.status).toBe(400);
    expect(wrongType.json.error).toMatch(/^WRONGTYPE/);
  });

  it("runs a pipeline and answers one {result} or {error} per command", async () => {
    const response = await call("/pipeline", [
      ["SET", k("pipe"), "1"],
      ["INCR", k("pipe")],
      ["LPUSH", k("pipe"), "x"],
      ["GET", k("pipe")],
      ["GET", k("absent")],
    ]);
    expect(response.status).toBe(200);
    expect(response.json).toEqual([
      { result: "OK" },
      { result: 2 },
      { error: expect.stringMatching(/^WRONGTYPE/) },
      { result: "2" },
      { result: null },
    ]);
  });

  it("runs /multi-exec as one transaction", async () => {
    const response = await call("/multi-exec", [
      ["SET", k("tx"), "10"],
      ["INCRBY", k("tx"), "5"],
      ["LPUSH", k("tx"), "x"],
      ["GET", k("tx")],
    ]);
    expect(response.status).toBe(200);
    expect(response.json).toEqual([
      { result: "OK" },
      { result: 15 },
      { error: expect.stringMatching(/^WRONGTYPE/) },
      { result: "15" },
    ]);
    const encoded = await call(
      "/multi-exec",
      [
        ["GET", k("tx")],
        ["INCR", k("tx")],
      ],
      { base64: true },
    );
    expect(encoded.json).toEqual([{ result: b64("15") }, { result: 16 }]);
  });

  it("discards the whole transaction when a command cannot be queued", async () => {
    const response = await call("/multi-exec", [["SET", k("tx-aborted"), "1"], ["NOSUCHCOMMAND"]]);
    expect(response.status).toBe(400);
    expect(response.json.error).toMatch(/^EXECABORT .*unknown command/);
    expect(await redis.exists(k("tx-aborted"))).toBe(0);
    // The shared connection is usable afterwards (no transaction left open).
    expect((await call("/", ["SET", k("after-abort"), "ok"])).json).toEqual({ result: "OK" });
    expect(await redis.get(k("after-abort"))).toBe("ok");
  });

  it("keeps concurrent transactions and commands apart on the shared connection", async () => {
    const requests = Array.from({ length: 30 }, (_, i) =>
      i % 2 === 0
        ? call("/multi-exec", [
            ["INCR", k("concurrent")],
            ["INCR", k("concurrent")],
          ])
        : call("/", ["INCR", k("concurrent")]),
    );
    const responses = await Promise.all(requests);
    for (const [i, response] of responses.entries()) {
      expect(response.status).toBe(200);
      if (i % 2 === 0) {
        const [first, second] = response.json as { result: number }[];
        expect(second?.result).toBe((first?.result ?? 0) + 1);
      }
    }
    expect(await redis.get(k("concurrent"))).toBe("45");
  });

  it("runs EVAL, SCRIPT LOAD and EVALSHA", async () => {
    const script = "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCRBY', KEYS[2], ARGV[2])";
    expect((await call("/", ["EVAL", script, "2", k("eval-a"), k("eval-b"), "v", "7"])).json).toEqual({
      result: 7,
    });
    expect(await redis.get(k("eval-a"))).toBe("v");
    const loaded = await call("/", ["SCRIPT", "LOAD", "return ARGV[1] .. '!'"]);
    expect(loaded.json.result).toMatch(/^[0-9a-f]{40}$/);
    expect((await call("/", ["EVALSHA", loaded.json.result, "0", "hi"])).json).toEqual({ result: "hi!" });
    expect((await call("/", ["SCRIPT", "EXISTS", loaded.json.result])).json).toEqual({ result: [1] });
    const missing = await call("/", ["EVALSHA", "0".repeat(40), "0"]);
    expect(missing.status).toBe(400);
    expect(missing.json.error).toMatch(/^NOSCRIPT/);
  });

  it("rejects bodies that are not commands with 400", async () => {
    const cases: [string, string][] = [
      ["/", "not json"],
      ["/", "{}"],
      ["/", '"GET"'],
      ["/", "[]"],
      ["/", '[["GET", "x"]]'],
      ["/", '["GET", null]'],
      ["/", '["GET", true]'],
      ["/", '["GET", {"a": 1}]'],
      ["/", "[1, 2]"],
      ["/", '[""]'],
      ["/pipeline", "[]"],
      ["/pipeline", '["GET", "x"]'],
      ["/pipeline", '[["GET", "x"], "GET"]'],
      ["/pipeline", '[["GET", "x"], []]'],
      ["/multi-exec", "[]"],
      ["/multi-exec", '[["SET", "x", false]]'],
    ];
    for (const [path, rawBody] of cases) {
      const response = await call(path, undefined, { rawBody });
      expect({ path, rawBody, status: response.status }).toEqual({ path, rawBody, status: 400 });
      expect(response.json.error).toEqual(expect.any(String));
    }
  });

  it("refuses commands that would change or block the shared connection", async () => {
    for (const command of [
      ["SELECT", "1"],
      ["MULTI"],
      ["SUBSCRIBE", "channel"],
      ["BLPOP", k("list"), "1"],
      ["CLIENT", "REPLY", "OFF"],
      ["XREAD", "BLOCK", "1000", "STREAMS", k("stream"), "$"],
    ]) {
      const response = await call("/", command);
      expect(response.status).toBe(400);
      expect(response.json.error).toMatch(/not supported/);
    }
    const inPipeline = await call("/pipeline", [
      ["SET", k("denied"), "1"],
      ["SELECT", "2"],
    ]);
    expect(inPipeline.status).toBe(400);
    expect(await redis.exists(k("denied"))).toBe(0);
  });

  it("answers 404 for unknown paths and 405 for other methods", async () => {
    expect((await call("/set/foo/bar", ["x"])).status).toBe(404);
    const get = await fetch(`${url}/`, { headers: { authorization: `Bearer ${token}` } });
    expect(get.status).toBe(405);
    expect(await get.json()).toEqual({ error: "Method Not Allowed" });
  });

  it("caps the body size with 413", async () => {
    if (!testStore) return;
    let small: UpstashBridge | undefined;
    try {
      small = await startUpstashBridge({ redisUrl: testStore.redisUrl, token, port: 0, maxBodyBytes: 1024 });
      const body = JSON.stringify(["SET", k("big"), "x".repeat(2000)]);
      const response = await fetch(`${small.url}/`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
        body,
      });
      expect(response.status).toBe(413);
      expect((await response.json()).error).toMatch(/larger than 1024 bytes/);
      // The same bridge still serves bodies under the cap.
      const ok = await fetch(`${small.url}/`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
        body: JSON.stringify(["SET", k("big"), "x".repeat(500)]),
      });
      expect(await ok.json()).toEqual({ result: "OK" });
    } finally {
      await small?.close();
    }
  });

  it("serves @upstash/redis through UpstashStore (and reports its round trip)", async () => {
    if (!testStore) return;
    const store = new UpstashStore({ url, token, keyPrefix: k("store:") });
    await store.set("rt", "value");
    expect(await redis.get(k("store:rt"))).toBe("value");
    const rounds = 200;
    let started = performance.now();
    for (let i = 0; i < rounds; i++) await store.get("rt");
    const storeMs = (performance.now() - started) / rounds;
    started = performance.now();
    for (let i = 0; i < rounds; i++) await call("/", ["GET", k("store:rt")]);
    const fetchMs = (performance.now() - started) / rounds;
    console.info(
      `upstash bridge round trip, one GET: ${storeMs.toFixed(2)} ms via UpstashStore, ${fetchMs.toFixed(2)} ms via raw fetch (mean of ${rounds})`,
    );
  });
});

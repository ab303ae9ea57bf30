/**
 * The Upstash store fails fast with StoreUnavailableError instead of hanging
 * (docs/original-defects.md#d15-store-expiry-and-outages), and the bridge keeps answering (500) while Redis
 * is away and recovers when it is back. Times are reported, never asserted: a store that hung would
 * hold the test until its own timeout, and the errors say which bound fired ("no answer within 300 ms").
 */
import { createServer, type Server, type Socket } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { startUpstashBridge, type UpstashBridge } from "../../scripts/upstash-bridge";
import { StoreError, StoreUnavailableError } from "../../src/store/store";
import { UpstashStore } from "../../src/store/upstash-store";
import { freePort, spawnRedisServer, startTestStore, uniqueKeyPrefix } from "../support/store";

const TOKEN = "failure-test-token";

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function timed(
  label: string,
  operation: () => Promise<unknown>,
): Promise<{ error: unknown; ms: number }> {
  const started = performance.now();
  let error: unknown;
  try {
    await operation();
  } catch (e) {
    error = e;
  }
  const ms = performance.now() - started;
  console.info(
    `fail-fast: ${label}: ${ms.toFixed(1)} ms (${error instanceof Error ? error.message : "no error"})`,
  );
  return { error, ms };
}

/** A TCP server that accepts connections and never says anything. */
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const storeAt = (url: string, extra: { timeoutMs?: number; token?: string } = {}) =>
  new UpstashStore({
    url,
    token: extra.token ?? TOKEN,
    keyPrefix: uniqueKeyPrefix("failure"),
    ...(extra.timeoutMs === undefined ? {} : { timeoutMs: extra.timeoutMs }),
  });

describe("UpstashStore when the store is unreachable", () => {
  it("fails fast with StoreUnavailableError when nothing listens on the URL's port", async () => {
    const port = await freePort();
    const store = storeAt(`http://127.0.0.1:${port}`);
    for (const [label, operation] of [
      ["closed port, get", () => store.get("k")],
      ["closed port, increment", () => store.increment("k", { ttlSeconds: 60 })],
      ["closed port, ping", () => store.ping()],
    ] as const) {
      const { error } = await timed(label, operation);
      expect(error).toBeInstanceOf(StoreUnavailableError);
    }
  });

  it("times out with StoreUnavailableError when the server accepts but never answers", async () => {
    const silent = await silentServer();
    cleanups.push(() => silent.close());
    const store = storeAt(`http://127.0.0.1:${silent.port}`, { timeoutMs: 300 });
    const { error } = await timed("silent HTTP server, get (timeoutMs 300)", () => store.get("k"));
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toMatch(/no answer within 300 ms/);
  });

  it("reports a wrong token as StoreUnavailableError", async (context) => {
    const testStore = await startTestStore();
    if (!testStore) {
      context.skip();
      return;
    }
    cleanups.push(() => testStore.stop());
    const store = storeAt(testStore.restUrl, { token: "not-the-token" });
    const { error } = await timed("wrong token, get", () => store.get("k"));
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toMatch(/Unauthorized/);
  });
});

describe("bridge up, Redis down", () => {
  let bridge: UpstashBridge;

  it("answers 500 {error} at once and the store fails fast", async () => {
    const redisPort = await freePort();
    const started = performance.now();
    bridge = await startUpstashBridge({ redisUrl: `redis://127.0.0.1:${redisPort}`, token: TOKEN, port: 0 });
    cleanups.push(() => bridge.close());
    console.info(
      `fail-fast: bridge started with Redis down in ${(performance.now() - started).toFixed(1)} ms`,
    );

    const response = await fetch(`${bridge.url}/`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(["GET", "k"]),
    });
    expect(response.status).toBe(500);
    expect((await response.json()).error).toMatch(/^Redis unavailable/);
    const pipeline = await fetch(`${bridge.url}/multi-exec`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify([["INCR", "k"]]),
    });
    expect(pipeline.status).toBe(500);
    const health = await fetch(`${bridge.url}/health`);
    expect(health.status).toBe(200);

    const store = storeAt(bridge.url);
    for (const [label, operation] of [
      ["bridge up, Redis down, get", () => store.get("k")],
      ["bridge up, Redis down, set", () => store.set("k", "v", { ttlSeconds: 5 })],
      ["bridge up, Redis down, increment", () => store.increment("k", { ttlSeconds: 60 })],
      ["bridge up, Redis down, ping", () => store.ping()],
    ] as const) {
      const { error } = await timed(label, operation);
      expect(error).toBeInstanceOf(StoreUnavailableError);
    }
  });

  it("answers 500 at once when the Redis port accepts but never speaks", async () => {
    const silent = await silentServer();
    cleanups.push(() => silent.close());
    const silentBridge = await startUpstashBridge({
      redisUrl: `redis://127.0.0.1:${silent.port}`,
      token: TOKEN,
      port: 0,
    });
    cleanups.push(() => silentBridge.close());
    const store = storeAt(silentBridge.url);
    const { error } = await timed("bridge up, Redis silent, get", () => store.get("k"));
    expect(error).toBeInstanceOf(StoreUnavailableError);
  });
});

describe("Redis going away and coming back behind a running bridge", () => {
  it("fails fast while Redis is down and recovers when it returns", async (context) => {
    const redis = await spawnRedisServer();
    if (!redis) {
      context.skip();
      return;
    }
    let current: { stop(): Promise<void> } | null = redis;
    cleanups.push(async () => current?.stop());
    const bridge = await startUpstashBridge({ redisUrl: redis.url, token: TOKEN, port: 0 });
    cleanups.push(() => bridge.close());
    const store = storeAt(bridge.url);

    expect(await store.increment("visits", { ttlSeconds: 60 })).toBe(1);

    await redis.stop();
    current = null;
    const { error } = await timed("Redis stopped behind a running bridge, increment", () =>
      store.increment("visits", { ttlSeconds: 60 }),
    );
    expect(error).toBeInstanceOf(StoreUnavailableError);

    const restarted = await spawnRedisServer(redis.port);
    current = restarted;
    const started = performance.now();
    let recovered = false;
    while (!recovered && performance.now() - started < 10_000) {
      try {
        await store.ping();
        recovered = true;
      } catch (e) {
        expect(e).toBeInstanceOf(StoreError);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    console.info(
      `fail-fast: bridge usable again ${(performance.now() - started).toFixed(0)} ms after Redis restarted`,
    );
    expect(recovered).toBe(true);
    // A fresh Redis (nothing persisted): the counter starts over.
    expect(await store.increment("visits", { ttlSeconds: 60 })).toBe(1);
  }, 30_000);
});

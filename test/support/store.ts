/**
 * Store provisioning for the test rig: a real Redis (REDIS_URL, the local one, or a throwaway redis-server)
 * behind the real Upstash bridge (scripts/upstash-bridge.ts) on an ephemeral port with a random token.
 * Nothing here is mocked. Test files share a Redis and isolate themselves with uniqueKeyPrefix().
 */

import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { accessSync, constants } from "node:fs";
import { createServer } from "node:net";
import { delimiter, join } from "node:path";
import { Redis } from "ioredis";
import { startUpstashBridge } from "../../scripts/upstash-bridge";
import { stopperFor } from "./child-process";

export interface TestStore {
  /** Base URL of the Upstash bridge, for @upstash/redis. */
  restUrl: string;
  token: string;
  /** The Redis behind the bridge. */
  redisUrl: string;
  /** "redis": REDIS_URL or the local default answered; "spawned-redis": a throwaway redis-server. */
  kind: "redis" | "spawned-redis";
  stop(): Promise<void>;
}

const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";
const PING_TIMEOUT_MS = 2000;

let announced = false;

/** True when a Redis answers PING at `url` within `timeoutMs`. */
export async function redisAnswers(url: string, timeoutMs = PING_TIMEOUT_MS): Promise<boolean> {
  const client = new Redis(url, {
    protocol: 2,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on("error", () => {});
  let timer: NodeJS.Timeout | undefined;
  try {
    const attempt = client.connect().then(() => client.ping());
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("timeout")), timeoutMs);
    });
    return (await Promise.race([attempt, deadline])) === "PONG";
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}

function findOnPath(binary: string): string | null {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** A TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface SpawnedRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * Starts a throwaway redis-server (no persistence) on `port` (a free one by default) and waits until it
 * answers. Null when the binary is not on PATH.
 */
export async function spawnRedisServer(port?: number): Promise<SpawnedRedis | null> {
  const binary = findOnPath("redis-server");
  if (!binary) return null;
  const chosenPort = port ?? (await freePort());
  const child: ChildProcess = spawn(
    binary,
    ["--port", String(chosenPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: "ignore" },
  );
  const url = `redis://127.0.0.1:${chosenPort}`;
  const stop = stopperFor(child);
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    if (await redisAnswers(url, 500)) return { url, port: chosenPort, stop };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await stop();
  throw new Error(`redis-server (${binary}) did not start on port ${chosenPort}`);
}

/**
 * A Redis behind a freshly started Upstash bridge, or null when no Redis can be had (outside CI; callers then
 * fall back to the in-memory store and say so). In CI (CI=true) a missing Redis is an error.
 */
export async function startTestStore(): Promise<TestStore | null> {
  const configuredUrl = process.env.REDIS_URL || DEFAULT_REDIS_URL;
  let redisUrl: string;
  let kind: TestStore["kind"];
  let stopRedis = async () => {};
  if (await redisAnswers(configuredUrl)) {
    redisUrl = configuredUrl;
    kind = "redis";
  } else {
    const spawned = await spawnRedisServer();
    if (!spawned) {
      const reason = `no Redis answered at ${redact(configuredUrl)} and redis-server is not on PATH`;
      if (process.env.CI === "true") {
        throw new Error(`test rig: ${reason}; CI needs a Redis (set REDIS_URL or install redis-server)`);
      }
      if (!announced) {
        announced = true;
        console.info(`test rig: ${reason}; store tests against Redis are skipped, the memory store is used`);
      }
      return null;
    }
    redisUrl = spawned.url;
    kind = "spawned-redis";
    stopRedis = spawned.stop;
  }

  const token = randomBytes(24).toString("hex");
  let bridge: Awaited<ReturnType<typeof startUpstashBridge>>;
  try {
    bridge = await startUpstashBridge({ redisUrl, token, port: 0, host: "127.0.0.1" });
  } catch (error) {
    await stopRedis();
    throw error;
  }
  if (!announced) {
    announced = true;
    const what = kind === "redis" ? "existing Redis" : "throwaway redis-server";
    console.info(
      `test rig: store uses ${what} at ${redact(redisUrl)} through the Upstash bridge at ${bridge.url}`,
    );
  }
  let stopping: Promise<void> | undefined;
  return {
    restUrl: bridge.url,
    token,
    redisUrl,
    kind,
    stop() {
      stopping ??= bridge.close().finally(stopRedis);
      return stopping;
    },
  };
}

/** A key prefix no other test file or run uses, e.g. "test:rate-limit:k3x9f2a1:". */
export function uniqueKeyPrefix(label: string): string {
  const safe = label.replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 40) || "test";
  return `test:${safe}:${Date.now().toString(36)}${randomBytes(4).toString("hex")}:`;
}

/** Deletes every key under `prefix` in the Redis at `redisUrl` (tests tidy the shared Redis after themselves). */
export async function deleteKeysWithPrefix(redisUrl: string, prefix: string): Promise<number> {
  const client = new Redis(redisUrl, { protocol: 2, maxRetriesPerRequest: 1 });
  client.on("error", () => {});
  try {
    const pattern = `${prefix.replace(/[*?[\]\\]/g, "\\$&")}*`;
    let cursor = "0";
    let deleted = 0;
    do {
      const [next, keys] = await client.scan(cursor, "MATCH", pattern, "COUNT", 500);
      cursor = next;
      if (keys.length > 0) deleted += await client.del(...keys);
    } while (cursor !== "0");
    return deleted;
  } finally {
    client.disconnect();
  }
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return url;
  }
}

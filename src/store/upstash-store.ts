import { Redis } from "@upstash/redis/cloudflare";
import {
  assertIncrementBy,
  assertTtlSeconds,
  type IncrementOptions,
  type KeyValueStore,
  type SetOptions,
  StoreError,
  StoreUnavailableError,
} from "./store";

export interface UpstashStoreOptions {
  /** REST URL of Upstash (https://...) or of the bridge (http://127.0.0.1:8079). */
  url: string;
  token: string;
  /** Prepended to every key (deployments and test files may share one Redis). */
  keyPrefix: string;
  /**
   * Budget for one operation in milliseconds, covering connect, retries and reading the answer.
   * Default 1500. When it runs out the operation fails with StoreUnavailableError.
   */
  timeoutMs?: number;
  /**
   * Retries after a network error (fetch threw: the request got no HTTP answer), 20 ms apart, within the
   * same timeout budget. Default 1 (one retry, e.g. for a stale keep-alive connection). HTTP error answers
   * are never retried.
   */
  retries?: number;
}

export const DEFAULT_STORE_TIMEOUT_MS = 1500;
const DEFAULT_RETRIES = 1;
const RETRY_BACKOFF_MS = 20;

/**
 * INCRBY plus EXPIRE in one atomic step. The TTL is set when the key has none after the increment, i.e. when
 * the increment created it (or a previous writer left it without TTL); an existing TTL is never extended.
 */
const INCREMENT_SCRIPT = `local v = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = tonumber(ARGV[2])
if ttl > 0 and redis.call('TTL', KEYS[1]) == -1 then
  redis.call('EXPIRE', KEYS[1], ttl)
end
return v`;

/**
 * Redis error codes that mean the server cannot serve us right now (or we are not allowed to use it), as
 * opposed to a rejected command.
 */
const UNAVAILABLE_REDIS_CODES = new Set([
  "BUSY",
  "CLUSTERDOWN",
  "LOADING",
  "MASTERDOWN",
  "NOAUTH",
  "NOPERM",
  "NOREPLICAS",
  "OOM",
  "READONLY",
  "TRYAGAIN",
  "WRONGPASS",
]);

/** KeyValueStore over the Upstash REST protocol (Upstash itself, or scripts/upstash-bridge.ts). */
export class UpstashStore implements KeyValueStore {
  readonly kind = "upstash" as const;
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly timeoutMs: number;

  constructor(options: UpstashStoreOptions) {
    if (!options.url) throw new Error("UpstashStore: url is required");
    if (!options.token) throw new Error("UpstashStore: token is required");
    this.timeoutMs = options.timeoutMs ?? DEFAULT_STORE_TIMEOUT_MS;
    if (!Number.isFinite(this.timeoutMs) || this.timeoutMs <= 0) {
      throw new RangeError("UpstashStore: timeoutMs must be a positive number");
    }
    const retries = options.retries ?? DEFAULT_RETRIES;
    if (!Number.isSafeInteger(retries) || retries < 0) {
      throw new RangeError("UpstashStore: retries must be a non-negative integer");
    }
    this.prefix = options.keyPrefix;
    const timeoutMs = this.timeoutMs;
    this.redis = new Redis({
      url: options.url,
      token: options.token,
      // Values are plain strings: never JSON-parse results.
      automaticDeserialization: false,
      // Bulk strings travel base64-encoded (binary-safe JSON); the client decodes them.
      responseEncoding: "base64",
      // Auto-pipelining would batch commands of concurrent requests into one fetch: keep one fetch per call.
      enableAutoPipelining: false,
      enableTelemetry: false,
      latencyLogging: false,
      // A function (not an AbortSignal object): the client then calls it once per request, so every
      // operation gets its own budget, and it rethrows the abort. With a plain AbortSignal it would instead
      // resolve the command with the abort reason as its result.
      signal: () => AbortSignal.timeout(timeoutMs),
      retry: { retries, backoff: () => RETRY_BACKOFF_MS },
    });
  }

  /** The only place the key prefix is applied. */
  private key(key: string): string {
    return this.prefix + key;
  }

  private async run<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw toStoreError(error, this.timeoutMs);
    }
  }

  async ping(): Promise<void> {
    const reply = await this.run(() => this.redis.ping());
    if (reply !== "PONG") throw new StoreUnavailableError("store unavailable: unexpected PING reply");
  }

  async get(key: string): Promise<string | null> {
    const value = await this.run(() => this.redis.get<string>(this.key(key)));
    return value === null || value === undefined ? null : String(value);
  }

  async getMany(keys: readonly string[]): Promise<(string | null)[]> {
    if (keys.length === 0) return [];
    const values = await this.run(() => this.redis.mget<(string | null)[]>(keys.map((key) => this.key(key))));
    if (!Array.isArray(values) || values.length !== keys.length) {
      throw new StoreUnavailableError("store unavailable: malformed MGET reply");
    }
    return values.map((value) => (value === null || value === undefined ? null : String(value)));
  }

  async set(key: string, value: string, options: SetOptions = {}): Promise<boolean> {
    if (options.ttlSeconds !== undefined) assertTtlSeconds(options.ttlSeconds);
    const fullKey = this.key(key);
    const ex = options.ttlSeconds;
    const reply = await this.run(() => {
      if (options.onlyIfAbsent) {
        return ex === undefined
          ? this.redis.set(fullKey, value, { nx: true })
          : this.redis.set(fullKey, value, { ex, nx: true });
      }
      return ex === undefined ? this.redis.set(fullKey, value) : this.redis.set(fullKey, value, { ex });
    });
    return reply === "OK";
  }

  async delete(...keys: string[]): Promise<number> {
    if (keys.length === 0) return 0;
    return this.run(() => this.redis.del(...keys.map((key) => this.key(key))));
  }

  async increment(key: string, options: IncrementOptions = {}): Promise<number> {
    const by = options.by ?? 1;
    assertIncrementBy(by);
    if (options.ttlSeconds !== undefined) assertTtlSeconds(options.ttlSeconds);
    const ttl = options.ttlSeconds ?? 0;
    const reply = await this.run(() =>
      this.redis.eval<string[], unknown>(INCREMENT_SCRIPT, [this.key(key)], [String(by), String(ttl)]),
    );
    if (typeof reply !== "number")
      throw new StoreUnavailableError("store unavailable: malformed INCRBY reply");
    return reply;
  }
  async addToSet(key: string, member: string, options: { ttlSeconds: number }): Promise<void> {
    assertTtlSeconds(options.ttlSeconds);
    const fullKey = this.key(key);
    await this.run(() => this.redis.multi().sadd(fullKey, member).expire(fullKey, options.ttlSeconds).exec());
  }

  async setMembers(key: string): Promise<string[]> {
    const members = await this.run(() => this.redis.smembers<string[]>(this.key(key)));
    if (!Array.isArray(members))
      throw new StoreUnavailableError("store unavailable: malformed SMEMBERS reply");
    return members.map(String);
  }

  async removeFromSet(key: string, ...members: string[]): Promise<number> {
    if (members.length === 0) return 0;
    return this.run(() => this.redis.srem(this.key(key), ...members));
  }
}

/**
 * Maps whatever @upstash/redis threw to StoreError / StoreUnavailableError. Messages never include the
 * command (the client appends it, with keys and values, to its own messages).
 */
export function toStoreError(error: unknown, timeoutMs: number): StoreError {
  if (error instanceof StoreError) return error;
  const name = error instanceof Error ? error.name : "";
  const message = error instanceof Error ? error.message : String(error);
  if (name === "TimeoutError" || name === "AbortError") {
    return new StoreUnavailableError(`store unavailable: no answer within ${timeoutMs} ms`, { cause: error });
  }
  if (name === "UpstashError") {
    // "<error from the server>, command was: [...]" for HTTP errors; "<error>" for {error} bodies.
    const marker = message.indexOf(", command was: ");
    const serverMessage = (marker === -1 ? message : message.slice(0, marker)).slice(0, 300);
    const code = /^([A-Z][A-Z0-9_]*)(?: |$)/.exec(serverMessage)?.[1];
    if (code !== undefined && !UNAVAILABLE_REDIS_CODES.has(code) && !/limit exceeded/i.test(serverMessage)) {
      return new StoreError(serverMessage);
    }
    // No `cause`: the original message carries the command with its keys and values.
    return new StoreUnavailableError(`store unavailable: ${serverMessage}`);
  }
  if (name === "UpstashJSONParseError") {
    return new StoreUnavailableError("store unavailable: answer is not JSON", { cause: error });
  }
  // fetch failures (TypeError "fetch failed", connection refused, DNS), exhausted retries, anything else.
  return new StoreUnavailableError(`store unavailable: ${message.slice(0, 300)}`, { cause: error });
}

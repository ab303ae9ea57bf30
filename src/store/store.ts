/**
 * The key-value store the app needs (rate-limit counters, session-touch throttles, presence, unread counters,
 * where each user holds sockets).
 * Kept deliberately small: add an operation here when a feature needs it, and implement it in both stores.
 *
 * Keys passed to a store are logical keys; each implementation applies its configured prefix itself.
 * Values are plain strings (no JSON (de)serialisation happens anywhere in the store layer).
 */

export interface SetOptions {
  /** Expire the key after this many seconds (positive integer). Without it the key has no TTL. */
  ttlSeconds?: number;
  /** Only write when the key does not exist (Redis `SET ... NX`). */
  onlyIfAbsent?: boolean;
}

export interface IncrementOptions {
  /** Amount to add (integer, may be negative or 0). Default 1. */
  by?: number;
  /**
   * TTL in seconds (positive integer) applied in the same atomic step when the increment creates the key
   * (or finds it without any TTL). An existing TTL is never extended: fixed-window semantics.
   */
  ttlSeconds?: number;
}

export interface KeyValueStore {
  readonly kind: "upstash" | "memory";
  /** Resolves when the store answers; throws StoreUnavailableError otherwise. */
  ping(): Promise<void>;
  get(key: string): Promise<string | null>;
  /** Values in the order of `keys` (null for missing keys). */
  getMany(keys: readonly string[]): Promise<(string | null)[]>;
  /**
   * Writes `value` (replacing any TTL the key had). Returns false only when `onlyIfAbsent` is set and the key
   * already existed (nothing was written); true otherwise.
   */
  set(key: string, value: string, options?: SetOptions): Promise<boolean>;
  /** Deletes the keys; returns how many existed. */
  delete(...keys: string[]): Promise<number>;
  /** Atomically adds `by` (default 1) and returns the new value; see IncrementOptions.ttlSeconds. */
  increment(key: string, options?: IncrementOptions): Promise<number>;
  /** Adds `member` to the set at `key` and gives the set `ttlSeconds` to live (every call renews it). */
  addToSet(key: string, member: string, options: { ttlSeconds: number }): Promise<void>;
  /** The members of the set at `key`, in no particular order (none when it does not exist). */
  setMembers(key: string): Promise<string[]>;
  /** Removes these members from the set at `key`; returns how many were in it. */
  removeFromSet(key: string, ...members: string[]): Promise<number>;
}

/** Any failure of a store operation. A plain StoreError is a rejected command (e.g. value is not an integer). */
export class StoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StoreError";
  }
}

/**
 * The store could not be reached or did not answer in time (network error, timeout, 5xx, unauthorized,
 * backing Redis down). Callers decide deliberately whether to fail open or closed on it.
 */
export class StoreUnavailableError extends StoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StoreUnavailableError";
  }
}

/** Validates a TTL in seconds; shared by both implementations so they reject the same inputs. */
export function assertTtlSeconds(ttlSeconds: number): void {
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0) {
    throw new RangeError(`ttlSeconds must be a positive integer, got ${String(ttlSeconds)}`);
  }
}

/** Validates an increment amount (Redis INCRBY takes a 64-bit integer; we accept safe integers). */
export function assertIncrementBy(by: number): void {
  if (!Number.isSafeInteger(by)) {
    throw new RangeError(`increment "by" must be a safe integer, got ${String(by)}`);
  }
}

import {
  assertIncrementBy,
  assertTtlSeconds,
  type IncrementOptions,
  type KeyValueStore,
  type SetOptions,
  StoreError,
} from "./store";

interface Entry {
  value: string;
  /** The members, when the key holds a set (its `value` is then empty). */
  members?: Set<string>;
  /** Epoch milliseconds, or null for no TTL. */
  expiresAt: number | null;
}

/** Backing data of one or more MemoryStore views (share it to share data, e.g. per isolate). */
export class MemoryStoreData {
  readonly entries = new Map<string, Entry>();
  private writesSinceSweep = 0;

  /** The live entry for a full (prefixed) key, dropping it when expired. */
  read(fullKey: string, now: number): Entry | undefined {
    const entry = this.entries.get(fullKey);
    if (entry === undefined) return undefined;
    if (entry.expiresAt !== null && entry.expiresAt <= now) {
      this.entries.delete(fullKey);
      return undefined;
    }
    return entry;
  }

  write(fullKey: string, entry: Entry, now: number): void {
    this.entries.set(fullKey, entry);
    // Expired keys are otherwise only dropped when read: sweep now and then so untouched keys do not pile up.
    this.writesSinceSweep += 1;
    if (this.writesSinceSweep >= 1000) {
      this.writesSinceSweep = 0;
      for (const [key, value] of this.entries) {
        if (value.expiresAt !== null && value.expiresAt <= now) this.entries.delete(key);
      }
    }
  }
}

export interface MemoryStoreOptions {
  /** Prepended to every key. Default "". */
  keyPrefix?: string;
  /** Backing data; a fresh one when omitted. */
  data?: MemoryStoreData;
}

/**
 * In-memory KeyValueStore with the same semantics as UpstashStore (TTL expiry, onlyIfAbsent, atomic increment
 * with TTL on creation). For `npm run dev` without a configured store and for tests; data lives in the isolate.
 * Operations are synchronous internally, hence atomic within the isolate.
 */
export class MemoryStore implements KeyValueStore {
  readonly kind = "memory" as const;
  private readonly prefix: string;
  private readonly data: MemoryStoreData;

  constructor(options: MemoryStoreOptions = {}) {
    this.prefix = options.keyPrefix ?? "";
    this.data = options.data ?? new MemoryStoreData();
  }

  /** The only place the key prefix is applied. */
  private key(key: string): string {
    return this.prefix + key;
  }

  async ping(): Promise<void> {}

  async get(key: string): Promise<string | null> {
    return this.data.read(this.key(key), Date.now())?.value ?? null;
  }

  async getMany(keys: readonly string[]): Promise<(string | null)[]> {
    const now = Date.now();
    return keys.map((key) => this.data.read(this.key(key), now)?.value ?? null);
  }

  async set(key: string, value: string, options: SetOptions = {}): Promise<boolean> {
    if (options.ttlSeconds !== undefined) assertTtlSeconds(options.ttlSeconds);
    const now = Date.now();
    const fullKey = this.key(key);
    if (options.onlyIfAbsent && this.data.read(fullKey, now) !== undefined) return false;
    const expiresAt = options.ttlSeconds === undefined ? null : now + options.ttlSeconds * 1000;
    this.data.write(fullKey, { value: String(value), expiresAt }, now);
    return true;
  }

  async delete(...keys: string[]): Promise<number> {
    const now = Date.now();
    let deleted = 0;
    // A key given twice counts once, as with Redis DEL.
    for (const fullKey of new Set(keys.map((key) => this.key(key)))) {
      if (this.data.read(fullKey, now) !== undefined) {
        this.data.entries.delete(fullKey);
        deleted += 1;
      }
    }
    return deleted;
  }

  async increment(key: string, options: IncrementOptions = {}): Promise<number> {
    const by = options.by ?? 1;
    assertIncrementBy(by);
    if (options.ttlSeconds !== undefined) assertTtlSeconds(options.ttlSeconds);
    const now = Date.now();
    const fullKey = this.key(key);
    const existing = this.data.read(fullKey, now);
    let current = 0;
    if (existing !== undefined) {
      if (!/^(0|-?[1-9]\d*)$/.test(existing.value) || !Number.isSafeInteger(Number(existing.value))) {
        throw new StoreError("value is not an integer or out of range");
      }
      current = Number(existing.value);
    }
    const next = current + by;
    if (!Number.isSafeInteger(next)) throw new StoreError("increment or decrement would overflow");
    let expiresAt = existing?.expiresAt ?? null;
    if (expiresAt === null && options.ttlSeconds !== undefined) expiresAt = now + options.ttlSeconds * 1000;
    this.data.write(fullKey, { value: String(next), expiresAt }, now);
    return next;
  }
  async addToSet(key: string, member: string, options: { ttlSeconds: number }): Promise<void> {
    assertTtlSeconds(options.ttlSeconds);
    const now = Date.now();
    const fullKey = this.key(key);
    const members = this.data.read(fullKey, now)?.members ?? new Set<string>();
    members.add(member);
    this.data.write(fullKey, { value: "", members, expiresAt: now + options.ttlSeconds * 1000 }, now);
  }

  async setMembers(key: string): Promise<string[]> {
    return [...(this.data.read(this.key(key), Date.now())?.members ?? [])];
  }

  async removeFromSet(key: string, ...members: string[]): Promise<number> {
    const entry = this.data.read(this.key(key), Date.now());
    if (!entry?.members) return 0;
    let removed = 0;
    for (const member of new Set(members)) if (entry.members.delete(member)) removed += 1;
    if (entry.members.size === 0) this.data.entries.delete(this.key(key));
    return removed;
  }
}

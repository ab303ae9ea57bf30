import { MemoryStore, MemoryStoreData } from "./memory-store";
import type { KeyValueStore } from "./store";
import { UpstashStore } from "./upstash-store";

export { MemoryStore, MemoryStoreData } from "./memory-store";
export type { IncrementOptions, KeyValueStore, SetOptions } from "./store";
export { StoreError, StoreUnavailableError } from "./store";
export { DEFAULT_STORE_TIMEOUT_MS, UpstashStore } from "./upstash-store";

export interface StoreSettings {
  /** Upstash REST URL (or the bridge's). Absent or blank: in-memory store (the caller logs that). */
  restUrl?: string;
  restToken?: string;
  /** Prepended to every key. */
  keyPrefix: string;
  /** Per-operation budget for the Upstash store, in milliseconds. */
  timeoutMs: number;
}

/** Data of the in-memory store, one per isolate so it survives across requests served by the isolate. */
let isolateMemoryData: MemoryStoreData | undefined;

/**
 * The store for the given settings. Cheap to call per request: an UpstashStore holds no connection (each
 * operation is one fetch), and memory stores are views over the isolate's single data map.
 */
export function createStore(settings: StoreSettings): KeyValueStore {
  const restUrl = settings.restUrl?.trim();
  if (!restUrl) {
    isolateMemoryData ??= new MemoryStoreData();
    return new MemoryStore({ keyPrefix: settings.keyPrefix, data: isolateMemoryData });
  }
  const restToken = settings.restToken?.trim();
  if (!restToken) throw new Error("store: a REST URL is configured but its token is missing");
  return new UpstashStore({
    url: restUrl,
    token: restToken,
    keyPrefix: settings.keyPrefix,
    timeoutMs: settings.timeoutMs,
  });
}

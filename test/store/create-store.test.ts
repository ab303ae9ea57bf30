import { describe, expect, it } from "vitest";
import { createStore, MemoryStore, UpstashStore } from "../../src/store/index";
import { uniqueKeyPrefix } from "../support/store";

describe("createStore", () => {
  it("gives the in-memory store when no REST URL is configured", () => {
    for (const restUrl of [undefined, "", "   "]) {
      const store = createStore({ restUrl, keyPrefix: "p:", timeoutMs: 1000 });
      expect(store.kind).toBe("memory");
      expect(store).toBeInstanceOf(MemoryStore);
    }
  });

  it("keeps memory data for the isolate across calls, separated by key prefix", async () => {
    const prefix = uniqueKeyPrefix("create-store");
    const first = createStore({ keyPrefix: prefix, timeoutMs: 1000 });
    await first.set("k", "kept");
    expect(await first.increment("n", { ttlSeconds: 60 })).toBe(1);

    const second = createStore({ keyPrefix: prefix, timeoutMs: 1000 });
    expect(await second.get("k")).toBe("kept");
    expect(await second.increment("n", { ttlSeconds: 60 })).toBe(2);

    const other = createStore({ keyPrefix: uniqueKeyPrefix("create-store-other"), timeoutMs: 1000 });
    expect(await other.get("k")).toBeNull();
  });

  it("gives the Upstash store when a REST URL is configured", () => {
    const store = createStore({
      restUrl: "http://127.0.0.1:8079",
      restToken: "token",
      keyPrefix: "p:",
      timeoutMs: 1000,
    });
    expect(store.kind).toBe("upstash");
    expect(store).toBeInstanceOf(UpstashStore);
  });

  it("refuses a REST URL without a token", () => {
    expect(() => createStore({ restUrl: "http://127.0.0.1:8079", keyPrefix: "p:", timeoutMs: 1000 })).toThrow(
      /token is missing/,
    );
  });
});

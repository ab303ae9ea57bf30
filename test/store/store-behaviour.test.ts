/**
 * One behaviour suite, run against the in-memory store and against the Upstash store talking to a real Redis
 * through the real bridge. Both must behave the same.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryStore, MemoryStoreData } from "../../src/store/memory-store";
import { type KeyValueStore, StoreError, StoreUnavailableError } from "../../src/store/store";
import { UpstashStore } from "../../src/store/upstash-store";
import { deleteKeysWithPrefix, startTestStore, uniqueKeyPrefix } from "../support/store";

const testStore = await startTestStore();
if (!testStore) console.info("store behaviour: no Redis available, only the memory store is exercised");

afterAll(async () => {
  await testStore?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Target {
  name: string;
  /** Stores made by one target with different prefixes share their data. */
  make: ((keyPrefix: string) => KeyValueStore) | null;
  kind: KeyValueStore["kind"];
}

const memoryData = new MemoryStoreData();
const targets: Target[] = [
  { name: "memory", kind: "memory", make: (keyPrefix) => new MemoryStore({ keyPrefix, data: memoryData }) },
  {
    name: "upstash via bridge",
    kind: "upstash",
    make: testStore
      ? (keyPrefix) => new UpstashStore({ url: testStore.restUrl, token: testStore.token, keyPrefix })
      : null,
  },
];

for (const target of targets) {
  describe.skipIf(!target.make)(`${target.name} store`, () => {
    const prefix = uniqueKeyPrefix(`behaviour-${target.kind}`);
    let store: KeyValueStore;

    beforeAll(() => {
      store = target.make?.(prefix) as KeyValueStore;
    });

    afterAll(async () => {
      if (target.kind === "upstash" && testStore) await deleteKeysWithPrefix(testStore.redisUrl, prefix);
    });

    it("reports its kind and answers ping", async () => {
      expect(store.kind).toBe(target.kind);
      await expect(store.ping()).resolves.toBeUndefined();
    });

    it("gets what was set, as the exact string", async () => {
      expect(await store.get("missing")).toBeNull();
      const values = [
        "plain",
        "",
        "123",
        "-7",
        "1.5",
        '{"a":1}',
        "null",
        "true",
        "OK",
        "ünïcödé ✓ 🚀",
        "a b\nc",
      ];
      for (const [i, value] of values.entries()) {
        expect(await store.set(`value:${i}`, value)).toBe(true);
        expect(await store.get(`value:${i}`)).toBe(value);
      }
      expect(await store.set("value:0", "replaced")).toBe(true);
      expect(await store.get("value:0")).toBe("replaced");
    });

    it("writes only absent keys with onlyIfAbsent", async () => {
      expect(await store.set("nx", "first", { onlyIfAbsent: true })).toBe(true);
      expect(await store.set("nx", "second", { onlyIfAbsent: true })).toBe(false);
      expect(await store.get("nx")).toBe("first");
      expect(await store.delete("nx")).toBe(1);
      expect(await store.set("nx", "third", { onlyIfAbsent: true })).toBe(true);
      expect(await store.get("nx")).toBe("third");
    });

    it("gets many keys in order, null for missing ones", async () => {
      await store.set("many:a", "1");
      await store.set("many:c", "3");
      expect(await store.getMany(["many:a", "many:b", "many:c", "many:a"])).toEqual(["1", null, "3", "1"]);
      expect(await store.getMany([])).toEqual([]);
    });

    it("deletes keys and counts those that existed", async () => {
      await store.set("del:a", "1");
      await store.set("del:b", "2");
      expect(await store.delete("del:a", "del:b", "del:missing")).toBe(2);
      expect(await store.getMany(["del:a", "del:b"])).toEqual([null, null]);
      expect(await store.delete("del:missing")).toBe(0);
      expect(await store.delete()).toBe(0);
      await store.set("del:c", "3");
      expect(await store.delete("del:c", "del:c")).toBe(1);
    });

    it("increments atomically, by 1 or by a given amount", async () => {
      expect(await store.increment("counter")).toBe(1);
      expect(await store.increment("counter")).toBe(2);
      expect(await store.increment("counter", { by: 5 })).toBe(7);
      expect(await store.increment("counter", { by: -10 })).toBe(-3);
      expect(await store.get("counter")).toBe("-3");
      const results = await Promise.all(Array.from({ length: 20 }, () => store.increment("parallel")));
      expect(new Set(results).size).toBe(20);
      expect(await store.get("parallel")).toBe("20");
    });

    it("rejects an increment of a non-integer value as a command error, not unavailability", async () => {
      await store.set("text", "abc");
      const error = await store.increment("text").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreError);
      expect(error).not.toBeInstanceOf(StoreUnavailableError);
      expect(await store.get("text")).toBe("abc");
    });

    it("rejects invalid TTLs and amounts before touching the store", async () => {
      await expect(store.set("bad", "x", { ttlSeconds: 0 })).rejects.toBeInstanceOf(RangeError);
      await expect(store.set("bad", "x", { ttlSeconds: 1.5 })).rejects.toBeInstanceOf(RangeError);
      await expect(store.increment("bad", { ttlSeconds: -1 })).rejects.toBeInstanceOf(RangeError);
      await expect(store.increment("bad", { by: 0.5 })).rejects.toBeInstanceOf(RangeError);
      expect(await store.get("bad")).toBeNull();
    });

    it("expires keys after their TTL; a plain set clears an earlier TTL", async () => {
      expect(await store.set("ttl:set", "v", { ttlSeconds: 1 })).toBe(true);
      expect(await store.set("ttl:nx", "v", { ttlSeconds: 1, onlyIfAbsent: true })).toBe(true);
      expect(await store.increment("ttl:counter", { ttlSeconds: 1 })).toBe(1);
      await store.set("ttl:cleared", "v", { ttlSeconds: 1 });
      await store.set("ttl:cleared", "kept");
      await store.set("ttl:none", "forever");
      // A counter left without TTL (as the original service could) gets one on its next increment.
      await store.set("ttl:healed", "5");
      expect(await store.increment("ttl:healed", { ttlSeconds: 1 })).toBe(6);
      expect(await store.get("ttl:set")).toBe("v");

      await sleep(1300);
      expect(await store.getMany(["ttl:set", "ttl:nx", "ttl:counter", "ttl:healed"])).toEqual([
        null,
        null,
        null,
        null,
      ]);
      expect(await store.get("ttl:cleared")).toBe("kept");
      expect(await store.get("ttl:none")).toBe("forever");
      expect(await store.set("ttl:nx", "again", { onlyIfAbsent: true })).toBe(true);
      expect(await store.increment("ttl:counter")).toBe(1);
    });

    it("sets a counter's TTL only when the increment creates it (fixed window)", async () => {
      expect(await store.increment("window", { ttlSeconds: 1 })).toBe(1);
      await sleep(600);
      expect(await store.increment("window", { ttlSeconds: 1 })).toBe(2);
      await sleep(600);
      // Had the second increment extended the TTL, the counter would still exist.
      expect(await store.get("window")).toBeNull();
      expect(await store.increment("window", { ttlSeconds: 1 })).toBe(1);
    });

    it("keeps sets: adds once, lists, removes, renews the TTL on every addition", async () => {
      expect(await store.setMembers("rooms")).toEqual([]);
      await store.addToSet("rooms", "channel:1", { ttlSeconds: 1 });
      await store.addToSet("rooms", "dm:2", { ttlSeconds: 1 });
      await store.addToSet("rooms", "channel:1", { ttlSeconds: 1 });
      expect((await store.setMembers("rooms")).sort()).toEqual(["channel:1", "dm:2"]);
      // Members that look like JSON numbers stay strings.
      await store.addToSet("rooms", "42", { ttlSeconds: 1 });
      expect(await store.setMembers("rooms")).toContain("42");
      expect(await store.removeFromSet("rooms", "dm:2", "nope", "dm:2")).toBe(1);
      expect(await store.removeFromSet("rooms")).toBe(0);
      expect((await store.setMembers("rooms")).sort()).toEqual(["42", "channel:1"]);
      await sleep(600);
      await store.addToSet("rooms", "dm:3", { ttlSeconds: 1 });
      await sleep(600);
      expect((await store.setMembers("rooms")).sort()).toEqual(["42", "channel:1", "dm:3"]);
      await sleep(700);
      expect(await store.setMembers("rooms")).toEqual([]);
      await expect(store.addToSet("rooms", "x", { ttlSeconds: 0 })).rejects.toThrow(RangeError);
    });

    it("isolates stores with different key prefixes", async () => {
      const prefixA = uniqueKeyPrefix(`isolation-a-${target.kind}`);
      const prefixB = uniqueKeyPrefix(`isolation-b-${target.kind}`);
      const a = target.make?.(prefixA) as KeyValueStore;
      const b = target.make?.(prefixB) as KeyValueStore;
      try {
        await a.set("shared", "from a");
        expect(await b.get("shared")).toBeNull();
        await b.set("shared", "from b");
        expect(await a.get("shared")).toBe("from a");
        expect(await b.getMany(["shared"])).toEqual(["from b"]);
        expect(await a.increment("hits")).toBe(1);
        expect(await b.increment("hits")).toBe(1);
        expect(await b.set("shared", "x", { onlyIfAbsent: true })).toBe(false);
        expect(await a.delete("shared", "hits")).toBe(2);
        expect(await b.get("shared")).toBe("from b");
        expect(await b.get("hits")).toBe("1");
      } finally {
        if (target.kind === "upstash" && testStore) {
          await deleteKeysWithPrefix(testStore.redisUrl, prefixA);
          await deleteKeysWithPrefix(testStore.redisUrl, prefixB);
        }
      }
    });
  });
}

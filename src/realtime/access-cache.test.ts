import { describe, expect, it } from "vitest";
import { AccessCache } from "./access-cache";

describe("AccessCache", () => {
  it("answers what it was told until the entry is ttl old, then forgets it", () => {
    const cache = new AccessCache<string>(60_000);
    cache.set(1, "member", 1_000);
    expect(cache.get(1, 1_000)).toBe("member");
    expect(cache.get(1, 60_999)).toBe("member");
    expect(cache.get(1, 61_000)).toBeUndefined();
    // Expired means gone: an earlier clock does not bring it back.
    expect(cache.get(1, 1_000)).toBeUndefined();
  });

  it("keeps each user's entry and age apart, and a new set restarts the age", () => {
    const cache = new AccessCache<string>(10);
    cache.set(1, "a", 0);
    cache.set(2, "b", 5);
    expect([cache.get(1, 9), cache.get(2, 9)]).toEqual(["a", "b"]);
    expect([cache.get(1, 12), cache.get(2, 12)]).toEqual([undefined, "b"]);
    cache.set(2, "c", 14);
    expect(cache.get(2, 23)).toBe("c");
  });

  it("remembers a falsy value as an answer", () => {
    const cache = new AccessCache<boolean | null>(10);
    cache.set(1, false, 0);
    cache.set(2, null, 0);
    expect(cache.get(1, 0)).toBe(false);
    expect(cache.get(2, 0)).toBeNull();
  });

  it("forgets the named users, or everyone", () => {
    const cache = new AccessCache<string>(60_000);
    for (const id of [1, 2, 3]) cache.set(id, `u${id}`, 0);
    cache.forget([1, 3]);
    expect([1, 2, 3].map((id) => cache.get(id, 0))).toEqual([undefined, "u2", undefined]);
    cache.forget([]);
    expect(cache.get(2, 0)).toBe("u2");
    cache.forget();
    expect(cache.get(2, 0)).toBeUndefined();
  });

  it("stays bounded: past 5,000 users it starts again from nothing", () => {
    const cache = new AccessCache<number>(60_000);
    for (let id = 1; id <= 5_000; id++) cache.set(id, id, 0);
    expect(cache.get(1, 0)).toBe(1);
    expect(cache.get(5_000, 0)).toBe(5_000);
    cache.set(5_001, 5_001, 0);
    expect(cache.get(1, 0)).toBeUndefined();
    expect(cache.get(5_000, 0)).toBeUndefined();
    expect(cache.get(5_001, 0)).toBe(5_001);
  });
});

import { describe, expect, it } from "vitest";
import { CURSOR_MAX_CHARS, decodeCursor, encodeCursor, type SearchCursor } from "./search-cursor";

describe("search cursors", () => {
  const cursors: SearchCursor[] = [
    { sort: "relevance", rank: 0.0607927, kind: 1, id: 42 },
    { sort: "relevance", rank: 0, kind: 0, id: 0 },
    { sort: "newest", createdAt: "2026-11-25 10:00:00.123456+00", kind: 0, id: 2_147_483_647 },
    { sort: "newest", createdAt: "2026-11-25 10:00:00+05:30", kind: 1, id: 7 },
  ];

  it.each(cursors)("reads back what it wrote: %o", (cursor) => {
    const token = encodeCursor(cursor);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(token)).toEqual(cursor);
  });

  const toToken = (value: unknown) =>
    btoa(JSON.stringify(value)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

  it.each([
    ["empty", ""],
    ["not base64url", "abc+/="],
    ["not JSON", toToken("x").slice(0, -2)],
    ["too long", "A".repeat(CURSOR_MAX_CHARS + 1)],
    ["an object", toToken({ sort: "r" })],
    ["an unknown sort", toToken(["x", 1, 0, 1])],
    ["a negative rank", toToken(["r", -1, 0, 1])],
    ["a rank that is text", toToken(["r", "1", 0, 1])],
    ["a bad kind", toToken(["r", 1, 2, 1])],
    ["a fractional id", toToken(["r", 1, 0, 1.5])],
    ["an id beyond int4", toToken(["r", 1, 0, 2_147_483_648])],
    ["a timestamp that is not PostgreSQL's", toToken(["n", "2026-11-25T10:00:00Z", 0, 1])],
    ["SQL in the timestamp", toToken(["n", "2026-11-25 10:00:00+00'; drop", 0, 1])],
    ["bytes that are not UTF-8", btoa("\xff\xfe").replace(/=+$/, "")],
  ])("refuses %s", (_name, token) => {
    expect(decodeCursor(token)).toBeNull();
  });
});

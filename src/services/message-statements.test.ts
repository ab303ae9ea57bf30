import { describe, expect, it } from "vitest";
import { idArray, intArray, statementsFor } from "./message-statements";

describe("intArray", () => {
  it("reads parsed arrays, PostgreSQL's text form, and nothing", () => {
    expect(intArray([1, 2])).toEqual([1, 2]);
    expect(intArray("{3,4,5}")).toEqual([3, 4, 5]);
    expect(intArray("{}")).toEqual([]);
    expect(intArray(null)).toEqual([]);
    expect(intArray(undefined)).toEqual([]);
  });
});

describe("idArray", () => {
  it("writes one array parameter of whole numbers", () => {
    expect(idArray([1, 22, 333])).toBe("{1,22,333}");
    expect(idArray([])).toBe("{}");
    expect(idArray([1.9])).toBe("{1}");
  });
});

describe("statementsFor", () => {
  it("writes each kind's statements with its own names, and reuses them", () => {
    const names = {
      table: "direct_messages",
      conversation: "thread_id",
      author: "sender_id",
      reactions: "r",
    };
    const statements = statementsFor(names);
    expect(statements.select).toContain("from direct_messages m join users u on u.id = m.sender_id");
    expect(statements.insertReply).toContain("update direct_messages r set reply_count = r.reply_count + 1");
    expect(statementsFor(names)).toBe(statements);
  });
});

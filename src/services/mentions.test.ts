import { describe, expect, it } from "vitest";
import { MAX_HANDLES_PER_MESSAGE, mentionsAnyone, parseMentions } from "./mentions";

describe("parseMentions", () => {
  it("finds handles (lower-cased, once each), @channel and @here", () => {
    expect(parseMentions("hi @Ada#0042 and @ada#0042, @Bob Smith#1234: @channel")).toEqual({
      handles: ["ada#0042", "bob smith#1234"],
      channel: true,
      here: false,
    });
    expect(parseMentions("@here")).toEqual({ handles: [], channel: false, here: true });
  });

  it("needs the four digits of a handle, and no fifth", () => {
    expect(parseMentions("@Ada#004 @Ada#00421 @Ada @#1234").handles).toEqual([]);
  });

  it("leaves @channel and @here inside words, addresses and longer words alone", () => {
    for (const text of [
      "team@channel.example",
      "@channels",
      "@here_we_go",
      "x@here",
      "@@here",
      "@here#1234",
    ]) {
      const parsed = parseMentions(text);
      expect(parsed.channel || parsed.here, text).toBe(false);
    }
    expect(parseMentions("(@here)").here).toBe(true);
  });

  it("looks up at most MAX_HANDLES_PER_MESSAGE handles", () => {
    const text = Array.from({ length: 50 }, (_, i) => `@user${i}#${String(i).padStart(4, "0")}`).join(" ");
    expect(parseMentions(text).handles).toHaveLength(MAX_HANDLES_PER_MESSAGE);
  });

  it("says whether anyone is mentioned", () => {
    expect(mentionsAnyone(parseMentions("no one here"))).toBe(false);
    expect(mentionsAnyone(parseMentions("@here"))).toBe(true);
  });
});

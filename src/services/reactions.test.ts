import { describe, expect, it } from "vitest";
import { emojiProblem, SHORT_NAMES } from "./reactions";

describe("emojiProblem", () => {
  it("accepts one RGI emoji: plain, with a skin tone, a flag, a ZWJ family, a keycap, with VS16", () => {
    for (const emoji of ["👍", "👍🏽", "🇫🇷", "👨‍👩‍👧", "1️⃣", "❤️", "🏳️‍🌈"])
      expect(emojiProblem(emoji), emoji).toBeNull();
  });

  it("accepts every short name of the fixed set and nothing else between colons", () => {
    for (const name of SHORT_NAMES) expect(emojiProblem(name), name).toBeNull();
    for (const name of [":nope:", ":+1", "+1:", "::", ":TADA:"])
      expect(emojiProblem(name), name).not.toBeNull();
  });

  it("refuses text, two emoji, spaces, control characters and the empty string", () => {
    for (const text of ["", "a", "👍👍", " 👍", "👍 ", "\u0000", "❤", "🇫", "x".repeat(200)]) {
      expect(emojiProblem(text), JSON.stringify(text)).not.toBeNull();
    }
  });
});

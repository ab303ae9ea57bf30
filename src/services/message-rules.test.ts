import { describe, expect, it } from "vitest";
import { UNSTORABLE_TEXT_MESSAGE } from "../db/text";
import {
  CLIENT_ID_MAX_CHARS,
  type ContentProblem,
  contentProblem,
  describeContentProblem,
  MESSAGE_MAX_CHARS,
  normaliseClientId,
} from "./message-rules";

describe("contentProblem", () => {
  it("accepts text as it is, leading and trailing white space and control characters included", () => {
    for (const content of [
      "hi",
      " indented\nsecond line ",
      "a\tb\u0007",
      "😀",
      "x".repeat(MESSAGE_MAX_CHARS),
    ]) {
      expect(contentProblem(content), JSON.stringify(content).slice(0, 20)).toBeNull();
    }
  });

  it("refuses what is not a string", () => {
    for (const value of [undefined, null, 42, true, ["hi"], { text: "hi" }]) {
      expect(contentProblem(value), JSON.stringify(value)).toBe("not_string");
    }
  });

  it("tells empty from blank", () => {
    expect(contentProblem("")).toBe("empty");
    for (const blank of [" ", "\n\t ", "\u00a0", "\u2003"])
      expect(contentProblem(blank), JSON.stringify(blank)).toBe("blank");
  });

  it("refuses text PostgreSQL cannot store", () => {
    expect(contentProblem("a\u0000b")).toBe("nul");
    expect(contentProblem("a\ud800b")).toBe("surrogate");
    expect(contentProblem("a\udc00")).toBe("surrogate");
  });

  it("counts code points, not UTF-16 units: an emoji counts once", () => {
    const emoji = "😀".repeat(MESSAGE_MAX_CHARS);
    expect(emoji.length).toBe(2 * MESSAGE_MAX_CHARS);
    expect(contentProblem(emoji)).toBeNull();
    expect(contentProblem(`${emoji}a`)).toBe("too_long");
    expect(contentProblem("x".repeat(MESSAGE_MAX_CHARS + 1))).toBe("too_long");
  });
});

describe("describeContentProblem", () => {
  it("gives every problem its own sentence about content", () => {
    const problems: ContentProblem[] = ["not_string", "empty", "blank", "too_long", "nul", "surrogate"];
    expect(Object.fromEntries(problems.map((p) => [p, describeContentProblem(p)]))).toEqual({
      not_string: "content must be a string",
      empty: "content must not be empty or blank",
      blank: "content must not be empty or blank",
      too_long: `content must be at most ${MESSAGE_MAX_CHARS} characters`,
      nul: `content ${UNSTORABLE_TEXT_MESSAGE.nul}`,
      surrogate: `content ${UNSTORABLE_TEXT_MESSAGE.surrogate}`,
    });
  });
});

describe("normaliseClientId", () => {
  it("reads absent, null and empty as no client_id", () => {
    for (const value of [undefined, null, ""]) {
      expect(normaliseClientId(value), String(value)).toEqual({ ok: true, clientId: null });
    }
  });

  it("keeps a string up to the limit as sent, white space included", () => {
    for (const value of ["client:1", " ", "c".repeat(CLIENT_ID_MAX_CHARS)]) {
      expect(normaliseClientId(value)).toEqual({ ok: true, clientId: value });
    }
  });

  it("refuses longer strings, other types and text that cannot be stored", () => {
    for (const value of ["c".repeat(CLIENT_ID_MAX_CHARS + 1), 7, 0, false, ["x"], {}, "a\u0000", "\ud800"]) {
      expect(normaliseClientId(value), JSON.stringify(value)).toEqual({ ok: false });
    }
  });
});

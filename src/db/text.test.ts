import { describe, expect, it } from "vitest";
import { findUnstorableText, unstorableText } from "./text";

describe("unstorableText", () => {
  it("finds NUL and lone surrogates, and nothing in other text", () => {
    expect(unstorableText("a\u0000b")).toBe("nul");
    expect(unstorableText("\ud800")).toBe("surrogate");
    expect(unstorableText("x\udc00")).toBe("surrogate");
    expect(unstorableText("\udc00\ud800")).toBe("surrogate");
    expect(unstorableText("😀 \u0001\t\n\u007f\u2028 é")).toBeNull();
    expect(unstorableText("")).toBeNull();
  });
});

describe("findUnstorableText", () => {
  it("names the path of the first bad value or key", () => {
    expect(findUnstorableText({ a: "ok", b: [1, "x\u0000"] })).toEqual({ path: ["b", 1], problem: "nul" });
    expect(findUnstorableText({ a: { "k\ud800": 1 } })).toEqual({
      path: ["a", "k\ud800"],
      problem: "surrogate",
    });
    expect(findUnstorableText("\u0000")).toEqual({ path: [], problem: "nul" });
    expect(findUnstorableText({ a: [null, true, 1.5, { b: "fine" }] })).toBeNull();
    expect(findUnstorableText(undefined)).toBeNull();
  });

  it("walks a body nested far deeper than the call stack allows", () => {
    const depth = 200_000;
    const nested = JSON.parse(`${"[".repeat(depth)}"\\u0000"${"]".repeat(depth)}`);
    const found = findUnstorableText(nested);
    expect(found?.problem).toBe("nul");
    expect(found?.path).toHaveLength(depth);
  });
});

import { describe, expect, it } from "vitest";
import { HIGHLIGHT_STOP as E, HIGHLIGHT_START as S } from "../services/search";
import { toSnippetHtml } from "./search";

describe("snippets", () => {
  it("marks the matched words and escapes everything else", () => {
    expect(toSnippetHtml(`deploy ${S}<script>${E} & "go" 'now'`)).toBe(
      "deploy <mark>&lt;script&gt;</mark> &amp; &quot;go&quot; &#39;now&#39;",
    );
  });
});

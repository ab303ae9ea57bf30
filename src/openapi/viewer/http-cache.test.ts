import { describe, expect, it } from "vitest";
import { hashedName, matchesEtag } from "./http-cache";

describe("hashedName", () => {
  it("puts the hash before the extension", () => {
    expect(hashedName("swagger-ui-bundle.js", "0123456789abcdef")).toBe(
      "swagger-ui-bundle.0123456789abcdef.js",
    );
    expect(hashedName("swagger-ui.css", "ab")).toBe("swagger-ui.ab.css");
    expect(hashedName("LICENSE", "ab")).toBe("LICENSE.ab");
  });
});

describe("matchesEtag", () => {
  const etag = '"0123456789abcdef"';

  it("matches the same tag, a weak one, one in a list, and *", () => {
    expect(matchesEtag('"0123456789abcdef"', etag)).toBe(true);
    expect(matchesEtag('W/"0123456789abcdef"', etag)).toBe(true);
    expect(matchesEtag('"other", "0123456789abcdef"', etag)).toBe(true);
    expect(matchesEtag("*", etag)).toBe(true);
  });

  it("does not match no header, another tag, or the tag unquoted", () => {
    expect(matchesEtag(undefined, etag)).toBe(false);
    expect(matchesEtag("", etag)).toBe(false);
    expect(matchesEtag('"fedcba9876543210"', etag)).toBe(false);
    expect(matchesEtag("0123456789abcdef", etag)).toBe(false);
  });
});

/** The two pure rules of the documentation's caching (./assets.ts, src/routes/openapi.ts). */

/** `swagger-ui-bundle.js` → `swagger-ui-bundle.<hash>.js`: a new content is a new URL. */
export function hashedName(name: string, hash: string): string {
  const dot = name.lastIndexOf(".");
  return dot < 0 ? `${name}.${hash}` : `${name.slice(0, dot)}.${hash}${name.slice(dot)}`;
}

/**
 * Whether a GET's `If-None-Match` names this (quoted) ETag, or is `*`: then the answer is 304.
 * If-None-Match compares weakly (RFC 9110, 13.1.2), so `W/"x"` matches `"x"`.
 */
export function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch
    .split(",")
    .map((tag) => tag.trim().replace(/^W\//, ""))
    .some((tag) => tag === etag || tag === "*");
}

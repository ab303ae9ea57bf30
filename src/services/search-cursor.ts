/**
 * The keyset cursor of message search: where the last page ended, in the order of its sort, as an
 * opaque token (base64url of a small JSON array) that clients pass back unchanged as `cursor`.
 *
 * A page is ordered by a key and then by the conversation kind and the message id, which make the
 * order total (channel and direct messages are numbered by separate sequences):
 *
 * - relevance: ts_rank descending. The rank is a PostgreSQL `real`; its text form (the shortest
 *   that reads back exactly) survives the trip through JSON, so `rank < cursor rank` is exact.
 * - newest: created_at descending, carried as PostgreSQL's own text of the timestamp (with
 *   microseconds and offset, which a JS Date would round).
 */
export const SEARCH_SORTS = ["relevance", "newest"] as const;
export type SearchSort = (typeof SEARCH_SORTS)[number];

/** channel messages before direct messages at an equal key (kind order 1, then 0). */
export type KindOrder = 0 | 1;

export type SearchCursor =
  | { sort: "relevance"; rank: number; kind: KindOrder; id: number }
  | { sort: "newest"; createdAt: string; kind: KindOrder; id: number };

/** Longest cursor accepted (real ones are well under 100 characters). */
export const CURSOR_MAX_CHARS = 200;

// What PostgreSQL prints for a timestamptz (`2026-11-25 10:00:00.123456+00`, offsets as +05:30).
const TIMESTAMP_TEXT = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2}){0,2}$/;
const MAX_ID = 2_147_483_647;

const toBase64Url = (text: string) => {
  const bytes = new TextEncoder().encode(text);
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
};

const fromBase64Url = (token: string) => {
  const binary = atob(token.replace(/-/g, "+").replace(/_/g, "/"));
  return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(
    Uint8Array.from(binary, (ch) => ch.charCodeAt(0)),
  );
};

export function encodeCursor(cursor: SearchCursor): string {
  const key = cursor.sort === "relevance" ? cursor.rank : cursor.createdAt;
  const json = JSON.stringify([cursor.sort === "relevance" ? "r" : "n", key, cursor.kind, cursor.id]);
  return toBase64Url(json);
}

/** The cursor a token stands for, or null when it is not one this API issued. */
export function decodeCursor(token: string): SearchCursor | null {
  if (token.length === 0 || token.length > CURSOR_MAX_CHARS || !/^[A-Za-z0-9_-]+$/.test(token)) return null;
  let value: unknown;
  try {
    value = JSON.parse(fromBase64Url(token));
  } catch {
    return null;
  }
  if (!Array.isArray(value) || value.length !== 4) return null;
  const [sort, key, kind, id] = value as unknown[];
  if (kind !== 0 && kind !== 1) return null;
  if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id > MAX_ID) return null;
  if (sort === "r" && typeof key === "number" && Number.isFinite(key) && key >= 0 && key <= 1e30) {
    return { sort: "relevance", rank: key, kind, id };
  }
  if (sort === "n" && typeof key === "string" && TIMESTAMP_TEXT.test(key)) {
    return { sort: "newest", createdAt: key, kind, id };
  }
  return null;
}

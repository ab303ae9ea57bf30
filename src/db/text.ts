/**
 * Text PostgreSQL cannot store as it was sent.
 *
 * - NUL (U+0000): PostgreSQL's text types refuse it ("invalid byte sequence for encoding UTF8:
 *   0x00", SQLSTATE 22021), so a NUL that reached a query became a 500.
 * - Lone surrogates (half of a UTF-16 pair, which JSON's `\ud800` escapes can produce): they have
 *   no UTF-8 form, and postgres.js encodes them as U+FFFD, so the row would silently hold
 *   something else than what was sent.
 *
 * Every other character, control characters included, is stored as sent; rules that refuse
 * more (names, URLs) belong to the fields that need them.
 *
 * Used by the request validation layer (http/validation.ts: path, query, bodies) and the socket
 * frame rules (services/messages.ts), so REST and sockets refuse the same text.
 */

export type UnstorableText = "nul" | "surrogate";

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why `value` cannot be stored as sent, or null when it can. */
export function unstorableText(value: string): UnstorableText | null {
  if (value.includes("\u0000")) return "nul";
  if (LONE_SURROGATE.test(value)) return "surrogate";
  return null;
}

/** The words a client reads for each problem (REST 422 `msg`, socket error `detail`). */
export const UNSTORABLE_TEXT_MESSAGE: Record<UnstorableText, string> = {
  nul: "must not contain NUL characters (U+0000)",
  surrogate: "must be valid Unicode (it contains a lone surrogate)",
};

export interface UnstorableFinding {
  /** Where in the value: object keys and array indexes, outermost first. */
  path: (string | number)[];
  problem: UnstorableText;
}

interface Visit {
  value: unknown;
  key: string | number | null;
  parent: Visit | null;
}

function pathOf(visit: Visit | null): (string | number)[] {
  const path: (string | number)[] = [];
  for (let v = visit; v !== null && v.key !== null; v = v.parent) path.push(v.key);
  return path.reverse();
}

/**
 * The first string (value or object key) in a JSON-like value that cannot be stored, or null.
 * Walks with an explicit stack and parent links, so a deeply nested body (up to the body size
 * limit) costs neither the call stack nor a copy of the path per level.
 */
export function findUnstorableText(value: unknown): UnstorableFinding | null {
  const pending: Visit[] = [{ value, key: null, parent: null }];
  while (pending.length > 0) {
    const visit = pending.pop() as Visit;
    const current = visit.value;
    if (typeof current === "string") {
      const problem = unstorableText(current);
      if (problem) return { path: pathOf(visit), problem };
    } else if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--)
        pending.push({ value: current[i], key: i, parent: visit });
    } else if (current !== null && typeof current === "object") {
      const entries = Object.entries(current);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, item] = entries[i] as [string, unknown];
        const child = { value: item, key, parent: visit };
        const problem = unstorableText(key);
        if (problem) return { path: pathOf(child), problem };
        pending.push(child);
      }
    }
  }
  return null;
}

/**
 * Recognising database errors the app answers deliberately (rather than as a 500).
 * drizzle wraps driver errors, so the PostgreSQL fields may sit on `cause`.
 */
interface PgErrorFields {
  code?: string;
  constraint_name?: string;
}

function pgFields(error: unknown): PgErrorFields | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 3 && current && typeof current === "object"; depth++) {
    const fields = current as PgErrorFields & { cause?: unknown };
    if (typeof fields.code === "string" && /^[0-9A-Z]{5}$/.test(fields.code)) return fields;
    current = fields.cause;
  }
  return undefined;
}

/** The constraint (or unique index) a unique violation hit, or undefined for any other error. */
export function uniqueViolation(error: unknown): string | undefined {
  const fields = pgFields(error);
  return fields?.code === "23505" ? (fields.constraint_name ?? "") : undefined;
}

/** A foreign key violation (a referenced row is missing). */
export function foreignKeyViolation(error: unknown): string | undefined {
  const fields = pgFields(error);
  return fields?.code === "23503" ? (fields.constraint_name ?? "") : undefined;
}

/** Escapes LIKE wildcards so user input matches literally (with `ESCAPE '\\'`). */
export const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/** postgres.js's own codes for a connection that could not be made or was lost, and the OS's. */
const CONNECTION_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);
/** SQLSTATEs that mean "the database is not there right now", not "this statement is wrong". */
const UNAVAILABLE_STATES = /^(08...|57P01|57P02|57P03|53300)$/;
/** What workerd's sockets say when a connection fails (they carry no code). */
const SOCKET_MESSAGES =
  /network connection lost|connection refused|socket (is )?closed|stream was cancelled|proxy request failed/i;

/**
 * Whether an error means PostgreSQL (or the pooler in front of it) cannot be reached right now:
 * the app then answers 503 "Database unavailable" with Retry-After, and the conversation objects
 * hold socket posts until it is back (realtime/write-queue.ts).
 */
export function databaseUnavailable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current && typeof current === "object"; depth++) {
    const e = current as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown };
    if (e.name === "DatabaseUnavailableError") return true;
    if (typeof e.code === "string" && (CONNECTION_CODES.has(e.code) || UNAVAILABLE_STATES.test(e.code))) {
      return true;
    }
    if (typeof e.message === "string" && SOCKET_MESSAGES.test(e.message)) return true;
    current = e.cause;
  }
  return false;
}

/**
 * Recognising database errors the app answers deliberately (rather than as a 500), and
 * describing the others for a log line. drizzle wraps driver errors, so the PostgreSQL fields
 * may sit on `cause`.
 */
import { DrizzleQueryError } from "drizzle-orm/errors";

interface PgErrorFields {
  code?: string;
  message?: string;
  severity?: string;
  constraint_name?: string;
  table_name?: string;
  column_name?: string;
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

/** The statement text kept in a log line; drizzle's are one line of SQL with $n placeholders. */
const STATEMENT_MAX = 1000;

/**
 * Messages that quote the offending input (`invalid input syntax for type integer: "abc"`, an
 * enum value): the quoted part may be anything a client sent, so it is cut off.
 */
const QUOTED_INPUT = /^((?:invalid input (?:syntax|value)|malformed)[^:\n]*:)\s.*$/s;
export const withoutQuotedInput = (message: string) => message.replace(QUOTED_INPUT, "$1 [input left out]");

/**
 * What an operator needs of a failed query, and nothing a client sent: PostgreSQL's code,
 * severity and message, the constraint, table and column it names, and the statement's text
 * (placeholders, never the parameters). Left out on purpose: drizzle's `params`, and
 * PostgreSQL's `detail` and `where`, which quote row values ("Key (email)=(...)", "Failing row
 * contains (...)"). Undefined when the error did not come from a query.
 */
export function describeQueryFailure(error: unknown): Record<string, unknown> | undefined {
  const query = queryErrorOf(error);
  const pg = pgFields(error);
  if (!query && !pg) return undefined;
  return {
    db_code: pg?.code,
    db_severity: pg?.severity,
    db_message: pg?.message === undefined ? undefined : withoutQuotedInput(pg.message),
    db_constraint: pg?.constraint_name,
    db_table: pg?.table_name,
    db_column: pg?.column_name,
    db_statement: query?.query.slice(0, STATEMENT_MAX),
  };
}

/** drizzle's wrapper of a failed query, whose message and stack list the parameters. */
function queryErrorOf(error: unknown): DrizzleQueryError | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 3 && current && typeof current === "object"; depth++) {
    if (current instanceof DrizzleQueryError) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
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

/** Failures to connect at all: a statement that met one of these was never sent. */
const CONNECT_CODES = new Set(["CONNECT_TIMEOUT", "ECONNREFUSED", "EHOSTUNREACH", "ENOTFOUND", "EAI_AGAIN"]);
const CONNECT_STATES = /^(08001|08004|57P03|53300)$/;
const CONNECT_MESSAGES = /connection refused|server login has been failing/i;

/**
 * Whether an error means a connection could not be made, so the statement it belonged to never
 * reached PostgreSQL (a subset of `databaseUnavailable`).
 */
export function connectionRefused(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current && typeof current === "object"; depth++) {
    const e = current as { code?: unknown; message?: unknown; cause?: unknown };
    if (typeof e.code === "string" && (CONNECT_CODES.has(e.code) || CONNECT_STATES.test(e.code))) return true;
    if (typeof e.message === "string" && CONNECT_MESSAGES.test(e.message)) return true;
    current = e.cause;
  }
  return false;
}

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

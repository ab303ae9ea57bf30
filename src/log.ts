/**
 * Structured logs: one JSON object per line, so `wrangler tail`, workerd's stdout under
 * docker and any log shipper can parse them without a format of their own.
 *
 * Secrets never reach a line: every field is passed through `redact` on the way out. A field
 * named like a secret (password, token, secret, authorization, cookie, api key) is replaced
 * whole; in every other string, `?token=`-style query parameters, `Bearer ...` credentials and
 * anything shaped like a JWT are masked, error messages and stacks included.
 */
import { describeQueryFailure, withoutQuotedInput } from "./db/errors";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

/**
 * drizzle writes a failed query's parameters into its message, and so into the stack
 * ("Failed query: insert ...\nparams: <e-mail>,<password hash>"); an error that crossed an RPC
 * boundary keeps that text without its class, so the text itself is cut, up to the first stack frame.
 */
const QUERY_PARAMS = /(Failed query: [\s\S]*?\n)params: [\s\S]*?(?=\n {4}at |$)/g;
const withoutQueryParams = (text: string) => text.replace(QUERY_PARAMS, "$1params: [left out]");

/**
 * An error as log fields. A failed query adds `describeQueryFailure`'s fields (PostgreSQL's code
 * and message, the statement's text) and never its parameters.
 */
function serialiseError(error: unknown): LogFields {
  if (!(error instanceof Error)) return { error: withoutQueryParams(String(error)) };
  const message = withoutQueryParams(withoutQuotedInput(error.message));
  return {
    error: message,
    error_name: error.name,
    ...describeQueryFailure(error),
    stack: error.stack && withoutQueryParams(error.stack.replace(error.message, message)),
  };
}

export const REDACTED = "[REDACTED]";

/** Field names whose values are secrets whatever they hold. */
const SECRET_FIELD = /pass(word|wd)?|secret|token|authori[sz]ation|cookie|api[-_]?key|credential/i;
/** `name=value` pairs that carry credentials: query strings (`/ws/notifications?token=...`), form-like text. */
const SECRET_PARAM =
  /((?:^|[?&;,\s])(?:token|access_token|refresh_token|id_token|password|secret|api_key|apikey|key)=)[^&#\s"',;]*/gi;
const CREDENTIAL = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi;
/** Three base64url segments, the first a JSON object: a JWT (or a JWS) wherever it appears. */
const JWT = /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;

/** A string with credentials masked. */
export function redactText(text: string): string {
  return text
    .replace(SECRET_PARAM, `$1${REDACTED}`)
    .replace(CREDENTIAL, `$1 ${REDACTED}`)
    .replace(JWT, REDACTED);
}

const MAX_DEPTH = 8;

/** A copy of a value fit for a log line: secrets masked, errors serialised, cycles cut. */
export function redact(value: unknown, key = "", depth = 0, seen = new WeakSet<object>()): unknown {
  if (value === null || value === undefined || typeof value === "boolean") return value;
  if (key !== "" && SECRET_FIELD.test(key) && typeof value !== "number") return REDACTED;
  if (typeof value === "string") return redactText(value);
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return value.toString();
  if (typeof value !== "object") return String(value);
  if (depth >= MAX_DEPTH) return "[too deep]";
  if (seen.has(value)) return "[circular]";
  // `seen` holds the ancestors only: a value met twice side by side is written twice.
  seen.add(value);
  let out: unknown;
  if (value instanceof Error) out = redact(serialiseError(value), "", depth + 1, seen);
  else if (Array.isArray(value)) out = value.map((item) => redact(item, "", depth + 1, seen));
  else {
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) fields[k] = redact(v, k, depth + 1, seen);
    out = fields;
  }
  seen.delete(value);
  return out;
}

export function createLogger(minLevel: LogLevel = "info", base: LogFields = {}): Logger {
  const write = (level: LogLevel, message: string, fields?: LogFields) => {
    if (rank[level] < rank[minLevel]) return;
    const { err, ...rest } = fields ?? {};
    const line = redact({
      time: new Date().toISOString(),
      level,
      msg: message,
      ...base,
      ...rest,
      ...(err === undefined ? {} : serialiseError(err)),
    });
    let text: string;
    try {
      text = JSON.stringify(line);
    } catch {
      text = JSON.stringify({ time: new Date().toISOString(), level, msg: redactText(message) });
    }
    if (level === "error") console.error(text);
    else if (level === "warn") console.warn(text);
    else console.log(text);
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    child: (fields) => createLogger(minLevel, { ...base, ...fields }),
  };
}

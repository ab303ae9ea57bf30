/**
 * Request validation with the original's 422 vocabulary (Pydantic v1, docs/http-api.md#errors).
 *
 * Bodies are parsed once, early, by `parseJsonBody` — before authentication, because the
 * original answers a malformed JSON body with 422 even to an anonymous caller — and then
 * validated per route by `jsonBody(schema)`. Query strings and path parameters go through
 * @hono/zod-validator with a hook that throws the same 422 shape.
 *
 * One rule holds for every route before any of its own (db/text.ts): text PostgreSQL cannot
 * store as sent — a NUL character, a lone surrogate — is a 422 wherever it is, in a path
 * segment, a query parameter or any string or key of a JSON body (`parseJsonBody` and
 * `rejectUnstorableUrl`); a body that is not UTF-8 is a 422 too.
 */
import { zValidator } from "@hono/zod-validator";
import type { Context, MiddlewareHandler, ValidationTargets } from "hono";
import { matchedRoutes } from "hono/route";
import { type ZodType, z } from "zod";
import type { $ZodError } from "zod/v4/core";
import type { AppEnv } from "../context";
import { findUnstorableText, UNSTORABLE_TEXT_MESSAGE, type UnstorableText, unstorableText } from "../db/text";
import { type ValidationIssue, validationFailed } from "../errors";

type Location = "body" | "query" | "path" | "header";

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let current = input;
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

const typeNames: Record<string, [msg: string, type: string]> = {
  number: ["value is not a valid integer", "type_error.integer"],
  int: ["value is not a valid integer", "type_error.integer"],
  string: ["str type expected", "type_error.str"],
  boolean: ["value could not be parsed to a boolean", "type_error.bool"],
  object: ["value is not a valid dict", "type_error.dict"],
  array: ["value is not a valid list", "type_error.list"],
};

/** Translates zod issues into Pydantic v1 items, so clients of the original read them unchanged. */
export function toValidationIssues(error: $ZodError, location: Location, input: unknown): ValidationIssue[] {
  return error.issues.map((issue): ValidationIssue => {
    const loc: (string | number)[] = [
      location,
      ...issue.path.map((p) => (typeof p === "number" ? p : String(p))),
    ];
    switch (issue.code) {
      case "invalid_type": {
        if (valueAt(input, issue.path) === undefined) {
          return { loc, msg: "field required", type: "value_error.missing" };
        }
        const [msg, type] = typeNames[issue.expected] ?? [issue.message, `type_error.${issue.expected}`];
        return { loc, msg, type };
      }
      case "too_small":
        if (issue.origin === "string") {
          return {
            loc,
            msg: `ensure this value has at least ${issue.minimum} characters`,
            type: "value_error.any_str.min_length",
            ctx: { limit_value: Number(issue.minimum) },
          };
        }
        return {
          loc,
          msg: `ensure this value is greater than or equal to ${issue.minimum}`,
          type: "value_error.number.not_ge",
          ctx: { limit_value: Number(issue.minimum) },
        };
      case "too_big":
        if (issue.origin === "string") {
          return {
            loc,
            msg: `ensure this value has at most ${issue.maximum} characters`,
            type: "value_error.any_str.max_length",
            ctx: { limit_value: Number(issue.maximum) },
          };
        }
        return {
          loc,
          msg: `ensure this value is less than or equal to ${issue.maximum}`,
          type: "value_error.number.not_le",
          ctx: { limit_value: Number(issue.maximum) },
        };
      case "invalid_format":
        if (issue.format === "email") {
          return { loc, msg: "value is not a valid email address", type: "value_error.email" };
        }
        if (issue.format === "regex" && "pattern" in issue) {
          // Shown as Pydantic shows it: the bare pattern, without slashes or the leading
          // anchor (Pydantic anchors at the start by itself).
          const pattern = String(issue.pattern)
            .replace(/^\/(.*)\/[a-z]*$/s, "$1")
            .replace(/^\^/, "");
          return {
            loc,
            msg: `string does not match regex "${pattern}"`,
            type: "value_error.str.regex",
            ctx: { pattern },
          };
        }
        return { loc, msg: issue.message, type: `value_error.${issue.format}` };
      case "invalid_value":
        if (valueAt(input, issue.path) === undefined) {
          return { loc, msg: "field required", type: "value_error.missing" };
        }
        return {
          loc,
          msg: `unexpected value; permitted: ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`,
          type: "value_error.const",
          ctx: { permitted: issue.values },
        };
      default:
        // Whole-object rules (refinements) are reported on "__root__" as the original does.
        if (issue.path.length === 0) loc.push("__root__");
        return { loc, msg: issue.message, type: "value_error" };
    }
  });
}

const JSON_MEDIA = /^application\/([\w.-]+\+)?json$/i;
const FORM_MEDIA = /^(application\/x-www-form-urlencoded|multipart\/form-data)$/i;

function jsonDecodeIssue(text: string, error: unknown): ValidationIssue {
  const message = error instanceof Error ? error.message : "Invalid JSON";
  const match = /position (\d+)/.exec(message);
  const pos = match ? Number(match[1]) : text.length;
  const before = text.slice(0, pos);
  const lineno = before.split("\n").length;
  const colno = pos - before.lastIndexOf("\n");
  return {
    loc: ["body", pos],
    msg: message.replace(/\s*(in JSON )?at position \d+.*$/, "") || "Invalid JSON",
    type: "value_error.jsondecode",
    ctx: { msg: message, doc: text.slice(0, 200), pos, lineno, colno },
  };
}

/** The 422 item for text that cannot be stored; `loc` is cut short for absurdly nested bodies. */
export function unstorableIssue(loc: (string | number)[], problem: UnstorableText): ValidationIssue {
  return { loc: loc.slice(0, 32), msg: UNSTORABLE_TEXT_MESSAGE[problem], type: `value_error.str.${problem}` };
}

/** Throws the 422 for the first string or key of `value` that cannot be stored, if any. */
export function rejectUnstorable(value: unknown, location: Location) {
  const found = findUnstorableText(value);
  if (found) throw validationFailed([unstorableIssue([location, ...found.path], found.problem)]);
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

const NOT_UTF8: ValidationIssue = {
  loc: ["body"],
  msg: "the body is not valid UTF-8",
  type: "value_error.unicode",
};

/**
 * Reads a JSON (or untyped) body once. As in the original: no Content-Type still means JSON;
 * another type (text/plain) leaves the body an opaque string, which then fails object
 * validation with "value is not a valid dict"; forms are left for the routes that take them.
 *
 * A malformed body is not refused here but remembered: an unknown path must still answer 404,
 * and a route that takes no body ignores it. Routes that take a body refuse it in `jsonBody`,
 * and authentication refuses it first (`rejectMalformedBody`), as the original checks the
 * JSON before the credentials. Malformed includes bytes that are not UTF-8 and text that
 * cannot be stored (db/text.ts) anywhere in the parsed body.
 */
export const parseJsonBody: MiddlewareHandler<AppEnv> = async (c, next) => {
  const method = c.req.method;
  if (method === "GET" || method === "HEAD" || method === "OPTIONS") return next();
  const mediaType = (c.req.header("Content-Type") ?? "").split(";")[0]?.trim() ?? "";
  if (FORM_MEDIA.test(mediaType)) return next();

  let text: string;
  try {
    text = utf8.decode(await c.req.arrayBuffer());
  } catch (error) {
    if (error instanceof TypeError) {
      c.set("bodyError", NOT_UTF8);
      return next();
    }
    throw error;
  }

  let body: unknown;
  if (text.trim() === "") {
    body = undefined;
  } else if (mediaType === "" || JSON_MEDIA.test(mediaType)) {
    try {
      body = JSON.parse(text);
    } catch (error) {
      c.set("bodyError", jsonDecodeIssue(text, error));
      return next();
    }
  } else {
    body = text;
  }
  const unstorable = findUnstorableText(body);
  if (unstorable) c.set("bodyError", unstorableIssue(["body", ...unstorable.path], unstorable.problem));
  else c.set("body", body);
  return next();
};

/**
 * A path segment decoded as Hono decodes path parameters: whole, or when that fails (an escape
 * that is not UTF-8, such as %ff) run by run of escapes, so `%ff%00` still yields a NUL.
 */
const decodeSegment = (segment: string) => {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return run;
      }
    });
  }
};

/**
 * The path and query half of the rule: a path segment or a query parameter (name or value) that
 * decodes to text that cannot be stored is a 422 naming it, on every route. Unknown paths are
 * left alone (they answer 404 or 405). Percent-decoding never yields a lone surrogate (an
 * encoded one does not decode), so in practice this is `%00`.
 */
export const rejectUnstorableUrl: MiddlewareHandler<AppEnv> = async (c, next) => {
  const endpoint = matchedRoutes(c).find((route) => route.method !== "ALL");
  if (!endpoint) return next();
  const url = new URL(c.req.url);
  const pattern = endpoint.path.split("/");
  for (const [index, segment] of url.pathname.split("/").entries()) {
    const problem = segment.includes("%") ? unstorableText(decodeSegment(segment)) : null;
    if (problem) {
      const name = /^:([A-Za-z0-9_]+)/.exec(pattern[index] ?? "")?.[1];
      throw validationFailed([unstorableIssue(name ? ["path", name] : ["path"], problem)]);
    }
  }
  for (const [name, value] of url.searchParams) {
    const problem = unstorableText(name) ?? unstorableText(value);
    if (problem) throw validationFailed([unstorableIssue(["query", name.slice(0, 64)], problem)]);
  }
  return next();
};

/** Throws the 422 of a malformed JSON body, if the request had one. */
export function rejectMalformedBody(c: Context<AppEnv>) {
  const issue = c.get("bodyError");
  if (issue) throw validationFailed([issue]);
}

/**
 * Validates the body parsed by `parseJsonBody`; `c.req.valid("json")` is then typed.
 * (Hono's own json validator would parse the body again and answer a malformed one with its
 * own 400, so this middleware hands its result to Hono directly.)
 */
export function jsonBody<T extends ZodType>(
  schema: T,
): MiddlewareHandler<AppEnv, string, { in: { json: z.input<T> }; out: { json: z.output<T> } }> {
  return async (c, next) => {
    rejectMalformedBody(c);
    const body: unknown = c.get("body");
    const result = schema.safeParse(body);
    if (!result.success) {
      if (body === undefined) {
        throw validationFailed([{ loc: ["body"], msg: "field required", type: "value_error.missing" }]);
      }
      throw validationFailed(toValidationIssues(result.error, "body", body));
    }
    c.req.addValidatedData("json", result.data as object);
    await next();
  };
}

const locationOf: Partial<Record<keyof ValidationTargets, Location>> = {
  query: "query",
  param: "path",
  header: "header",
};

/** zValidator for query, path and header values, answering 422 in the original's format. */
export function validate<Target extends "query" | "param" | "header", T extends ZodType>(
  target: Target,
  schema: T,
) {
  return zValidator(target, schema, (result) => {
    if (!result.success) {
      throw validationFailed(toValidationIssues(result.error, locationOf[target] ?? "query", result.data));
    }
  });
}

/**
 * An integer from a path or query string, accepting numeric strings as the original
 * (Pydantic v1) does, and refusing anything else with "value is not a valid integer".
 */
export const zInt = () =>
  z.preprocess(
    (v) => (typeof v === "string" && /^\s*[+-]?\d+\s*$/.test(v) ? Number(v) : v),
    z.number().int().safe(),
  );

/** A query-string boolean, as leniently as the original reads one (`true`/`1`/`yes`/`on` and the opposites). */
export const zQueryBool = () =>
  z.preprocess((value) => {
    if (typeof value !== "string") return value;
    const text = value.trim().toLowerCase();
    if (["true", "1", "yes", "on"].includes(text)) return true;
    if (["false", "0", "no", "off"].includes(text)) return false;
    return value;
  }, z.boolean());

/**
 * A string whose length is counted in Unicode code points, as the original (Python) counts
 * it; zod's own min/max count UTF-16 units and would refuse names the original accepts.
 * Violations read like the original's ("ensure this value has at most 32 characters").
 */
export const zText = (min: number, max: number) =>
  z.string().superRefine((value, ctx) => {
    const length = [...value].length;
    if (length < min) {
      ctx.addIssue({ code: "too_small", origin: "string", minimum: min, inclusive: true, input: value });
    } else if (length > max) {
      ctx.addIssue({ code: "too_big", origin: "string", maximum: max, inclusive: true, input: value });
    }
  });

/** Line breaks and other control characters have no place in a name (they break lists and logs). */
const CONTROL_CHARACTERS = /[\p{Cc}\u2028\u2029]/u;

/** A name: trimmed, `min`..`max` code points, no control characters. */
export const zName = (min: number, max: number) =>
  z
    .string()
    .transform((value) => value.trim())
    .pipe(zText(min, max))
    .refine((value) => !CONTROL_CHARACTERS.test(value), { message: "must not contain control characters" });

/**
 * An entity id: lenient like zInt, and within PostgreSQL's `integer`, so an id no row can have
 * is a 422 rather than a database error.
 */
export const zId = () => zInt().pipe(z.number().max(2_147_483_647));

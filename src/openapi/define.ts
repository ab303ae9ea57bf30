/**
 * One helper to describe an operation the way this API behaves everywhere, so each entry in
 * ./paths/*.ts states only what is particular to its route:
 *
 * - `auth` (default true): the bearer scheme, and 401 with its details (docs/http-api.md#authentication);
 * - a path, query or body schema, or a body a protected route may receive malformed: 422 with the
 *   Pydantic-v1 list (docs/http-api.md#errors);
 * - a body: 413 above the size limit;
 * - `rateLimited` (default true): 429 with its headers, and 503 when the limiter is down and set to
 *   fail closed (docs/http-api.md#rate-limits; probes are exempt);
 * - `errors`: the route's own statuses, each answered with `{"detail": string}`.
 *
 * Request schemas are the route modules' own (imported, never copied); response schemas are
 * from ./schemas.ts.
 */
import type { RouteConfig } from "@hono/zod-openapi";
import type { ZodObject, ZodType } from "zod";
import { ErrorDetail, ValidationError } from "./schemas";

export type Method = "get" | "post" | "put" | "patch" | "delete";

/** Statuses a route may answer with `{"detail": string}`, besides the automatic 401, 413, 422, 429. */
export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 426 | 501 | 503;

export interface Operation {
  method: Method;
  /** OpenAPI style: `/channels/{channel_id}`. */
  path: string;
  tag: string;
  summary: string;
  description?: string;
  /** Requires `Authorization: Bearer <access token>` (default true). */
  auth?: boolean;
  params?: ZodObject;
  query?: ZodObject;
  /** A JSON body, validated with this schema. */
  body?: ZodType;
  /** The body may be left out (default: required). */
  bodyOptional?: boolean;
  /** A form body (urlencoded or multipart), validated with this schema. */
  form?: ZodType;
  /** The parameters above are described only: the route reads them by hand (no automatic 422). */
  unvalidated?: boolean;
  ok: { status?: 101 | 200 | 204; description: string; schema?: ZodType; mediaType?: string };
  errors?: Partial<Record<ErrorStatus, string>>;
  /** Other responses, when an error has a body of its own shape. */
  extraResponses?: RouteConfig["responses"];
  /** Counted by the global request limit (default true; the probes are exempt). */
  rateLimited?: boolean;
  /** A limit of the route's own, described in the 429 response. */
  routeLimit?: string;
  security?: RouteConfig["security"];
}

const json = (schema: ZodType) => ({ "application/json": { schema } });

const problem = (description: string) => ({ description, content: json(ErrorDetail) });

const UNAUTHORIZED =
  "Not authenticated: no usable bearer token (`Not authenticated`, with `WWW-Authenticate: Bearer`), " +
  "or `Invalid authentication`, `Session revoked`, `User not found`.";

/** Response headers, as components (./document.ts registers them under these names). */
export const HEADERS = {
  "WWW-Authenticate": { description: "`Bearer`, when no token was sent", schema: { type: "string" } },
  "Retry-After": { description: "Seconds until the client may try again", schema: { type: "string" } },
  "RateLimit-Limit": { description: "Requests allowed in the window", schema: { type: "string" } },
  "RateLimit-Remaining": { description: "Requests left in the window", schema: { type: "string" } },
  "RateLimit-Reset": { description: "Seconds until the window resets", schema: { type: "string" } },
} as const;

const header = (name: keyof typeof HEADERS) => ({ $ref: `#/components/headers/${name}` });

const rateLimitHeaders = {
  "Retry-After": header("Retry-After"),
  "RateLimit-Limit": header("RateLimit-Limit"),
  "RateLimit-Remaining": header("RateLimit-Remaining"),
  "RateLimit-Reset": header("RateLimit-Reset"),
};

/** `/a/{b}/` → `a_b_slash`: stable, unique operation ids (the two spellings of `/workspaces` differ). */
function operationId(method: Method, path: string): string {
  const words = path
    .replace(/\/$/, "/slash")
    .split("/")
    .filter(Boolean)
    .map((part) => part.replace(/[{}]/g, "").replace(/[^A-Za-z0-9]+/g, "_"));
  return [method, ...words].join("_");
}

export function operation(op: Operation): RouteConfig {
  const auth = op.auth ?? true;
  const hasInput = !op.unvalidated && Boolean(op.params || op.query || op.body || op.form);
  const readsBody = op.method !== "get";

  const responses: RouteConfig["responses"] = {};
  const status = op.ok.status ?? 200;
  responses[status] = op.ok.schema
    ? {
        description: op.ok.description,
        content: { [op.ok.mediaType ?? "application/json"]: { schema: op.ok.schema } },
      }
    : { description: op.ok.description };

  for (const [code, description] of Object.entries(op.errors ?? {})) responses[code] = problem(description);
  if (auth) {
    responses[401] = {
      ...problem(op.errors?.[401] ? `${UNAUTHORIZED} ${op.errors[401]}` : UNAUTHORIZED),
      headers: { "WWW-Authenticate": header("WWW-Authenticate") },
    };
  }
  if (op.body || op.form) responses[413] = problem("Request body too large.");
  if (hasInput || (auth && readsBody)) {
    responses[422] = {
      description: readsBody
        ? "Validation failed (a malformed JSON body is refused before authentication)."
        : "Validation failed.",
      content: json(ValidationError),
    };
  }
  if (op.rateLimited ?? true) {
    const unavailable = "`Rate limiter unavailable`: the store is down and RATE_LIMIT_FAIL_OPEN is false.";
    const own503 = op.errors?.[503];
    responses[503] = problem(own503 ? `${own503} Or ${unavailable}` : unavailable);
    responses[429] = {
      description: op.routeLimit
        ? `Too many requests: ${op.routeLimit}, or the global per-client limit.`
        : "Too many requests (the global per-client limit).",
      headers: rateLimitHeaders,
      content: json(ErrorDetail),
    };
  }
  Object.assign(responses, op.extraResponses);

  const request: RouteConfig["request"] = {};
  if (op.params) request.params = op.params;
  if (op.query) request.query = op.query;
  if (op.body) {
    request.body = { required: !op.bodyOptional, content: json(op.body) };
  } else if (op.form) {
    request.body = {
      required: true,
      content: {
        "application/x-www-form-urlencoded": { schema: op.form },
        "multipart/form-data": { schema: op.form },
      },
    };
  }

  return {
    method: op.method,
    path: op.path,
    operationId: operationId(op.method, op.path),
    tags: [op.tag],
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    ...(op.security ? { security: op.security } : auth ? { security: [{ bearer: [] }] } : { security: [] }),
    request,
    responses,
  };
}

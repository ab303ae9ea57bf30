/**
 * The error layer: every error a client can see has the shapes of contract 1.4.
 *
 * Services throw `HttpError` (or its helpers below) and know nothing else of HTTP; the
 * handler in app.ts turns any thrown value into a JSON response here, so there is exactly one
 * place that decides what an error looks like on the wire.
 */
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** One item of a 422 body, in the vocabulary of the original (Pydantic v1). */
export interface ValidationIssue {
  loc: (string | number)[];
  msg: string;
  type: string;
  ctx?: Record<string, unknown>;
}

export class HttpError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly detail: string | ValidationIssue[],
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof detail === "string" ? detail : "Validation failed");
    this.name = "HttpError";
  }
}

export const badRequest = (detail: string) => new HttpError(400, detail);
export const forbidden = (detail = "Forbidden") => new HttpError(403, detail);
export const notFound = (detail = "Not Found") => new HttpError(404, detail);
export const conflict = (detail: string) => new HttpError(409, detail);
export const validationFailed = (issues: ValidationIssue[]) => new HttpError(422, issues);

/**
 * 401. Only "no usable credentials" carries `WWW-Authenticate: Bearer` (as the original does);
 * a wrong password is not a missing credential.
 */
export const unauthorized = (detail: string, challenge = false) =>
  new HttpError(401, detail, challenge ? { "WWW-Authenticate": "Bearer" } : {});

export const notAuthenticated = () => unauthorized("Not authenticated", true);

export const serviceUnavailable = (detail = "Service Unavailable") => new HttpError(503, detail);

export function errorBody(error: HttpError): { detail: string | ValidationIssue[] } {
  return { detail: error.detail };
}

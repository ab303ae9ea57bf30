/**
 * Errors a client may see. Services throw `AppError` (usually through the helpers below)
 * carrying the status and `detail` documented for that case (docs/http-api.md); they know nothing else
 * of HTTP. http/error-handler.ts is the one place that turns any thrown value into a response
 * (the shapes of docs/http-api.md#errors), and the socket layer maps the same errors to refusals and close
 * codes.
 */
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** One item of a 422 body, in the vocabulary of the original (Pydantic v1). */
export interface ValidationIssue {
  loc: (string | number)[];
  msg: string;
  type: string;
  ctx?: Record<string, unknown>;
}

export class AppError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly detail: string | ValidationIssue[],
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof detail === "string" ? detail : "Validation failed");
    this.name = "AppError";
  }
}

export const badRequest = (detail: string) => new AppError(400, detail);
export const forbidden = (detail = "Forbidden") => new AppError(403, detail);
export const notFound = (detail = "Not Found") => new AppError(404, detail);
export const conflict = (detail: string) => new AppError(409, detail);
export const validationFailed = (issues: ValidationIssue[]) => new AppError(422, issues);

/**
 * 401. Only "no usable credentials" carries `WWW-Authenticate: Bearer` (as the original does);
 * a wrong password is not a missing credential.
 */
export const unauthorized = (detail: string, challenge = false) =>
  new AppError(401, detail, challenge ? { "WWW-Authenticate": "Bearer" } : {});

export const notAuthenticated = () => unauthorized("Not authenticated", true);

export const serviceUnavailable = (detail = "Service Unavailable") => new AppError(503, detail);

export function errorBody(error: AppError): { detail: string | ValidationIssue[] } {
  return { detail: error.detail };
}

/**
 * Turns anything thrown into a response with the shapes of docs/http-api.md#errors, and answers unknown
 * paths (404) and known paths called with the wrong method (405 with Allow).
 */
import type { Context, ErrorHandler, Hono, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AppEnv } from "../context";
import { databaseUnavailable } from "../db/errors";
import { AppError } from "../errors";
import { routeTemplate } from "../observability/route";
import { databaseUnavailableError } from "./refusals";

function errorResponse(c: Context<AppEnv>, error: AppError): Response {
  return c.json({ detail: error.detail }, error.status, error.headers);
}

export const handleError: ErrorHandler<AppEnv> = (error, c) => {
  if (error instanceof AppError) return errorResponse(c, error);
  if (error instanceof HTTPException && error.status < 500) {
    return errorResponse(c, new AppError(error.status, error.message || "Bad Request"));
  }
  // PostgreSQL (or the pooler before it) cannot be reached: a 503 the client may retry, with its
  // cause in the log, never a bare 500.
  if (databaseUnavailable(error)) {
    c.var.log?.warn("database unavailable", { err: error, route: routeTemplate(c) });
    return errorResponse(c, databaseUnavailableError());
  }
  // Unexpected: log everything we know, tell the client only the request id to quote.
  // (log.ts masks credentials in the message and stack; the query string is left out here.)
  c.var.log?.error("unhandled error", {
    err: error,
    method: c.req.method,
    route: routeTemplate(c),
    path: c.req.path,
    user_id: c.get("caller")?.userId,
  });
  return c.json({ detail: "Internal Server Error", request_id: c.var.requestId }, 500);
};

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;

/**
 * Hono has no 405 of its own. An endpoint is any route registered for a concrete method
 * (middleware is registered for "ALL"); if another method has an endpoint for this path, the
 * path is known and the method is wrong.
 */
export function notFoundOrMethodNotAllowed(app: Hono<AppEnv>): NotFoundHandler<AppEnv> {
  let endpoints: Set<unknown> | undefined;
  return (c) => {
    endpoints ??= new Set(app.routes.filter((r) => r.method !== "ALL").map((r) => r.handler));
    const allowed = METHODS.filter((method) =>
      app.router.match(method, c.req.path)[0].some(([[handler]]) => endpoints?.has(handler)),
    );
    if (allowed.length > 0) {
      if (allowed.includes("GET")) allowed.splice(1, 0, "HEAD" as never);
      return c.json({ detail: "Method Not Allowed" }, 405, { Allow: allowed.join(", ") });
    }
    return c.json({ detail: "Not Found" }, 404);
  };
}

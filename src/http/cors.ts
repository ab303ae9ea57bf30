/**
 * CORS as the original serves it (docs/http-api.md#cors), so the web app's preflighted calls keep
 * working: allowed origins from CORS_ORIGINS, credentials allowed, request headers mirrored.
 *
 * The headers are added after the handler has run, to whatever response it produced —
 * errors and 500s included — because a browser cannot read an error it is not allowed to see
 * (the original's 500s lacked them).
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../context";

const ALLOWED_METHODS = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT";
const PREFLIGHT_MAX_AGE_SECONDS = "600";

function addVary(headers: Headers, value: string) {
  const current = headers.get("Vary");
  if (!current) headers.set("Vary", value);
  else if (!current.split(",").some((v) => v.trim().toLowerCase() === value.toLowerCase())) {
    headers.set("Vary", `${current}, ${value}`);
  }
}

export const cors: MiddlewareHandler<AppEnv> = async (c, next) => {
  const origin = c.req.header("Origin");
  const allowed = origin !== undefined && c.var.config.corsOrigins.includes(origin);
  const isPreflight =
    c.req.method === "OPTIONS" && origin !== undefined && c.req.header("Access-Control-Request-Method");

  if (isPreflight) {
    const headers = new Headers({ "Content-Type": "text/plain; charset=utf-8" });
    addVary(headers, "Origin");
    if (!allowed) return new Response("Disallowed CORS origin", { status: 400, headers });
    headers.set("Access-Control-Allow-Origin", origin);
    headers.set("Access-Control-Allow-Credentials", "true");
    headers.set("Access-Control-Allow-Methods", ALLOWED_METHODS);
    headers.set("Access-Control-Max-Age", PREFLIGHT_MAX_AGE_SECONDS);
    const requested = c.req.header("Access-Control-Request-Headers");
    if (requested) headers.set("Access-Control-Allow-Headers", requested);
    return new Response("OK", { status: 200, headers });
  }

  await next();
  if (allowed && c.res.status !== 101) {
    // Responses of fetch() or the runtime can be immutable; copy before touching headers.
    const res = new Response(c.res.body, c.res);
    res.headers.set("Access-Control-Allow-Origin", origin);
    res.headers.set("Access-Control-Allow-Credentials", "true");
    addVary(res.headers, "Origin");
    c.res = res;
  }
};

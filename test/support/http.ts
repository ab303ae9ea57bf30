/**
 * A small REST client for tests: one call per request, the body parsed when it is JSON.
 */
import type { TestApp } from "./app";

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  /** Parsed JSON when the response is JSON, else the raw text. */
  body: T;
  text: string;
}

export interface RequestOptions {
  token?: string;
  /** Serialised as JSON with Content-Type application/json. */
  json?: unknown;
  /** Sent as application/x-www-form-urlencoded. */
  form?: Record<string, string>;
  /** Sent verbatim with no Content-Type unless one is given in `headers`. */
  raw?: string;
  headers?: Record<string, string>;
}

export async function request<T = any>(
  app: Pick<TestApp, "fetch">,
  method: string,
  path: string,
  options: RequestOptions = {},
): Promise<ApiResponse<T>> {
  const headers = new Headers(options.headers);
  let body: string | Blob | undefined;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    if (!headers.has("Content-Type")) headers.set("Content-Type", "application/json");
  } else if (options.form) {
    body = new URLSearchParams(options.form).toString();
    headers.set("Content-Type", "application/x-www-form-urlencoded");
  } else if (options.raw !== undefined) {
    // A Blob without a type, not a string: fetch would label a string body text/plain itself.
    body = new Blob([options.raw]);
  }
  if (options.token) headers.set("Authorization", `Bearer ${options.token}`);
  const res = await app.fetch(path, { method, headers, body });
  const text = await res.text();
  const isJson = (res.headers.get("Content-Type") ?? "").includes("json");
  return { status: res.status, headers: res.headers, text, body: isJson && text ? JSON.parse(text) : text };
}

export function api(app: Pick<TestApp, "fetch">, defaults: { token?: string } = {}) {
  const call =
    (method: string) =>
    <T = any>(path: string, options: RequestOptions = {}) =>
      request<T>(app, method, path, { ...defaults, ...options });
  return {
    get: call("GET"),
    post: call("POST"),
    put: call("PUT"),
    patch: call("PATCH"),
    delete: call("DELETE"),
    options: call("OPTIONS"),
    request: <T = any>(method: string, path: string, options: RequestOptions = {}) =>
      request<T>(app, method, path, { ...defaults, ...options }),
  };
}

/** The API as `user` (anonymous without one). */
export const as = (app: Pick<TestApp, "fetch">, user?: { accessToken: string }) =>
  api(app, { token: user?.accessToken });

/** The body of a 200 answer; anything else fails the arrangement, naming `what` was being done. */
export async function ok<T = any>(
  promise: Promise<{ status: number; body: T; text: string }>,
  what: string,
): Promise<T> {
  const res = await promise;
  if (res.status !== 200) throw new Error(`${what}: ${res.status} ${res.text}`);
  return res.body;
}

/**
 * Helpers for the rate-limit tests: windows, client addresses and the shape of a refusal.
 *
 * @upstash/ratelimit's fixed windows are aligned to multiples of their length since the epoch, so
 * a test that needs N requests inside one window first waits for a window with enough time left.
 * Nothing here asserts how long anything took.
 */
import { expect } from "vitest";
import type { TestApp } from "../support/app";
import { type ApiResponse, api } from "../support/http";

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for the next window to start. */
export async function nextWindow(windowMs: number): Promise<void> {
  await sleep(windowMs - (Date.now() % windowMs) + 50);
}

/** Returns at once when the current window has at least `needMs` left, else waits for the next one. */
export async function windowWithRoom(windowMs: number, needMs: number): Promise<void> {
  if (windowMs - (Date.now() % windowMs) < needMs) await nextWindow(windowMs);
}

/** Miniflare keeps a CF-Connecting-IP the client sends, which lets one machine be many clients. */
export const fromIp = (ip: string, extra: Record<string, string> = {}) => ({
  "CF-Connecting-IP": ip,
  ...extra,
});

export const ORIGIN = "http://app.example";

/** A 429 as docs/http-api.md#rate-limits describes it, with the limit that was exceeded. */
export function expectLimited(res: ApiResponse, limit: number, windowMs: number): void {
  expect(res.status, res.text).toBe(429);
  expect(res.body).toEqual({ detail: "Too many requests" });
  expect(res.headers.get("content-type")).toContain("application/json");
  const retryAfter = Number(res.headers.get("retry-after"));
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(Math.ceil(windowMs / 1000));
  expect(res.headers.get("ratelimit-limit")).toBe(String(limit));
  expect(res.headers.get("ratelimit-remaining")).toBe("0");
  expect(res.headers.get("ratelimit-reset")).toBe(String(retryAfter));
}

/**
 * CORS headers as every answer to an allowed origin carries them
 * (docs/original-defects.md#d5-rate-limit-500s), with the rate headers exposed.
 */
export function expectCors(res: ApiResponse): void {
  expect(res.headers.get("access-control-allow-origin")).toBe(ORIGIN);
  expect(res.headers.get("access-control-allow-credentials")).toBe("true");
  expect(res.headers.get("access-control-expose-headers")).toContain("Retry-After");
  expect(res.headers.get("access-control-expose-headers")).toContain("RateLimit-Reset");
}

let registered = 0;

/** Registers and logs in a user from `ip` (two requests against that address's budgets). */
export async function registerFrom(app: TestApp, ip: string) {
  registered += 1;
  const email = `rl-${process.pid}-${Date.now().toString(36)}-${registered}@example.com`;
  const password = "correct horse battery";
  const reg = await api(app).post("/auth/register", {
    json: { email, password, display_name: `Limited ${registered}` },
    headers: fromIp(ip),
  });
  if (reg.status !== 200) throw new Error(`register failed: ${reg.status} ${reg.text}`);
  const login = await api(app).post("/auth/login", {
    form: { username: email, password },
    headers: fromIp(ip),
  });
  if (login.status !== 200) throw new Error(`login failed: ${login.status} ${login.text}`);
  return {
    id: reg.body.id as number,
    email,
    password,
    accessToken: login.body.access_token as string,
    refreshToken: login.body.refresh_token as string,
  };
}

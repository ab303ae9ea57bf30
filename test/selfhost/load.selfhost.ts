/**
 * The self-hosted stack under sustained REST load (`npm run test:selfhost`), on workerd's own
 * port (what nginx proxies to), with the rate limits off through .env as an operator would for a
 * load test. Properties that only show under load, and that broke before:
 *
 *   - Readiness probes among concurrent requests never wedge the database pool. The probe's
 *     `select 1` had no parameter, postgres.js pipelined the next query behind it, and PgBouncer
 *     (transaction mode) dropped that query's answer: each time, one pooled connection waited for
 *     ever, and after a few the API stopped answering.
 *
 * Nothing here measures time: a stalled request fails by its (generous) timeout, not by a speed.
 */
import { Pool } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SelfHostStack, startSelfHostStack } from "./stack";

const CONCURRENCY = 16;

let stack: SelfHostStack;
let pool: Pool;
const tokens: string[] = [];

async function json(path: string, init: RequestInit = {}): Promise<any> {
  const res = await fetch(`${stack.apiUrl}${path}`, { ...init, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${init.method ?? "GET"} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

beforeAll(async () => {
  stack = await startSelfHostStack({ dotenv: { RATE_LIMITS_ENABLED: "false" } });
  // Two users, each with a workspace, so /workspaces reads rows.
  for (const i of [0, 1]) {
    const email = `load-${i}@example.com`;
    const password = "load test password";
    await json("/auth/register", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email, password, display_name: `Load ${i}` }),
    });
    const login = await json("/auth/login", {
      method: "POST",
      body: new URLSearchParams({ username: email, password }),
    });
    tokens.push(login.access_token);
    await json("/workspaces", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${login.access_token}` },
      body: JSON.stringify({ name: `Load ${i}` }),
    });
  }
  pool = new Pool(stack.apiUrl, { connections: CONCURRENCY, pipelining: 1 });
});

afterAll(async () => {
  await pool?.close();
  await stack?.stop();
});

/**
 * Sends `total` requests, CONCURRENCY at a time, the i-th to `pathOf(i)` as one of the users;
 * returns how many answers were not 200, by path and status. Stops at the first request that
 * gets no answer within 30 s.
 */
async function drive(total: number, pathOf: (i: number) => string): Promise<Record<string, number>> {
  const failures: Record<string, number> = {};
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < total) {
        const i = next++;
        const path = pathOf(i);
        try {
          const res = await pool.request({
            method: "GET",
            path,
            headers: { authorization: `Bearer ${tokens[i % tokens.length]}` },
            headersTimeout: 30_000,
            bodyTimeout: 30_000,
          });
          await res.body.dump({ limit: Number.POSITIVE_INFINITY });
          if (res.statusCode !== 200)
            failures[`${path} ${res.statusCode}`] = (failures[`${path} ${res.statusCode}`] ?? 0) + 1;
        } catch (error) {
          const key = `${path} no answer (${(error as Error).message})`;
          failures[key] = (failures[key] ?? 0) + 1;
          // A stalled API would make every further request wait for its timeout too.
          next = total;
        }
      }
    }),
  );
  return failures;
}

describe("the self-hosted api under sustained load", () => {
  it("answers readiness probes among concurrent requests without wedging the database pool", async () => {
    // One request in four is a probe; the pool (DATABASE_POOL_SIZE 8) is kept saturated.
    const failures = await drive(2000, (i) => (i % 4 === 0 ? "/readyz" : "/auth/me"));
    expect(failures).toEqual({});
  }, 180_000);
});

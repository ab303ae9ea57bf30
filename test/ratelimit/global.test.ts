/**
 * The global HTTP rule (docs/original-defects.md#d5-rate-limit-500s) through the real Worker and store: 429
 * JSON with rate and CORS headers, a fresh budget in the next window, keying per user versus per address,
 * X-Forwarded-For only when CLIENT_IP_SOURCE says so, exempt paths and preflights, and the off switch.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { api } from "../support/http";
import {
  expectCors,
  expectLimited,
  fromIp,
  nextWindow,
  ORIGIN,
  registerFrom,
  windowWithRoom,
} from "./support";

const WINDOW_MS = 4000;
const LIMIT = 5;
/** Time a test's burst of requests may take inside one window. */
const BURST_MS = 2500;

let app: TestApp;
let trusting: TestApp;

beforeAll(async () => {
  const limits = {
    RATE_LIMIT_HTTP_PER_MINUTE: String(LIMIT),
    RATE_LIMIT_WINDOW_OVERRIDE_MS: String(WINDOW_MS),
  };
  [app, trusting] = await Promise.all([
    startApp({ env: limits }),
    startApp({ env: { ...limits, TRUST_PROXY_HEADERS: "true", RATE_LIMIT_HTTP_PER_MINUTE: "3" } }),
  ]);
});
afterAll(async () => {
  await Promise.all([app?.close(), trusting?.close()]);
});

/** `count` GETs of a counted path (the original's /heath typo: it touches nothing but the limiter). */
async function hits(target: TestApp, count: number, headers: Record<string, string>, path = "/heath") {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) statuses.push((await api(target).get(path, { headers })).status);
  return statuses;
}

describe("per client address", () => {
  it("answers the request past the limit with 429, rate headers and CORS headers", async () => {
    await windowWithRoom(WINDOW_MS, BURST_MS);
    const headers = fromIp("198.51.100.1", { Origin: ORIGIN });
    expect(await hits(app, LIMIT, headers)).toEqual(Array(LIMIT).fill(200));
    const limited = await api(app).get("/heath", { headers });
    expectLimited(limited, LIMIT, WINDOW_MS);
    expectCors(limited);
    expect(limited.headers.get("x-request-id")).toBeTruthy();
    // Every counted path shares the budget, whatever it would have answered.
    expectLimited(await api(app).get("/no/such/path", { headers }), LIMIT, WINDOW_MS);
    expectLimited(
      await api(app).post("/auth/login", { headers, form: { username: "x", password: "y" } }),
      LIMIT,
      WINDOW_MS,
    );
  });

  it("gives a fresh budget in the next window", async () => {
    await windowWithRoom(WINDOW_MS, BURST_MS);
    const headers = fromIp("198.51.100.2");
    await hits(app, LIMIT, headers);
    expect((await api(app).get("/heath", { headers })).status).toBe(429);
    await nextWindow(WINDOW_MS);
    expect(await hits(app, LIMIT, headers)).toEqual(Array(LIMIT).fill(200));
    expect((await api(app).get("/heath", { headers })).status).toBe(429);
  });

  it("counts each address on its own", async () => {
    await windowWithRoom(WINDOW_MS, BURST_MS);
    await hits(app, LIMIT + 1, fromIp("198.51.100.3"));
    expect((await api(app).get("/heath", { headers: fromIp("198.51.100.4") })).status).toBe(200);
    expect((await api(app).get("/heath", { headers: fromIp("2001:db8::3") })).status).toBe(200);
  });

  it("never counts /health, /healthz, /readyz, /metrics nor CORS preflights, and still answers them", async () => {
    await windowWithRoom(WINDOW_MS, BURST_MS);
    const headers = fromIp("198.51.100.5");
    for (const path of ["/health", "/healthz", "/readyz", "/metrics"]) {
      expect(await hits(app, LIMIT + 1, headers, path)).toEqual(Array(LIMIT + 1).fill(200));
    }
    const preflight = { ...headers, Origin: ORIGIN, "Access-Control-Request-Method": "POST" };
    for (let i = 0; i < LIMIT + 1; i++) {
      expect((await api(app).options("/workspaces", { headers: preflight })).status).toBe(200);
    }
    // None of that was counted: the whole budget is left, and then it runs out.
    expect(await hits(app, LIMIT, headers)).toEqual(Array(LIMIT).fill(200));
    expect((await api(app).get("/heath", { headers })).status).toBe(429);
    // Exempt paths and preflights still answer to an address past its limit.
    expect((await api(app).get("/health", { headers })).status).toBe(200);
    expect((await api(app).get("/readyz", { headers })).status).toBe(200);
    expect((await api(app).get("/metrics", { headers })).status).toBe(200);
    expect((await api(app).options("/workspaces", { headers: preflight })).status).toBe(200);
  });
});

describe("per user", () => {
  it("counts an authenticated caller per user: two users behind one address do not share a budget", async () => {
    const alice = await registerFrom(app, "198.51.100.20");
    const bob = await registerFrom(app, "198.51.100.21");
    await windowWithRoom(WINDOW_MS, BURST_MS);
    const shared = fromIp("198.51.100.22");
    const me = (token?: string) => api(app, { token }).get("/auth/me", { headers: shared });
    for (let i = 0; i < LIMIT; i++) expect((await me(alice.accessToken)).status).toBe(200);
    expectLimited(await me(alice.accessToken), LIMIT, WINDOW_MS);
    // Bob, and anonymous callers, at the same address still have their budgets.
    expect((await me(bob.accessToken)).status).toBe(200);
    expect((await me()).status).toBe(401);
    // Alice's budget follows her to another address.
    expect(
      (await api(app, { token: alice.accessToken }).get("/auth/me", { headers: fromIp("198.51.100.23") }))
        .status,
    ).toBe(429);
  });

  it("counts a token that does not verify against the address", async () => {
    await windowWithRoom(WINDOW_MS, BURST_MS);
    const headers = fromIp("198.51.100.30");
    const forged = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
    for (let i = 0; i < LIMIT; i++) {
      expect((await api(app, { token: forged }).get("/auth/me", { headers })).status).toBe(401);
    }
    expect((await api(app).get("/heath", { headers })).status).toBe(429);
  });
});

describe("client address from proxy headers", () => {
  it("ignores X-Forwarded-For unless CLIENT_IP_SOURCE names it", async () => {
    await windowWithRoom(WINDOW_MS, BURST_MS);
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 1; i++) {
      const headers = fromIp("198.51.100.40", { "X-Forwarded-For": `203.0.113.${i + 1}` });
      statuses.push((await api(app).get("/heath", { headers })).status);
    }
    expect(statuses).toEqual([...Array(LIMIT).fill(200), 429]);
  });

  it("with TRUST_PROXY_HEADERS (now CLIENT_IP_SOURCE=x-forwarded-for), keys on the right-most entry only", async () => {
    await windowWithRoom(WINDOW_MS, BURST_MS);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      // A client writes what it likes on the left, and any CF-Connecting-IP; our proxy appends the
      // address it saw.
      const headers = fromIp(`198.51.100.${50 + i}`, { "X-Forwarded-For": `10.9.9.${i}, 203.0.113.50` });
      statuses.push((await api(trusting).get("/heath", { headers })).status);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    const other = { "X-Forwarded-For": "10.9.9.0, 203.0.113.51" };
    expect((await api(trusting).get("/heath", { headers: other })).status).toBe(200);
    // X-Real-IP and CF-Connecting-IP are not read: they name nobody.
    expect((await api(trusting).get("/heath", { headers: { "X-Real-IP": "203.0.113.50" } })).status).toBe(
      200,
    );
    expect((await api(trusting).get("/heath", { headers: fromIp("203.0.113.50") })).status).toBe(200);
  });
});

describe("RATE_LIMITS_ENABLED=false", () => {
  it("switches every limit off", async () => {
    const off = await startApp({
      database: app.database,
      env: {
        RATE_LIMITS_ENABLED: "false",
        RATE_LIMIT_HTTP_PER_MINUTE: "1",
        RATE_LIMIT_LOGIN_PER_MINUTE: "1",
        RATE_LIMIT_LOGIN_PER_MINUTE_PER_USER: "1",
      },
    });
    try {
      const headers = fromIp("198.51.100.60");
      expect(await hits(off, 5, headers)).toEqual(Array(5).fill(200));
      const logins = [];
      for (let i = 0; i < 3; i++) {
        logins.push(
          (await api(off).post("/auth/login", { headers, form: { username: "a@b.c", password: "x" } }))
            .status,
        );
      }
      expect(logins).toEqual([401, 401, 401]);
    } finally {
      await off.close();
    }
  });
});

/**
 * Rate-limit identity (issue 13.7) through the real Worker and store: failed logins counted per
 * account across addresses (credential stuffing from many addresses is slowed), the owner's own
 * addresses exempt from their account's lockout, unknown accounts counted alike; and without a
 * known address (CLIENT_IP_SOURCE=none) no shared bucket: one caller's failures lock out nobody
 * else, and the per-account limit still holds. Addresses come from CLIENT_IP_SOURCE=x-real-ip
 * here, as a proxy would set them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { api } from "../support/http";
import { uniqueEmail } from "../support/users";
import { expectCors, expectLimited, ORIGIN, windowWithRoom } from "./support";

const WINDOW_MS = 10_000;
const BURST_MS = 6_000;
const FAILURES = 3;

let app: TestApp;
let anonymous: TestApp;

const limits = {
  RATE_LIMIT_WINDOW_OVERRIDE_MS: String(WINDOW_MS),
  RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT_PER_15_MINUTES: String(FAILURES),
};

beforeAll(async () => {
  [app, anonymous] = await Promise.all([
    startApp({ env: { ...limits, CLIENT_IP_SOURCE: "x-real-ip" } }),
    // The per-address login rules low: before this fix every anonymous caller shared one key.
    startApp({
      env: {
        ...limits,
        CLIENT_IP_SOURCE: "none",
        RATE_LIMIT_LOGIN_PER_MINUTE: "3",
        RATE_LIMIT_LOGIN_PER_MINUTE_PER_USER: "2",
        RATE_LIMIT_HTTP_PER_MINUTE: "5",
      },
    }),
  ]);
});
afterAll(async () => {
  await Promise.all([app?.close(), anonymous?.close()]);
});

const PASSWORD = "correct horse battery";

async function register(target: TestApp, address = "192.0.2.200") {
  const email = uniqueEmail("acct");
  const res = await api(target).post("/auth/register", {
    json: { email, password: PASSWORD, display_name: "Account" },
    headers: { "X-Real-IP": address },
  });
  expect(res.status, res.text).toBe(200);
  return email;
}

const login = (target: TestApp, email: string, password: string, address?: string) =>
  api(target).post("/auth/login", {
    form: { username: email, password },
    headers: { Origin: ORIGIN, ...(address ? { "X-Real-IP": address } : {}) },
  });

describe("failed logins per account, across addresses", () => {
  it("refuses an account after its failures from many addresses, before checking the password", async () => {
    const email = await register(app);
    await windowWithRoom(WINDOW_MS, BURST_MS);
    for (let i = 0; i < FAILURES; i++) {
      expect((await login(app, email, "wrong password", `203.0.113.${10 + i}`)).status).toBe(401);
    }
    // A fresh address, even with the right password (and the e-mail spelled differently).
    const limited = await login(app, ` ${email.toUpperCase()} `, PASSWORD, "203.0.113.99");
    expectLimited(limited, FAILURES, WINDOW_MS);
    expectCors(limited);
    // Another account from the very addresses that failed is not affected.
    const other = await register(app);
    expect((await login(app, other, PASSWORD, "203.0.113.10")).status).toBe(200);
  });

  it("still lets in the owner from an address that logged in to the account before", async () => {
    const email = await register(app);
    await windowWithRoom(WINDOW_MS, BURST_MS);
    expect((await login(app, email, PASSWORD, "198.51.100.7")).status).toBe(200);
    for (let i = 0; i < FAILURES + 2; i++) await login(app, email, "guess", `203.0.113.${40 + i}`);
    expect((await login(app, email, PASSWORD, "198.51.100.7")).status).toBe(200);
    // The known address is exempt from the account's lockout only, and only with the right password.
    expect((await login(app, email, "guess", "198.51.100.7")).status).toBe(401);
    expect((await login(app, email, PASSWORD, "198.51.100.8")).status).toBe(429);
  });

  it("counts successes not at all, and unknown accounts like registered ones", async () => {
    const email = await register(app);
    await windowWithRoom(WINDOW_MS, BURST_MS);
    for (let i = 0; i < FAILURES + 2; i++) {
      expect((await login(app, email, PASSWORD, `192.0.2.${60 + i}`)).status).toBe(200);
    }
    const nobody = uniqueEmail("nobody");
    for (let i = 0; i < FAILURES; i++) {
      expect((await login(app, nobody, "guess", `192.0.2.${70 + i}`)).status).toBe(401);
    }
    expect((await login(app, nobody, "guess", "192.0.2.80")).status).toBe(429);
  });

  it("lifts the lock when the window ends", async () => {
    const email = await register(app);
    await windowWithRoom(WINDOW_MS, BURST_MS);
    for (let i = 0; i < FAILURES; i++) await login(app, email, "wrong", `203.0.113.${120 + i}`);
    expect((await login(app, email, PASSWORD, "203.0.113.130")).status).toBe(429);
    await new Promise((r) => setTimeout(r, WINDOW_MS - (Date.now() % WINDOW_MS) + 50));
    expect((await login(app, email, PASSWORD, "203.0.113.130")).status).toBe(200);
  });
});

describe("without a known client address (CLIENT_IP_SOURCE=none)", () => {
  it("puts nobody in a shared bucket: one caller's failures do not lock out the others", async () => {
    const [victim, bystander] = [await register(anonymous), await register(anonymous)];
    await windowWithRoom(WINDOW_MS, BURST_MS);
    for (let i = 0; i < 10; i++) {
      const res = await login(anonymous, uniqueEmail("stuffing"), "guess");
      expect(res.status).toBe(401);
    }
    expect((await login(anonymous, bystander, PASSWORD)).status).toBe(200);
    // The per-account limit carries the protection: the attacked account is locked for everyone.
    for (let i = 0; i < FAILURES; i++) expect((await login(anonymous, victim, "guess")).status).toBe(401);
    expect((await login(anonymous, victim, PASSWORD)).status).toBe(429);
    expect((await login(anonymous, bystander, PASSWORD)).status).toBe(200);
  });

  it("does not count anonymous requests against one shared global budget, and says why once", async () => {
    await windowWithRoom(WINDOW_MS, BURST_MS);
    for (let i = 0; i < 8; i++) expect((await api(anonymous).get("/heath")).status).toBe(200);
    const warnings = anonymous.logs.filter((line) => line.includes("no client address (CLIENT_IP_SOURCE)"));
    expect(warnings).toHaveLength(1);
  });
});

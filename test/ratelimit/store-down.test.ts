/**
 * The limiter when the store cannot be reached (docs/original-defects.md#d15-store-expiry-and-outages): it
 * fails open by default and says so in a warning, it answers 503 "Rate limiter unavailable" with
 * RATE_LIMIT_FAIL_OPEN=false (with CORS headers; exempt paths still answer), and a store that accepts
 * connections but never answers costs a short timeout rather than a hung request.
 */
import { createServer, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { api } from "../support/http";
import { freePort } from "../support/store";
import { connectSocket } from "../support/ws";
import { fromIp, ORIGIN } from "./support";

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** Settings pointing the store at `url`, with every limit at 1 so that any counting would show. */
const brokenStore = (url: string, extra: Record<string, string> = {}) => ({
  UPSTASH_REDIS_REST_URL: url,
  UPSTASH_REDIS_REST_TOKEN: "no-store-here",
  STORE_TIMEOUT_MS: "500",
  RATE_LIMIT_TIMEOUT_MS: "300",
  RATE_LIMIT_HTTP_PER_MINUTE: "1",
  RATE_LIMIT_WS_CONNECT_PER_MINUTE: "1",
  RATE_LIMIT_LOGIN_PER_MINUTE: "1",
  RATE_LIMIT_LOGIN_PER_MINUTE_PER_USER: "1",
  ...extra,
});

async function start(env: Record<string, string>): Promise<TestApp> {
  const app = await startApp({ env });
  cleanups.push(() => app.close());
  return app;
}

const socketStatus = (app: TestApp, headers: Record<string, string>) =>
  connectSocket(`${app.url.replace(/^http/, "ws")}/ws/notifications`, { headers }).then(
    async (socket) => {
      await socket.close();
      return 101;
    },
    (error: { status?: number }) => error.status ?? 0,
  );

const warnings = (app: TestApp, msg: string) =>
  app.logs.map((line) => JSON.parse(line)).filter((entry) => entry.level === "warn" && entry.msg === msg);

describe("store unreachable (connection refused)", () => {
  let failOpen: TestApp;
  let failClosed: TestApp;

  beforeAll(async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    [failOpen, failClosed] = await Promise.all([
      start(brokenStore(url)),
      start(brokenStore(url, { RATE_LIMIT_FAIL_OPEN: "false" })),
    ]);
  });

  it("fails open by default: nothing is limited, and a warning is logged", async () => {
    const headers = fromIp("203.0.113.1");
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await api(failOpen).get("/heath", { headers })).status);
    expect(statuses).toEqual([200, 200, 200, 200]);
    // Route rules too: the login limit of 1 is not applied (the wrong password is what answers).
    for (let i = 0; i < 2; i++) {
      const res = await api(failOpen).post("/auth/login", {
        headers,
        form: { username: "a@b.c", password: "x" },
      });
      expect(res.status).toBe(401);
    }
    // The handshake is not refused for its rate either: it reaches the token check (403).
    expect(await socketStatus(failOpen, headers)).toBe(403);
    expect(await socketStatus(failOpen, headers)).toBe(403);
    await expect
      .poll(() => warnings(failOpen, "rate limiter unavailable: failing open").length)
      .toBeGreaterThan(0);
    const warning = warnings(failOpen, "rate limiter unavailable: failing open")[0];
    expect(warning).toMatchObject({ rule: expect.any(String), error: expect.any(String) });
    const metrics = await api(failOpen).get("/metrics");
    expect(metrics.text).toMatch(
      /^rate_limiter_unavailable_total\{rule="http",action="allowed"\} [1-9]\d*$/m,
    );
  });

  it("with RATE_LIMIT_FAIL_OPEN=false answers 503 with CORS headers, while exempt paths still answer", async () => {
    const headers = fromIp("203.0.113.2", { Origin: ORIGIN });
    const refused = await api(failClosed).get("/heath", { headers });
    expect(refused.status).toBe(503);
    expect(refused.body).toEqual({ detail: "Rate limiter unavailable" });
    expect(refused.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    expect((await api(failClosed).get("/health", { headers })).status).toBe(200);
    expect((await api(failClosed).get("/metrics", { headers })).status).toBe(200);
    expect(
      (
        await api(failClosed).options("/auth/login", {
          headers: { ...headers, "Access-Control-Request-Method": "POST" },
        })
      ).status,
    ).toBe(200);
    // The handshake is refused before the upgrade.
    expect(await socketStatus(failClosed, fromIp("203.0.113.2"))).toBe(503);
    await expect
      .poll(() => warnings(failClosed, "rate limiter unavailable: refusing").length)
      .toBeGreaterThan(0);
  });
});

describe("store that never answers", () => {
  it("gives up after RATE_LIMIT_TIMEOUT_MS and fails open instead of hanging", async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          silent.close(() => resolve());
        }),
    );
    const { port } = silent.address() as { port: number };
    const app = await start(brokenStore(`http://127.0.0.1:${port}`, { RATE_LIMIT_TIMEOUT_MS: "200" }));
    const headers = fromIp("203.0.113.3", { Origin: ORIGIN });
    const first = await api(app).get("/heath", { headers });
    expect(first.status).toBe(200);
    expect((await api(app).get("/heath", { headers })).status).toBe(200);
    expect(first.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    await expect
      .poll(() => warnings(app, "rate limiter unavailable: failing open").length)
      .toBeGreaterThan(0);
  });
});

/**
 * Liveness and readiness through the real Worker.
 */

import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { api } from "../support/http";

let app: TestApp;

beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => {
  await app?.close();
});

/** A port nothing listens on: bind one, note it, release it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("liveness", () => {
  it.each(["/health", "/healthz", "/heath"])("%s answers {status: ok}", async (path) => {
    const res = await api(app).get(path);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "ok" });
  });
});

describe("readiness", () => {
  it("checks the database and the store", async () => {
    const res = await api(app).get("/readyz");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "ok", db: "ok", redis: "ok" });
  });

  it("answers 503 naming the database when it cannot be reached, without hanging", async () => {
    const port = await closedPort();
    const broken = await startApp({
      database: app.database,
      env: { DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/none`, DB_CONNECT_TIMEOUT_SECONDS: "2" },
    });
    try {
      const res = await api(broken).get("/readyz");
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ detail: "Service Unavailable", redis: "ok" });
      expect(res.body.db).toMatch(/^error: /);
      // Liveness does not depend on the database.
      expect((await api(broken).get("/health")).status).toBe(200);
    } finally {
      await broken.close();
    }
  });

  it("answers 503 naming the store when it cannot be reached", async () => {
    const port = await closedPort();
    const broken = await startApp({
      database: app.database,
      env: {
        UPSTASH_REDIS_REST_URL: `http://127.0.0.1:${port}`,
        UPSTASH_REDIS_REST_TOKEN: "x",
        STORE_TIMEOUT_MS: "500",
      },
    });
    try {
      const res = await api(broken).get("/readyz");
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ detail: "Service Unavailable", db: "ok" });
      expect(res.body.redis).toMatch(/^error: /);
    } finally {
      await broken.close();
    }
  });

  it("falls back to the in-memory store when none is configured, and says so in the log", async () => {
    const memory = await startApp({ database: app.database, memoryStore: true, env: { ENV: "development" } });
    try {
      const res = await api(memory).get("/readyz");
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: "ok", db: "ok", redis: "ok" });
      await expect.poll(() => memory.logs.some((l) => l.includes("in-memory store"))).toBe(true);
    } finally {
      await memory.close();
    }
  });
});

describe("configuration errors", () => {
  it("answers 503 naming a missing secret, from /readyz and from every other route, and logs it", async () => {
    const broken = await startApp({ database: app.database, env: { JWT_SECRET: undefined } });
    try {
      const ready = await api(broken).get("/readyz");
      expect(ready.status).toBe(503);
      expect(ready.body.config).toContain("JWT_SECRET is required");
      const other = await api(broken).get("/no/such/route");
      expect(other.status).toBe(503);
      expect(other.body.detail).toContain("JWT_SECRET is required");
      // The process keeps serving probes: a misconfiguration is not a crash loop.
      expect((await api(broken).get("/health")).status).toBe(200);
      await expect.poll(() => broken.logs.some((l) => l.includes("invalid configuration"))).toBe(true);
      expect(broken.logs.filter((l) => l.includes("invalid configuration"))).toHaveLength(1);
    } finally {
      await broken.close();
    }
  });

  it("refuses a short JWT secret outside development", async () => {
    const broken = await startApp({ database: app.database, env: { JWT_SECRET: "short" } });
    try {
      const ready = await api(broken).get("/readyz");
      expect(ready.status).toBe(503);
      expect(ready.body.config).toContain("JWT_SECRET must be at least 32 bytes");
    } finally {
      await broken.close();
    }
  });
});

/**
 * The client address under standalone workerd reached directly (issue 13.7: "a client-sent
 * CF-Connecting-IP is trusted even when not behind Cloudflare"): the real bundle served by
 * deploy/workerd.capnp, unchanged, with CLIENT_IP_SOURCE unset (auto). The address is the
 * connection's peer, which workerd gives the Worker; a CF-Connecting-IP the client writes changes
 * neither its rate-limit key nor the address recorded on its session.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ManagedProcess, waitFor } from "../selfhost/processes";
import { TEST_JWT_SECRET } from "../support/app";
import { buildBundle, repositoryRoot } from "../support/bundle";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { api } from "../support/http";
import { uniqueKeyPrefix } from "../support/store";
import { uniqueEmail } from "../support/users";

const LOGIN = 3;
const WINDOW_MS = 10_000;

/** Waits for the next window of the login rule (windows are aligned to the clock). */
const nextWindow = () => new Promise((r) => setTimeout(r, WINDOW_MS - (Date.now() % WINDOW_MS) + 50));

let database: TestDatabase;
let workerd: ManagedProcess;
let tmp: string;
let target: { fetch(path: string, init?: RequestInit): Promise<Response> };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  database = await createTestDatabase();
  const store = inject("store");
  // Laid out as deploy/Dockerfile lays it out: the config in deploy/, the deployed bundle (with the
  // modules beside it) in dist/.
  tmp = mkdtempSync(join(tmpdir(), "braumchat-standalone-"));
  mkdirSync(join(tmp, "deploy"));
  mkdirSync(join(tmp, "durable-objects"));
  copyFileSync(join(repositoryRoot, "deploy/workerd.capnp"), join(tmp, "deploy/workerd.capnp"));
  buildBundle(join(tmp, "dist"));
  const port = await freePort();
  const binary = (createRequire(import.meta.url)("workerd") as { default: string }).default;
  workerd = new ManagedProcess(
    "workerd",
    binary,
    [
      "serve",
      join(tmp, "deploy/workerd.capnp"),
      `--socket-addr=http=127.0.0.1:${port}`,
      `--directory-path=durable-objects=${join(tmp, "durable-objects")}`,
    ],
    {
      env: {
        PATH: process.env.PATH ?? "",
        ENV: "test",
        DATABASE_URL: database.url,
        JWT_SECRET: TEST_JWT_SECRET,
        STORE_KEY_PREFIX: uniqueKeyPrefix("standalone"),
        ...(store ? { UPSTASH_REDIS_REST_URL: store.restUrl, UPSTASH_REDIS_REST_TOKEN: store.token } : {}),
        RATE_LIMIT_LOGIN_PER_MINUTE: String(LOGIN),
        RATE_LIMIT_WINDOW_OVERRIDE_MS: String(WINDOW_MS),
      },
    },
  );
  const base = `http://127.0.0.1:${port}`;
  target = { fetch: (path, init) => fetch(`${base}${path}`, init) };
  await waitFor(
    "workerd's /readyz",
    async () => ((await target.fetch("/readyz")).status === 200 ? true : undefined),
    {
      process: workerd,
    },
  );
});
afterAll(async () => {
  await workerd?.stop();
  await database?.drop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("standalone workerd, reached directly", () => {
  it("keys a caller on its connection, whatever CF-Connecting-IP it writes", async () => {
    await nextWindow();
    const statuses: number[] = [];
    for (let i = 0; i < LOGIN + 1; i++) {
      const res = await api(target).post("/auth/login", {
        form: { username: uniqueEmail("forger"), password: "guess" },
        headers: { "CF-Connecting-IP": `198.51.100.${i + 1}`, "X-Forwarded-For": `203.0.113.${i + 1}` },
      });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([...Array(LOGIN).fill(401), 429]);
  });

  it("records the connection's address on the session, not the forged one", async () => {
    const email = uniqueEmail("peer");
    const password = "correct horse battery";
    const registered = await api(target).post("/auth/register", {
      json: { email, password, display_name: "Peer" },
    });
    expect(registered.status, registered.text).toBe(200);
    // A new window for the login rule (the previous test used it up).
    await nextWindow();
    const login = await api(target).post("/auth/login", {
      form: { username: email, password },
      headers: { "CF-Connecting-IP": "198.51.100.77" },
    });
    expect(login.status, login.text).toBe(200);
    const sessions = await api(target, { token: login.body.access_token }).get("/auth/sessions");
    expect(sessions.body.map((s: { ip_address: string }) => s.ip_address)).toEqual(["127.0.0.1"]);
  });
});

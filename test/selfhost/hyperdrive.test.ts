/**
 * The Cloudflare deploy's optional Hyperdrive binding (wrangler.toml, `[[hyperdrive]]`): with a
 * binding named HYPERDRIVE and no DATABASE_URL, the Worker (the real bundle in workerd, with
 * Miniflare's local Hyperdrive) reaches PostgreSQL through the binding's connection string, from
 * the stateless Worker and from a Durable Object alike.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { TEST_JWT_SECRET } from "../support/app";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { uniqueKeyPrefix } from "../support/store";
import { type RunningWorker, startWorker } from "../support/worker";

let database: TestDatabase;
let worker: RunningWorker;

beforeAll(async () => {
  database = await createTestDatabase();
  const store = inject("store");
  // Miniflare's Hyperdrive wants a password in the URL; a server that trusts local connections
  // (the default test setup) ignores it.
  const url = new URL(database.url);
  if (!url.password) url.password = "unused";
  worker = await startWorker(
    {
      bundlePath: inject("bundlePath"),
      workerOptions: { ...inject("workerOptions"), hyperdrives: { HYPERDRIVE: url.toString() } },
    },
    {
      ENV: "test",
      JWT_SECRET: TEST_JWT_SECRET,
      STORE_KEY_PREFIX: uniqueKeyPrefix("hyperdrive"),
      ...(store ? { UPSTASH_REDIS_REST_URL: store.restUrl, UPSTASH_REDIS_REST_TOKEN: store.token } : {}),
    },
  );
});

afterAll(async () => {
  await worker?.dispose();
  await database?.drop();
});

async function call(method: string, path: string, body?: unknown, token?: string) {
  const res = await fetch(`${worker.url}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    text,
    body: text.startsWith("{") || text.startsWith("[") ? JSON.parse(text) : text,
  };
}

describe("a Hyperdrive binding instead of DATABASE_URL", () => {
  it("is ready: the database answers through the binding", async () => {
    const res = await call("GET", "/readyz");
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ db: "ok" });
  });

  it("serves the API and a channel's Durable Object from the database behind it", async () => {
    const email = `hyperdrive-${Date.now()}@example.com`;
    const password = "correct horse battery";
    const registered = await call("POST", "/auth/register", { email, password, display_name: "Hyper Drive" });
    expect(registered.status, registered.text).toBe(200);
    const login = await fetch(`${worker.url}/auth/login`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "password", username: email, password }).toString(),
    });
    expect(login.status).toBe(200);
    const token = ((await login.json()) as { access_token: string }).access_token;
    const workspace = await call("POST", "/workspaces", { name: "Through Hyperdrive" }, token);
    expect(workspace.status, workspace.text).toBe(200);
    const channel = await call(
      "POST",
      `/workspaces/${workspace.body.id}/channels`,
      { name: "general" },
      token,
    );
    expect(channel.status, channel.text).toBe(200);
    // Posting goes through the channel's Durable Object, which opens its own connection.
    const posted = await call("POST", `/channels/${channel.body.id}/messages`, { content: "hello" }, token);
    expect(posted.status, posted.text).toBe(200);
    const listed = await call("GET", `/channels/${channel.body.id}/messages`, undefined, token);
    expect(listed.body.map((m: { content: string }) => m.content)).toEqual(["hello"]);
  });
});

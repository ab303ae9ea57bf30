/**
 * The Worker's structured logs, read from its real output (workerd's stdout and stderr, collected
 * by the test rig): one JSON line per request with request id, method, route template, status,
 * duration and user id; errors with their stack; and no password or token anywhere, including
 * tokens sent in query strings and Authorization headers.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { api } from "../support/http";
import { connectSocket } from "../support/ws";

const PASSWORD = "Sup3r-Secret-Passw0rd-7781";

let app: TestApp;
let user: { id: number; accessToken: string; refreshToken: string };

beforeAll(async () => {
  app = await startApp();
  const email = `logs-${process.pid}-${Date.now().toString(36)}@example.com`;
  const reg = await api(app).post("/auth/register", {
    json: { email, password: PASSWORD, display_name: "Logged" },
  });
  expect(reg.status, reg.text).toBe(200);
  const login = await api(app).post("/auth/login", { form: { username: email, password: PASSWORD } });
  expect(login.status, login.text).toBe(200);
  user = { id: reg.body.id, accessToken: login.body.access_token, refreshToken: login.body.refresh_token };
});
afterAll(async () => {
  await app?.close();
});

type Line = Record<string, unknown>;

const lines = (): Line[] =>
  app.logs.map((text) => {
    try {
      return JSON.parse(text) as Line;
    } catch {
      throw new Error(`a log line is not JSON: ${text}`);
    }
  });

async function lineFor(requestId: string, msg = "request"): Promise<Line> {
  await expect.poll(() => lines().some((l) => l.request_id === requestId && l.msg === msg)).toBe(true);
  return lines().find((l) => l.request_id === requestId && l.msg === msg) as Line;
}

describe("the request line", () => {
  it("names the request id, method, route template, status, duration and user", async () => {
    const res = await api(app, { token: user.accessToken }).get("/auth/me", {
      headers: { "X-Request-Id": "logs-me-1" },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-request-id")).toBe("logs-me-1");
    const line = await lineFor("logs-me-1");
    expect(line).toMatchObject({
      level: "info",
      method: "GET",
      route: "/auth/me",
      path: "/auth/me",
      status: 200,
      user_id: user.id,
    });
    expect(line.duration_ms).toBeTypeOf("number");
    expect(Date.parse(String(line.time))).not.toBeNaN();
  });

  it("writes the route as a template, and no user id for an anonymous caller", async () => {
    await api(app).get("/channels/4242/messages?limit=5", { headers: { "X-Request-Id": "logs-anon-1" } });
    const line = await lineFor("logs-anon-1");
    expect(line).toMatchObject({
      route: "/channels/{channel_id}/messages",
      path: "/channels/4242/messages",
      query_keys: ["limit"],
      status: 401,
    });
    expect(line).not.toHaveProperty("user_id");
  });

  it("logs a socket handshake with its user, and its query string by names only", async () => {
    const url = `${app.url.replace(/^http/, "ws")}/ws/notifications?token=${user.accessToken}`;
    const socket = await connectSocket(url, { headers: { "X-Request-Id": "logs-ws-1" } });
    await socket.close();
    const line = await lineFor("logs-ws-1");
    expect(line).toMatchObject({ route: "/ws/notifications", status: 101, user_id: user.id });
    expect(line.path).toBe("/ws/notifications");
    expect(line.query_keys).toEqual(["token"]);
    // A refused one too.
    await connectSocket(`${app.url.replace(/^http/, "ws")}/ws/notifications?token=${user.refreshToken}&x=1`, {
      headers: { "X-Request-Id": "logs-ws-2" },
    }).catch(() => undefined);
    const refused = await lineFor("logs-ws-2");
    expect(refused).toMatchObject({ path: "/ws/notifications", query_keys: ["token", "x"], status: 403 });
  });

  it("logs each socket's open and close in the object that holds it, with the user and no token", async () => {
    const url = `${app.url.replace(/^http/, "ws")}/ws/notifications?token=${user.accessToken}`;
    const count = (msg: string) =>
      lines().filter((l) => l.msg === msg && l.endpoint === "notifications" && l.user_id === user.id).length;
    const [opened, closed] = [count("socket open"), count("socket close")];
    const socket = await connectSocket(url);
    await expect.poll(() => count("socket open")).toBe(opened + 1);
    await socket.close();
    await expect.poll(() => count("socket close"), { timeout: 10_000 }).toBe(closed + 1);
    const close = lines()
      .filter((l) => l.msg === "socket close" && l.user_id === user.id)
      .at(-1) as Line;
    expect(close).toMatchObject({ level: "info", endpoint: "notifications", code: 1000 });
    expect(app.logs.join("\n")).not.toContain(user.accessToken);
  });

  it("logs an unhandled error with its stack and route", async () => {
    await api(app, { token: user.accessToken }).get("/__test__/crash", {
      headers: { "X-Request-Id": "logs-crash-1" },
    });
    const line = await lineFor("logs-crash-1", "unhandled error");
    expect(line).toMatchObject({
      level: "error",
      route: "/__test__/crash",
      error: "deliberate crash for the error-layer test",
    });
    expect(String(line.stack)).toContain("deliberate crash");
  });
});

describe("query strings", () => {
  it("writes the names of query parameters but never their values, on REST and socket lines", async () => {
    const searched = "needle-7d1f0c";
    await api(app, { token: user.accessToken }).get(`/users/search?q=${searched}&limit=3&q=again`, {
      headers: { "X-Request-Id": "logs-query-1" },
    });
    expect(await lineFor("logs-query-1")).toMatchObject({
      route: "/users/search",
      path: "/users/search",
      query_keys: ["q", "limit"],
    });
    // A socket handshake with ?since= and the token in the URL: the request line, and the
    // object's open and close lines, carry neither value.
    const workspace = await api(app, { token: user.accessToken }).post("/workspaces", {
      json: { name: "Logged workspace" },
    });
    const channel = await api(app, { token: user.accessToken }).post(
      `/workspaces/${workspace.body.id}/channels`,
      { json: { name: "logged-channel" } },
    );
    expect(channel.status, channel.text).toBe(200);
    const since = 987654321;
    const socket = await connectSocket(
      `${app.url.replace(/^http/, "ws")}/ws/chat/${workspace.body.id}/${channel.body.id}?since=${since}&token=${user.accessToken}`,
      { headers: { "X-Request-Id": "logs-query-2" } },
    );
    await socket.close();
    expect(await lineFor("logs-query-2")).toMatchObject({
      path: `/ws/chat/${workspace.body.id}/${channel.body.id}`,
      query_keys: ["since", "token"],
      status: 101,
    });
    const socketLines = () => lines().filter((l) => l.msg === "socket open" || l.msg === "socket close");
    await expect
      .poll(() => socketLines().filter((l) => l.endpoint === "chat" && l.user_id === user.id).length, {
        timeout: 10_000,
      })
      .toBe(2);
    const output = app.logs.join("\n");
    for (const value of [searched, "again", String(since), "?since", "?token", "?q="]) {
      expect(output).not.toContain(value);
    }
  });
});

describe("secrets", () => {
  it("never writes a password, an access token or a refresh token", async () => {
    // Every place a credential travels: forms, JSON bodies, the Authorization header, query strings.
    await api(app).post("/auth/login", { form: { username: "nobody@example.com", password: PASSWORD } });
    await api(app).post("/auth/refresh", { json: { refresh_token: user.refreshToken } });
    await api(app, { token: user.accessToken }).post("/auth/password", {
      json: { current_password: "wrong", new_password: PASSWORD },
    });
    await api(app).get(`/users/search?q=x&token=${user.accessToken}`, {
      headers: { Authorization: `Bearer ${user.accessToken}`, "X-Request-Id": "logs-secret-1" },
    });
    expect((await lineFor("logs-secret-1")).path).toBe("/users/search");
    const output = app.logs.join("\n");
    expect(output.length).toBeGreaterThan(0);
    for (const secret of [
      PASSWORD,
      user.accessToken,
      user.refreshToken,
      user.accessToken.split(".")[2] ?? "x",
    ]) {
      expect(output).not.toContain(secret);
    }
  });
});

/**
 * The route-level rules through the real Worker and store: login per address and per
 * address and user name, register, refresh, the socket-connect limit at the handshake, and the channel
 * post limit; each answered with 429, rate headers and CORS headers, each with its own key.
 */
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { type ApiResponse, api } from "../support/http";
import { connectSocket } from "../support/ws";
import {
  expectCors,
  expectLimited,
  fromIp,
  nextWindow,
  ORIGIN,
  registerFrom,
  windowWithRoom,
} from "./support";

const WINDOW_MS = 8000;
const BURST_MS = 5000;
const LOGIN = 4;
const LOGIN_PER_USER = 2;
const REGISTER = 2;
const REFRESH = 2;
const WS_CONNECT = 2;
const POSTS = 3;

let app: TestApp;

beforeAll(async () => {
  app = await startApp({
    env: {
      RATE_LIMIT_WINDOW_OVERRIDE_MS: String(WINDOW_MS),
      RATE_LIMIT_LOGIN_PER_MINUTE: String(LOGIN),
      RATE_LIMIT_LOGIN_PER_MINUTE_PER_USER: String(LOGIN_PER_USER),
      RATE_LIMIT_REGISTER_PER_HOUR: String(REGISTER),
      RATE_LIMIT_REFRESH_PER_MINUTE: String(REFRESH),
      RATE_LIMIT_WS_CONNECT_PER_MINUTE: String(WS_CONNECT),
      RATE_LIMIT_POST_MESSAGE_PER_10_SECONDS: String(POSTS),
    },
  });
});
afterAll(async () => {
  await app?.close();
});

/** A WebSocket handshake by hand, to read the headers and body of a refused one. */
function handshake(url: string, headers: Record<string, string>): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      headers: {
        ...headers,
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
      },
    });
    req.on("upgrade", (_res, socket) => {
      socket.destroy();
      reject(new Error("the handshake was accepted"));
    });
    req.on("response", (res) => {
      let text = "";
      res.on("data", (chunk) => {
        text += chunk;
      });
      res.on("end", () => {
        const responseHeaders = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          if (typeof value === "string") responseHeaders.set(name, value);
        }
        resolve({ status: res.statusCode ?? 0, headers: responseHeaders, text, body: JSON.parse(text) });
      });
    });
    req.on("error", reject);
    req.end();
  });
}

const login = (ip: string, username: string, password: string) =>
  api(app).post("/auth/login", { form: { username, password }, headers: fromIp(ip, { Origin: ORIGIN }) });

describe("login (per address, then per address and user name)", () => {
  it("counts failed attempts, limits one user name, then the address, and not other addresses", async () => {
    const alice = await registerFrom(app, "192.0.2.1");
    const bob = await registerFrom(app, "192.0.2.2");
    await windowWithRoom(WINDOW_MS, BURST_MS);
    const ip = "192.0.2.10";
    expect((await login(ip, alice.email, "wrong password")).status).toBe(401);
    expect((await login(ip, alice.email, "wrong password")).status).toBe(401);
    // The third try at the same name is refused even with the right password (and checks nothing).
    const limited = await login(ip, ` ${alice.email.toUpperCase()} `, alice.password);
    expectLimited(limited, LOGIN_PER_USER, WINDOW_MS);
    expectCors(limited);
    // Another name from the same address is still allowed, until the address's own limit.
    expect((await login(ip, bob.email, bob.password)).status).toBe(200);
    expectLimited(await login(ip, bob.email, bob.password), LOGIN, WINDOW_MS);
    // Another address has budgets of its own.
    expect((await login("192.0.2.11", alice.email, alice.password)).status).toBe(200);
  });

  it("does not count a form that fails validation (422), and resets in the next window", async () => {
    const carol = await registerFrom(app, "192.0.2.3");
    await windowWithRoom(WINDOW_MS, BURST_MS);
    const ip = "192.0.2.12";
    for (let i = 0; i < LOGIN + 1; i++) {
      const res = await api(app).post("/auth/login", {
        form: { username: carol.email },
        headers: fromIp(ip),
      });
      expect(res.status).toBe(422);
    }
    expect((await login(ip, carol.email, carol.password)).status).toBe(200);
    expect((await login(ip, carol.email, carol.password)).status).toBe(200);
    expect((await login(ip, carol.email, carol.password)).status).toBe(429);
    await nextWindow(WINDOW_MS);
    expect((await login(ip, carol.email, carol.password)).status).toBe(200);
  });
});

describe("register (per address)", () => {
  it("limits registrations per address; invalid bodies are not counted", async () => {
    await windowWithRoom(WINDOW_MS, BURST_MS);
    const ip = "192.0.2.20";
    const register = (email: string, password = "correct horse battery") =>
      api(app).post("/auth/register", {
        json: { email, password, display_name: "Someone" },
        headers: fromIp(ip, { Origin: ORIGIN }),
      });
    const unique = () => `reg-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}@example.com`;
    expect((await register("not an address")).status).toBe(422);
    expect((await register(unique(), "short")).status).toBe(422);
    expect((await register(unique())).status).toBe(200);
    expect((await register(unique())).status).toBe(200);
    const limited = await register(unique());
    expectLimited(limited, REGISTER, WINDOW_MS);
    expectCors(limited);
    expect(
      (
        await api(app).post("/auth/register", {
          json: { email: unique(), password: "correct horse battery", display_name: "Other" },
          headers: fromIp("192.0.2.21"),
        })
      ).status,
    ).toBe(200);
  });
});

describe("refresh (per user when the token verifies, per address otherwise)", () => {
  it("limits one user's refreshes wherever they come from", async () => {
    const dave = await registerFrom(app, "192.0.2.30");
    await windowWithRoom(WINDOW_MS, BURST_MS);
    const refresh = (token: string, ip: string) =>
      api(app).post("/auth/refresh", {
        json: { refresh_token: token },
        headers: fromIp(ip, { Origin: ORIGIN }),
      });
    const first = await refresh(dave.refreshToken, "192.0.2.31");
    expect(first.status).toBe(200);
    const second = await refresh(first.body.refresh_token, "192.0.2.32");
    expect(second.status).toBe(200);
    const limited = await refresh(second.body.refresh_token, "192.0.2.33");
    expectLimited(limited, REFRESH, WINDOW_MS);
    expectCors(limited);
    // Still valid: the refused call changed nothing. Next window it works.
    await nextWindow(WINDOW_MS);
    expect((await refresh(second.body.refresh_token, "192.0.2.33")).status).toBe(200);
  });

  it("counts tokens that do not verify against the address", async () => {
    await windowWithRoom(WINDOW_MS, BURST_MS);
    const refresh = (ip: string) =>
      api(app).post("/auth/refresh", { json: { refresh_token: "not.a.token" }, headers: fromIp(ip) });
    expect((await refresh("192.0.2.34")).status).toBe(401);
    expect((await refresh("192.0.2.34")).status).toBe(401);
    expect((await refresh("192.0.2.34")).status).toBe(429);
    expect((await refresh("192.0.2.35")).status).toBe(401);
  });
});

describe("socket connect (every /ws endpoint, before the upgrade)", () => {
  const wsUrl = (path: string) => `${app.url.replace(/^http/, "ws")}${path}`;
  const refusal = (path: string, headers: Record<string, string>) =>
    connectSocket(wsUrl(path), { headers }).then(
      async (socket) => {
        await socket.close();
        return 101;
      },
      (error: { status?: number }) => error.status ?? 0,
    );

  it("counts handshakes per address across endpoints, refusing with 429 before the token is checked", async () => {
    await windowWithRoom(WINDOW_MS, BURST_MS);
    const headers = fromIp("192.0.2.40");
    // A plain GET is not a handshake and is not counted.
    for (let i = 0; i < WS_CONNECT + 1; i++) {
      expect((await api(app).get("/ws/notifications", { headers })).status).toBe(426);
    }
    expect(await refusal("/ws/notifications", headers)).toBe(403);
    expect(await refusal("/ws/chat/1/1", headers)).toBe(403);
    expect(await refusal("/ws/notifications", headers)).toBe(429);
    expect(await refusal("/ws/chat/1/1?token=x", headers)).toBe(429);
    expect(await refusal("/ws/notifications", fromIp("192.0.2.41"))).toBe(403);
  });

  it("counts an authenticated user's handshakes per user, and answers 429 with rate headers", async () => {
    const erin = await registerFrom(app, "192.0.2.42");
    await windowWithRoom(WINDOW_MS, BURST_MS);
    const path = `/ws/notifications?token=${erin.accessToken}`;
    expect(await refusal(path, fromIp("192.0.2.43"))).toBe(101);
    expect(await refusal(path, fromIp("192.0.2.44"))).toBe(101);
    expect(await refusal(path, fromIp("192.0.2.45"))).toBe(429);
    // The same address without Erin's token is another budget.
    expect(await refusal("/ws/notifications", fromIp("192.0.2.45"))).toBe(403);
    const raw = await handshake(`${app.url}${path}`, fromIp("192.0.2.46"));
    expectLimited(raw, WS_CONNECT, WINDOW_MS);
  });
});

describe("channel post (per user and channel)", () => {
  it("answers the post past the limit with 429, rate headers and CORS headers", async () => {
    const owner = await registerFrom(app, "192.0.2.50");
    const as = api(app, { token: owner.accessToken });
    const workspace = await as.post("/workspaces", { json: { name: `Limits ${Date.now()}` } });
    expect(workspace.status, workspace.text).toBe(200);
    const channel = await as.post(`/workspaces/${workspace.body.id}/channels`, { json: { name: "posts" } });
    expect(channel.status, channel.text).toBe(200);
    const path = `/channels/${channel.body.id}/messages`;
    const headers = { Origin: ORIGIN };
    for (let i = 0; i < POSTS; i++) {
      expect((await as.post(path, { json: { content: `m${i}` }, headers })).status).toBe(200);
    }
    const limited = await as.post(path, { json: { content: "one more" }, headers });
    expectLimited(limited, POSTS, 10_000);
    expectCors(limited);
    // Another channel of the same user has its own budget.
    const other = await as.post(`/workspaces/${workspace.body.id}/channels`, { json: { name: "others" } });
    expect((await as.post(`/channels/${other.body.id}/messages`, { json: { content: "x" } })).status).toBe(
      200,
    );
  });
});

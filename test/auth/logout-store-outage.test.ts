/**
 * A logout made while the store is down stays a logout once the store is back (issue 13 item 3).
 * The session check used to trust an "active" verdict cached in the store for five minutes; a
 * revocation that could not overwrite it was undone when the store returned. Revocations are now
 * written to PostgreSQL, which the check asks, and the store plays no part in it.
 *
 * The store is reached through a TCP relay in front of the real bridge, which the test cuts (every
 * connection refused) and restores.
 */
import { connect, createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { api } from "../support/http";
import { freePort } from "../support/store";
import { registerUser } from "../support/users";
import { connectSocket } from "../support/ws";

/** A relay to `target` that can refuse connections while "down". */
async function relay(target: URL) {
  const sockets = new Set<Socket>();
  let down = false;
  const server: Server = createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    cut() {
      down = true;
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
    restore() {
      down = false;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let app: TestApp;
let store: Awaited<ReturnType<typeof relay>>;

beforeAll(async () => {
  const shared = inject("store");
  if (!shared) throw new Error("this test needs the shared store (Redis behind the bridge)");
  store = await relay(new URL(shared.restUrl));
  app = await startApp({ env: { UPSTASH_REDIS_REST_URL: store.url, STORE_TIMEOUT_MS: "500" } });
}, 60_000);

afterAll(async () => {
  await app?.close();
  await store?.close();
});

describe("a logout while the store is down", () => {
  it("keeps the old access token refused once the store is back, on REST and sockets", async () => {
    const user = await registerUser(app, { displayName: "Leaver" });
    const me = () => api(app, { token: user.accessToken }).get("/auth/me");
    // The session is known to be active (the check has answered it, and cached what it could).
    expect((await me()).status).toBe(200);

    store.cut();
    const logout = await api(app, { token: user.accessToken }).post("/auth/logout");
    expect(logout.status).toBe(204);
    store.restore();

    expect((await me()).status).toBe(401);
    const write = await api(app, { token: user.accessToken }).post("/workspaces", {
      json: { name: "After logout" },
    });
    expect(write.status).toBe(401);
    const handshake = await connectSocket(
      `${app.url.replace(/^http/, "ws")}/ws/notifications?token=${user.accessToken}`,
    ).then(
      async (socket) => {
        await socket.close();
        return 101;
      },
      (error: { status?: number }) => error.status ?? 0,
    );
    expect(handshake).toBe(403);
  });
});

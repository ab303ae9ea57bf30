/**
 * The typed realtime client (src/realtime-client.ts) against the real server (issue 15, item 4),
 * in Node with the `ws` package's WebSocket, its connections through a proxy the test cuts:
 *
 *   - a burst of sends survives cut connections (one cut right after a message reached the server,
 *     so its echo is lost; one plain cut; messages of someone else posted while the client is
 *     away): every message stored once, in the order sent, each send resolved with its message,
 *     and every message of the channel emitted once, in id order;
 *   - "Token expired" makes it ask the app for a fresh token and go on;
 *   - refusals surface as typed errors: a rate limit (retried by itself, and stored in order),
 *     invalid content (the send rejects), lost access and a logout (it stops, and stays stopped);
 *   - the notification socket's events arrive typed, and a reconnect is reported so the app
 *     re-fetches.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import {
  type ConnectionState,
  connectConversation,
  connectNotifications,
  type RealtimeError,
} from "../../src/realtime-client";
import { startApp, type TestApp } from "../support/app";
import { api } from "../support/http";
import { accessTokenExpiringIn, login, registerUser, type TestUser } from "../support/users";
import { connectSocket, type SocketFrame } from "../support/ws";
import { type CuttableProxy, startCuttableProxy } from "./cuttable-proxy";

/** Short windows, so a rate-limited message goes through within the test (3 per 2 s). */
const WINDOW_MS = 2000;
const DM_LIMIT = 3;
const BURST = 60;

let app: TestApp;
let proxy: CuttableProxy;
let owner: TestUser;
let member: TestUser;
let workspaceId: number;

const as = (user: TestUser, token = user.accessToken) => api(app, { token });

async function ok<T = any>(promise: Promise<{ status: number; body: T; text: string }>, status = 200) {
  const res = await promise;
  expect(res.status, res.text).toBe(status);
  return res.body;
}

async function newChannel(): Promise<number> {
  const name = `c-${Math.random().toString(36).slice(2, 8)}`;
  return (await ok(as(owner).post(`/workspaces/${workspaceId}/channels`, { json: { name } }))).id;
}

/** Resolves when `done()` holds, polling; fails after `timeoutMs`. */
async function until(done: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The client's options the tests share: Node's `ws`, quick reconnects, no pings to get in the way. */
const base = (baseUrl = app.url) => ({
  baseUrl,
  WebSocket,
  reconnect: { initialDelayMs: 50, maxDelayMs: 400 },
  pingIntervalMs: 60_000,
});

function watchStates(client: { on(type: "state", listener: (state: ConnectionState) => void): unknown }) {
  const states: ConnectionState[] = [];
  client.on("state", (state) => states.push(state));
  return states;
}

beforeAll(async () => {
  app = await startApp({
    env: {
      RATE_LIMIT_WINDOW_OVERRIDE_MS: String(WINDOW_MS),
      RATE_LIMIT_POST_MESSAGE_PER_10_SECONDS: "10000",
      RATE_LIMIT_DM_MESSAGE_PER_10_SECONDS: String(DM_LIMIT),
    },
  });
  proxy = await startCuttableProxy(app.url);
  [owner, member] = await Promise.all([
    registerUser(app, { displayName: "Cleo" }),
    registerUser(app, { displayName: "Max" }),
  ]);
  workspaceId = (await ok(as(owner).post("/workspaces", { json: { name: "Client" } }))).id;
  const invite = await ok(
    as(owner).post(`/workspaces/${workspaceId}/invites`, {
      json: { invitee_display_name: member.displayName },
    }),
  );
  await ok(as(member).post(`/invites/${invite.id}/accept`));
});
afterAll(async () => {
  await proxy?.close();
  await app?.close();
});

describe("connectConversation", () => {
  it("loses and doubles nothing when the connection is cut during a burst", async () => {
    const channelId = await newChannel();
    const observer = await connectSocket(
      `${app.url.replace(/^http/, "ws")}/ws/chat/${workspaceId}/${channelId}?token=${member.accessToken}`,
    );
    // Every message frame the client's sockets received, duplicates included.
    const delivered: number[] = [];
    class CountingWebSocket extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        this.on("message", (data) => {
          const frame = JSON.parse(data.toString()) as SocketFrame;
          if (frame.type === "message") delivered.push((frame.payload as { id: number }).id);
        });
      }
    }
    const client = connectConversation({
      ...base(proxy.url),
      WebSocket: CountingWebSocket,
      token: () => owner.accessToken,
      conversation: { kind: "channel", workspaceId, channelId },
      since: 0,
    });
    const states = watchStates(client);
    const emitted: { id: number; content: string }[] = [];
    client.on("message", (message) => emitted.push(message));
    await until(() => states.some((s) => s.state === "open"), "the socket to open");
    const acceptedBefore = proxy.accepted;

    const contents = Array.from({ length: BURST }, (_, i) => `burst ${i}`);
    let resolved = 0;
    const sends = contents.map((content) =>
      client.send(content).then((message) => {
        resolved += 1;
        return message;
      }),
    );
    // Cut right after the next message reaches the server: stored, its echo lost.
    await until(() => resolved >= 10, "10 echoes");
    proxy.cutAfterNextFrame();
    // Cut again, and keep the client away while someone else posts.
    await until(() => resolved >= 30, "30 echoes");
    proxy.hold();
    proxy.cut();
    const others: number[] = [];
    for (let i = 0; i < 3; i++) {
      others.push(
        (await ok(as(member).post(`/channels/${channelId}/messages`, { json: { content: `other ${i}` } })))
          .id,
      );
    }
    proxy.release();
    const messages = await Promise.all(sends);

    // Stored once each, in the order sent, whatever the cuts.
    const stored = await app.sql<{ id: number; user_id: number; content: string }[]>`
      SELECT id, user_id, content FROM messages WHERE channel_id = ${channelId} ORDER BY id`;
    expect(stored.filter((row) => row.user_id === owner.id).map((row) => row.content)).toEqual(contents);
    expect(stored.filter((row) => row.user_id === member.id).map((row) => row.id)).toEqual(others);
    // Each send resolved with its own message.
    expect(messages.map((m) => m.content)).toEqual(contents);
    // The client emitted every message of the channel, its own and the others', once, in id order.
    await until(() => emitted.length >= stored.length, "every message emitted");
    expect(emitted.map((m) => m.id)).toEqual(stored.map((row) => row.id));
    // So did a plain subscriber that was never cut.
    await until(
      () => observer.pending().filter((f) => f.type === "message").length >= stored.length,
      "the observer",
    );
    const observed = observer.pending().filter((f: SocketFrame) => f.type === "message");
    expect(observed.map((f) => (f.payload as { id: number }).id)).toEqual(stored.map((row) => row.id));

    // The message the first cut stored without its echo came twice (the catch-up, and the answer to
    // its resend with the same client_id), and was emitted once.
    expect(delivered.length).toBeGreaterThan(new Set(delivered).size);
    expect(proxy.accepted - acceptedBefore).toBeGreaterThanOrEqual(2);
    expect(states.filter((s) => s.state === "open" && s.reconnected).length).toBeGreaterThanOrEqual(2);
    expect(client.pending).toBe(0);
    client.close();
    await observer.close();
  }, 60_000);

  it("asks the app for a fresh token when the server closes with Token expired", async () => {
    const channelId = await newChannel();
    const asked: boolean[] = [];
    const expiring = await accessTokenExpiringIn(owner, 3);
    const client = connectConversation({
      ...base(),
      token: ({ expired }) => {
        asked.push(expired);
        return expired ? owner.accessToken : expiring;
      },
      conversation: { kind: "channel", workspaceId, channelId },
      since: 0,
    });
    const states = watchStates(client);
    await until(
      () => states.some((s) => s.state === "reconnecting" && s.reason === "Token expired"),
      "the token to expire",
    );
    await until(() => states.filter((s) => s.state === "open").length === 2, "the socket to reopen");
    expect(asked).toEqual([false, true]);
    expect((await client.send("with a fresh token")).content).toBe("with a fresh token");
    client.close();
  }, 20_000);

  it("surfaces a rate limit as a typed refusal and sends the message when the limit allows", async () => {
    const thread = await ok(
      as(owner).post("/dm/threads", { json: { workspace_id: workspaceId, user_id: member.id } }),
    );
    const client = connectConversation({
      ...base(),
      token: () => owner.accessToken,
      conversation: { kind: "dm", threadId: thread.id },
      since: 0,
    });
    const refusals: RealtimeError[] = [];
    client.on("refused", (error) => refusals.push(error));
    const contents = Array.from({ length: DM_LIMIT + 2 }, (_, i) => `limited ${i}`);
    const messages = await Promise.all(contents.map((content) => client.send(content)));

    expect(messages.map((m) => m.content)).toEqual(contents);
    expect(messages.every((m) => m.thread_id === thread.id && m.sender_id === owner.id)).toBe(true);
    expect(refusals.length).toBeGreaterThan(0);
    for (const refusal of refusals) {
      expect(refusal).toMatchObject({ code: "rate_limited", detail: "Too many requests", willRetry: true });
      expect(refusal.extra.retryAfterMs).toBeGreaterThanOrEqual(1000);
      expect(contents.map((c, i) => messages[i]?.client_id ?? c)).toContain(refusal.extra.clientId);
    }
    const stored = await app.sql<{ content: string }[]>`
      SELECT content FROM direct_messages WHERE thread_id = ${thread.id} ORDER BY id`;
    expect(stored.map((row) => row.content)).toEqual(contents);
    client.close();
  }, 30_000);

  it("rejects a message the server can never store, and goes on with the next", async () => {
    const channelId = await newChannel();
    const client = connectConversation({
      ...base(),
      token: () => owner.accessToken,
      conversation: { kind: "channel", workspaceId, channelId },
    });
    const refused = client.send("   ");
    const next = client.send("fine");
    await expect(refused).rejects.toMatchObject({ code: "invalid_content", willRetry: false });
    expect((await next).content).toBe("fine");
    client.close();
    await expect(client.send("after close")).rejects.toMatchObject({ code: "closed" });
  });

  it("stops, and stays stopped, when the user loses the conversation", async () => {
    const leaver = await registerUser(app, { displayName: "Lea" });
    const invite = await ok(
      as(owner).post(`/workspaces/${workspaceId}/invites`, {
        json: { invitee_display_name: leaver.displayName },
      }),
    );
    await ok(as(leaver).post(`/invites/${invite.id}/accept`));
    const client = connectConversation({
      ...base(),
      token: () => leaver.accessToken,
      conversation: { kind: "channel", workspaceId, channelId: await newChannel() },
    });
    const states = watchStates(client);
    await until(() => states.some((s) => s.state === "open"), "the socket to open");
    await ok(as(owner).delete(`/workspaces/${workspaceId}/members/${leaver.id}`), 204);
    await until(() => states.some((s) => s.state === "stopped"), "the client to stop");
    const stopped = states.at(-1) as Extract<ConnectionState, { state: "stopped" }>;
    expect(stopped.error).toMatchObject({ code: "lost_access", detail: "Access revoked" });
    await expect(client.send("still there?")).rejects.toMatchObject({ code: "lost_access" });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(states.at(-1)).toBe(stopped); // no reconnect after
  });

  it("stops when the session is signed out", async () => {
    const session = await login(app, owner.email, owner.password);
    const client = connectConversation({
      ...base(),
      token: () => session.access_token,
      conversation: { kind: "channel", workspaceId, channelId: await newChannel() },
    });
    const states = watchStates(client);
    await until(() => states.some((s) => s.state === "open"), "the socket to open");
    await ok(
      as(owner, session.access_token).post("/auth/logout", {
        json: { refresh_token: session.refresh_token },
      }),
      204,
    );
    await until(() => states.some((s) => s.state === "stopped"), "the client to stop");
    expect((states.at(-1) as Extract<ConnectionState, { state: "stopped" }>).error.code).toBe("signed_out");
  });
});

describe("connectNotifications", () => {
  it("delivers typed events and reports a reconnect", async () => {
    const friend = await registerUser(app, { displayName: "Fay" });
    const client = connectNotifications({ ...base(proxy.url), token: () => member.accessToken });
    const states = watchStates(client);
    // Listeners first: an event is delivered before the request that raised it is answered.
    const requested: number[] = [];
    client.on("friend.requested", (payload) => requested.push(payload.id));
    await until(() => states.some((s) => s.state === "open"), "the socket to open");
    const request = await ok(
      as(friend).post("/friends/requests", { json: { addressee_display_name: member.displayName } }),
    );
    await until(() => requested.length === 1, "the friend request");
    expect(requested).toEqual([request.id]);

    proxy.cut();
    await until(() => states.some((s) => s.state === "open" && s.reconnected), "the reconnect");
    const cancelled: number[] = [];
    client.on("friend.cancelled", (payload) => cancelled.push(payload.id));
    await ok(as(friend).delete(`/friends/requests/${request.id}`), 204);
    await until(() => cancelled.length === 1, "the cancellation");
    client.close();
  });
});

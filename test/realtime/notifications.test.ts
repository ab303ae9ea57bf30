import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { api } from "../support/http";
import { closeFrame, deliver, feedUrl, refusal } from "../support/sockets";
import { accessTokenExpiringIn, jwtPayload, login, registerUser } from "../support/users";
import { connectSocket, rawHandshake, type TestSocket } from "../support/ws";

let app: TestApp;

beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => {
  await app?.close();
});

describe("handshake", () => {
  it("refuses a missing token with 403", async () => {
    expect(await refusal(feedUrl(app))).toBe(403);
    expect(await refusal(feedUrl(app, ""))).toBe(403);
  });

  it("refuses a malformed, forged or oversized token with 403", async () => {
    expect(await refusal(feedUrl(app, "not-a-jwt"))).toBe(403);
    const user = await registerUser(app);
    const [header, payload] = user.accessToken.split(".");
    expect(await refusal(feedUrl(app, `${header}.${payload}.forged-signature`))).toBe(403);
    expect(await refusal(feedUrl(app, "x".repeat(5000)))).toBe(403);
  });

  it("refuses a refresh token with 403", async () => {
    const user = await registerUser(app);
    expect(await refusal(feedUrl(app, user.refreshToken))).toBe(403);
  });

  it("refuses an expired access token with 403", async () => {
    const user = await registerUser(app);
    expect(await refusal(feedUrl(app, await accessTokenExpiringIn(user, -10)))).toBe(403);
  });

  it("refuses a token whose session was revoked with 403", async () => {
    const user = await registerUser(app);
    const logout = await api(app, { token: user.accessToken }).post("/auth/logout");
    expect(logout.status).toBe(204);
    expect(await refusal(feedUrl(app, user.accessToken))).toBe(403);
  });

  it("names the reason of each refusal in a JSON detail", async () => {
    const user = await registerUser(app);
    expect(await rawHandshake(app.url, "/ws/notifications")).toEqual({
      status: 403,
      body: { detail: "Not authenticated" },
    });
    expect(await rawHandshake(app.url, `/ws/notifications?token=${user.refreshToken}`)).toEqual({
      status: 403,
      body: { detail: "Invalid authentication" },
    });
    await api(app, { token: user.accessToken }).post("/auth/logout");
    expect(await rawHandshake(app.url, `/ws/notifications?token=${user.accessToken}`)).toEqual({
      status: 403,
      body: { detail: "Session revoked" },
    });
  });

  it("answers a plain GET with 426 and a detail", async () => {
    const user = await registerUser(app);
    const res = await api(app).get(`/ws/notifications?token=${user.accessToken}`);
    expect(res.status).toBe(426);
    expect(res.body).toEqual({ detail: "This endpoint only accepts WebSocket upgrades" });
  });

  it("accepts the token as the subprotocol list [bearer, token] and answers 'bearer'", async () => {
    const user = await registerUser(app);
    const socket = await connectSocket(feedUrl(app), { protocols: ["bearer", user.accessToken] });
    expect(socket.socket.protocol).toBe("bearer");
    expect(await deliver(app, user.id, { type: "probe" })).toBe(1);
    expect((await socket.next("probe")).payload).toEqual({});
    await socket.close();
  });

  it("refuses a subprotocol list without a usable token", async () => {
    const user = await registerUser(app);
    expect(await refusal(feedUrl(app), { protocols: ["bearer"] })).toBe(403);
    expect(await refusal(feedUrl(app), { protocols: ["bearer", "not-a-jwt"] })).toBe(403);
    expect(await refusal(feedUrl(app), { protocols: ["bearer", user.refreshToken] })).toBe(403);
  });

  it("never writes the token to the log", async () => {
    const user = await registerUser(app);
    const socket = await connectSocket(feedUrl(app, user.accessToken));
    await socket.close();
    await refusal(feedUrl(app, user.refreshToken));
    const logs = app.logs.join("\n");
    expect(logs).toContain("/ws/notifications");
    expect(logs).not.toContain(user.accessToken);
    expect(logs).not.toContain(user.refreshToken);
  });
});

describe("delivery", () => {
  it("delivers every event type to every open socket of the user, and only theirs", async () => {
    const user = await registerUser(app);
    const other = await registerUser(app);
    const second = await login(app, user.email, user.password);
    const sockets = [
      await connectSocket(feedUrl(app, user.accessToken)),
      await connectSocket(feedUrl(app, second.access_token)),
    ];
    const bystander = await connectSocket(feedUrl(app, other.accessToken));

    const inviteRead = {
      id: 7,
      workspace_id: 3,
      workspace_name: "Acme",
      status: "accepted",
      inviter: { id: user.id, display_name: user.displayName, avatar_url: null },
      invitee: { id: other.id, display_name: other.displayName, avatar_url: null },
      created_at: new Date().toISOString(),
    };
    const events = [
      { type: "dm.unread", payload: { thread_id: 4, delta: 1 } },
      { type: "invite.created", payload: { ...inviteRead, status: "pending" } },
      { type: "invite.accepted", payload: inviteRead },
      { type: "invite.declined", payload: { ...inviteRead, status: "declined" } },
      { type: "friend.requested", payload: { id: 11 } },
      { type: "friend.accepted", payload: { id: 11, by: inviteRead.invitee } },
      { type: "friend.declined", payload: { id: 11, by: inviteRead.invitee } },
    ];
    for (const event of events) {
      expect(await deliver(app, user.id, event)).toBe(2);
      for (const socket of sockets) expect(await socket.next()).toEqual(event);
    }
    expect(bystander.pending()).toEqual([]);
    for (const socket of [...sockets, bystander]) await socket.close();
  });

  it("delivers friend events raised by the friend routes to both sockets", async () => {
    const alice = await registerUser(app);
    const bob = await registerUser(app);
    const aliceSockets = [
      await connectSocket(feedUrl(app, alice.accessToken)),
      await connectSocket(feedUrl(app, alice.accessToken)),
    ];
    const bobSockets = [
      await connectSocket(feedUrl(app, bob.accessToken)),
      await connectSocket(feedUrl(app, bob.accessToken)),
    ];
    const request = await api(app, { token: alice.accessToken }).post("/friends/requests", {
      json: { addressee_display_name: bob.displayName },
    });
    expect(request.status).toBe(200);
    for (const socket of bobSockets) {
      expect(await socket.next("friend.requested")).toEqual({
        type: "friend.requested",
        payload: { id: request.body.id },
      });
    }
    const accept = await api(app, { token: bob.accessToken }).post(
      `/friends/requests/${request.body.id}/accept`,
    );
    expect(accept.status).toBe(200);
    for (const socket of aliceSockets) {
      expect(await socket.next("friend.accepted")).toEqual({
        type: "friend.accepted",
        payload: { id: request.body.id, by: { id: bob.id, display_name: bob.displayName, avatar_url: null } },
      });
    }
    for (const socket of [...aliceSockets, ...bobSockets]) await socket.close();
  });

  it("delivers every event type the routes raise (invites, friends, DMs) to both sockets of the recipient", async () => {
    const owner = await registerUser(app);
    const guest = await registerUser(app);
    const asOwner = api(app, { token: owner.accessToken });
    const asGuest = api(app, { token: guest.accessToken });
    const ownerSecond = await login(app, owner.email, owner.password);
    const guestSecond = await login(app, guest.email, guest.password);
    const ownerSockets = [
      await connectSocket(feedUrl(app, owner.accessToken)),
      await connectSocket(feedUrl(app, ownerSecond.access_token)),
    ];
    const guestSockets = [
      await connectSocket(feedUrl(app, guest.accessToken)),
      await connectSocket(feedUrl(app, guestSecond.access_token)),
    ];
    /** The next event of each socket has this type; returns their payloads (all equal). */
    const expectOnBoth = async (sockets: TestSocket[], type: string) => {
      const frames = [];
      for (const socket of sockets) frames.push(await socket.next(type));
      expect(frames.map((f) => f.type)).toEqual([type, type]);
      expect(frames[1]).toEqual(frames[0]);
      return frames[0]?.payload as Record<string, unknown>;
    };

    const workspace = await asOwner.post("/workspaces", { json: { name: `Both ${owner.id}` } });
    const invite = async () => {
      const res = await asOwner.post(`/workspaces/${workspace.body.id}/invites`, {
        json: { invitee_display_name: guest.displayName },
      });
      expect(res.status, res.text).toBe(200);
      expect(await expectOnBoth(guestSockets, "invite.created")).toEqual(res.body);
      return res.body.id as number;
    };
    const declined = await asGuest.post(`/invites/${await invite()}/decline`);
    expect(await expectOnBoth(ownerSockets, "invite.declined")).toEqual(declined.body);
    const accepted = await asGuest.post(`/invites/${await invite()}/accept`);
    expect(await expectOnBoth(ownerSockets, "invite.accepted")).toEqual(accepted.body);

    const request = async () => {
      const res = await asOwner.post("/friends/requests", {
        json: { addressee_display_name: guest.displayName },
      });
      expect(res.status, res.text).toBe(200);
      expect(await expectOnBoth(guestSockets, "friend.requested")).toEqual({ id: res.body.id });
      return res.body.id as number;
    };
    const guestPublic = { id: guest.id, display_name: guest.displayName, avatar_url: null };
    const first = await request();
    expect((await asGuest.post(`/friends/requests/${first}/decline`)).status).toBe(200);
    expect(await expectOnBoth(ownerSockets, "friend.declined")).toEqual({ id: first, by: guestPublic });
    const second = await request();
    expect((await asGuest.post(`/friends/requests/${second}/accept`)).status).toBe(200);
    expect(await expectOnBoth(ownerSockets, "friend.accepted")).toEqual({ id: second, by: guestPublic });

    const thread = await asOwner.post("/dm/threads", {
      json: { workspace_id: workspace.body.id, user_id: guest.id },
    });
    expect(thread.status, thread.text).toBe(200);
    const sent = await asOwner.post(`/dm/threads/${thread.body.id}/messages`, { json: { content: "psst" } });
    expect(sent.status).toBe(200);
    expect(await expectOnBoth(guestSockets, "dm.unread")).toEqual({ thread_id: thread.body.id, delta: 1 });
    for (const socket of [...ownerSockets, ...guestSockets]) await socket.close();
  });

  it("drops an event that cannot be encoded and keeps delivering the next ones", async () => {
    const user = await registerUser(app);
    const sockets = [
      await connectSocket(feedUrl(app, user.accessToken)),
      await connectSocket(feedUrl(app, user.accessToken)),
    ];
    expect(await deliver(app, user.id, { type: "broken", unencodable: true })).toBe(0);
    expect(await deliver(app, user.id, { type: "after", payload: { ok: true } })).toBe(2);
    for (const socket of sockets)
      expect(await socket.next()).toEqual({ type: "after", payload: { ok: true } });
    expect(app.logs.some((line) => line.includes("could not be encoded"))).toBe(true);
    for (const socket of sockets) await socket.close();
  });

  it("keeps delivering to the other sockets when one connection dies abruptly", async () => {
    const user = await registerUser(app);
    const doomed = await connectSocket(feedUrl(app, user.accessToken));
    const survivor = await connectSocket(feedUrl(app, user.accessToken));
    doomed.socket.terminate();
    await doomed.closed;
    for (let i = 0; i < 3; i++) {
      await deliver(app, user.id, { type: "tick", payload: { i } });
      expect(await survivor.next("tick")).toEqual({ type: "tick", payload: { i } });
    }
    await survivor.close();
  });

  it("accepts the bare-text ping (and anything else) without replying or closing", async () => {
    const user = await registerUser(app);
    const socket = await connectSocket(feedUrl(app, user.accessToken));
    socket.sendText("ping");
    socket.send({ type: "ping" });
    socket.sendText("{not json");
    socket.socket.send(Buffer.from([1, 2, 3]));
    // A round trip through the API after the frames: any reply would already be queued.
    await api(app, { token: user.accessToken }).get("/auth/me");
    await deliver(app, user.id, { type: "after-ping" });
    expect(await socket.next()).toEqual({ type: "after-ping", payload: {} });
    expect(socket.socket.readyState).toBe(socket.socket.OPEN);
    await socket.close();
  });
});

describe("closing sockets that lost their right to exist", () => {
  it("closes the sockets of a revoked session within seconds, and only those", async () => {
    const user = await registerUser(app);
    const other = await login(app, user.email, user.password);
    const revoked = await connectSocket(feedUrl(app, user.accessToken));
    const kept = await connectSocket(feedUrl(app, other.access_token));
    const sid = String(jwtPayload(user.accessToken).sid);
    const res = await api(app, { token: other.access_token }).delete(`/auth/sessions/${sid}`);
    expect(res.status).toBe(204);
    // The test's own timeout bounds "within seconds".
    expect(await closeFrame(revoked)).toEqual({ code: 1008, reason: "Session revoked" });
    expect(await deliver(app, user.id, { type: "still-here" })).toBe(1);
    expect(await kept.next("still-here")).toEqual({ type: "still-here", payload: {} });
    await kept.close();
  }, 15_000);

  it("closes a socket when its access token expires", async () => {
    const user = await registerUser(app);
    const socket = await connectSocket(feedUrl(app, await accessTokenExpiringIn(user, 2)));
    expect(await closeFrame(socket)).toEqual({ code: 1008, reason: "Token expired" });
  }, 15_000);

  it("closes a socket that sent nothing for 25 s with 1001, and keeps one that pings", async () => {
    const user = await registerUser(app);
    const silent = await connectSocket(feedUrl(app, user.accessToken));
    const chatty = await connectSocket(feedUrl(app, user.accessToken));
    const pinger = setInterval(() => chatty.sendText("ping"), 5_000);
    try {
      expect(await closeFrame(silent)).toEqual({ code: 1001, reason: "Idle timeout" });
      expect(chatty.socket.readyState).toBe(chatty.socket.OPEN);
      expect(await deliver(app, user.id, { type: "alive" })).toBe(1);
      expect(await chatty.next("alive")).toEqual({ type: "alive", payload: {} });
    } finally {
      clearInterval(pinger);
      await chatty.close();
    }
  }, 60_000);
});

describe("online presence", () => {
  it("keeps an expiring online key while a socket is open and removes it after the last close", async () => {
    const store = inject("store");
    if (!store) return; // The in-memory store cannot be inspected from here.
    const redis = new Redis(store.redisUrl, { protocol: 2 });
    try {
      const user = await registerUser(app);
      const key = `${app.keyPrefix}online:user:${user.id}`;
      const first = await connectSocket(feedUrl(app, user.accessToken));
      const second = await connectSocket(feedUrl(app, user.accessToken));
      const ttl = await redis.ttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60);
      await first.close();
      await deliver(app, user.id, { type: "sync" }); // orders the test after the object's close handling
      expect(await redis.exists(key)).toBe(1);
      await second.close();
      await expect.poll(() => redis.exists(key), { timeout: 5_000 }).toBe(0);
    } finally {
      redis.disconnect();
    }
  });
});

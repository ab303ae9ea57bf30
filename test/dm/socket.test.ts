/**
 * The thread socket /ws/dm/{thread_id} (contract 3.1 to 3.4; D7, D8, D21): the handshake's access
 * matrix, message/typing/read/presence events, bad frames, idempotent sends, catch-up with `since`,
 * edits and deletes as events, `dm.unread` for a recipient who is not looking at the thread, and
 * closing sockets whose session was revoked.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { api, as } from "../support/http";
import {
  closeFrame,
  dmPath,
  dmUrl,
  expectNoEventSoFar,
  expectNothingPending,
  idOf,
  joinDm,
  notificationsOf,
  refusal,
  take,
} from "../support/sockets";
import { accessTokenExpiringIn, jwtPayload, login, type TestUser } from "../support/users";
import {
  befriend,
  buildCast,
  type Cast,
  newMember,
  openThread,
  postDm,
  type ThreadBody,
  userInNoWorkspace,
  workspaceOf,
} from "../support/worlds";
import { connectSocket, rawHandshake, type TestSocket } from "../support/ws";

let app: TestApp;
let cast: Cast;
let thread: ThreadBody;

beforeAll(async () => {
  app = await startApp();
  cast = await buildCast(app, "sock");
  thread = await openThread(app, cast.alice, cast.bob, cast.workspaceId);
});
afterAll(async () => {
  await app?.close();
});

async function storedContents(threadId: number): Promise<string[]> {
  const rows = await app.sql<{ content: string }[]>`
    select content from direct_messages where thread_id = ${threadId} order by id`;
  return rows.map((r) => r.content);
}

/** A thread of its own, between two new members. */
async function freshPair(): Promise<{ threadId: number; a: TestUser; b: TestUser }> {
  const [a, b] = [await newMember(app, cast, "SockA"), await newMember(app, cast, "SockB")];
  return { threadId: (await openThread(app, a, b, cast.workspaceId)).id, a, b };
}

/** Which instance of the thread's object answers, and how many sockets it holds (an ENV=test route). */
async function probe(threadId: number): Promise<{ instanceId: string; sockets: number }> {
  const res = await api(app).get(`/__test__/dm-threads/${threadId}`);
  expect(res.status, res.text).toBe(200);
  return res.body;
}

const authorOf = (user: TestUser) => ({ id: user.id, display_name: user.displayName, avatar_url: null });

describe("handshake (contract 3.1; D7)", () => {
  it("admits both participants, announcing each connect to the thread, the new socket included", async () => {
    const alice = await joinDm(app, thread.id, cast.alice);
    expect((await alice.next("presence")).payload).toEqual({
      user_id: cast.alice.id,
      display_name: cast.alice.displayName,
      online: true,
    });
    const bob = await joinDm(app, thread.id, cast.bob);
    for (const socket of [alice, bob]) {
      expect((await socket.next("presence")).payload).toMatchObject({ user_id: cast.bob.id, online: true });
    }
    // Every connect is announced, a second tab's too (as the original did).
    const bobAgain = await joinDm(app, thread.id, cast.bob);
    expect((await alice.next("presence")).payload).toMatchObject({ user_id: cast.bob.id, online: true });
    for (const socket of [alice, bob, bobAgain]) await socket.close();
  });

  it("refuses everyone else with 403 before the upgrade, naming the reason", async () => {
    const revoked = await login(app, cast.bob.email, cast.bob.password);
    expect((await api(app, { token: revoked.access_token }).post("/auth/logout")).status).toBe(204);
    const expired = await accessTokenExpiringIn(cast.bob, -10);
    const cases: [string, string, string][] = [
      ["anonymous", dmPath(thread.id), "Not authenticated"],
      ["empty token", dmPath(thread.id, ""), "Not authenticated"],
      ["malformed token", dmPath(thread.id, "not-a-jwt"), "Invalid authentication"],
      ["refresh token", dmPath(thread.id, cast.bob.refreshToken), "Invalid authentication"],
      ["expired token", dmPath(thread.id, expired), "Invalid authentication"],
      ["revoked session", dmPath(thread.id, revoked.access_token), "Session revoked"],
      [
        "same workspace, not a participant",
        dmPath(thread.id, cast.carol.accessToken),
        "Not part of this thread",
      ],
      ["another workspace's member", dmPath(thread.id, cast.dave.accessToken), "Not part of this thread"],
      ["in no workspace", dmPath(thread.id, cast.olga.accessToken), "Not part of this thread"],
      ["missing thread", dmPath(2_000_000_000, cast.alice.accessToken), "Thread not found"],
      ["non-numeric thread", dmPath("abc", cast.alice.accessToken), "Thread not found"],
      ["zero", dmPath(0, cast.alice.accessToken), "Thread not found"],
      ["too large", dmPath("99999999999", cast.alice.accessToken), "Thread not found"],
    ];
    for (const [label, path, detail] of cases) {
      expect(await rawHandshake(app.url, path), label).toEqual({ status: 403, body: { detail } });
      expect(await refusal(`${app.url.replace(/^http/, "ws")}${path}`), label).toBe(403);
    }
  });

  it("admits a pair of friends who share no workspace, and refuses a pair that can no longer reach each other", async () => {
    const [a, b] = [await userInNoWorkspace(app, "SockFriendA"), await userInNoWorkspace(app, "SockFriendB")];
    await befriend(app, a, b);
    const friends = await openThread(app, a, b, await workspaceOf(app, a));
    const socket = await joinDm(app, friends.id, b);
    const message = await postDm(app, a, friends.id, "friends talk");
    expect((await socket.next("message")).payload).toMatchObject({ id: message.id });
    await socket.close();

    const { threadId, a: x, b: y } = await freshPair();
    expect((await as(app, cast.alice).delete(`/workspaces/${cast.workspaceId}/members/${y.id}`)).status).toBe(
      204,
    );
    const detail = "Thread is read-only: its participants share no workspace and are not friends";
    for (const user of [x, y]) {
      expect(await rawHandshake(app.url, dmPath(threadId, user.accessToken))).toEqual({
        status: 403,
        body: { detail },
      });
      expect(await refusal(dmUrl(app, threadId, { token: user.accessToken }))).toBe(403);
    }
  });

  it("answers a plain GET with 426, and a malformed since with 422", async () => {
    const res = await api(app).get(dmPath(thread.id, cast.alice.accessToken));
    expect(res).toMatchObject({
      status: 426,
      body: { detail: "This endpoint only accepts WebSocket upgrades" },
    });
    for (const since of ["abc", "-1", "1.5", "99999999999"]) {
      const refused = await rawHandshake(
        app.url,
        dmPath(thread.id, cast.alice.accessToken, `&since=${since}`),
      );
      expect(refused.status, since).toBe(422);
      expect(refused.body).toMatchObject({ detail: [{ loc: ["query", "since"] }] });
    }
  });

  it("accepts the token as the subprotocol list [bearer, token] and answers 'bearer'", async () => {
    const socket = await connectSocket(dmUrl(app, thread.id), {
      protocols: ["bearer", cast.bob.accessToken],
    });
    expect(socket.socket.protocol).toBe("bearer");
    const message = await postDm(app, cast.alice, thread.id, "hello bearer");
    expect((await socket.next("message")).payload).toMatchObject({ id: message.id });
    await socket.close();
    expect(await refusal(dmUrl(app, thread.id), { protocols: ["bearer"] })).toBe(403);
    expect(await refusal(dmUrl(app, thread.id), { protocols: ["bearer", cast.carol.accessToken] })).toBe(403);
  });

  it("never writes the token to the log", async () => {
    const socket = await joinDm(app, thread.id, cast.bob);
    await socket.close();
    await refusal(dmUrl(app, thread.id, { token: cast.bob.refreshToken }));
    const logs = app.logs.join("\n");
    expect(logs).toContain("/ws/dm/");
    expect(logs).not.toContain(cast.bob.accessToken);
    expect(logs).not.toContain(cast.bob.refreshToken);
  });
});

describe("frames (contract 3.4; D21)", () => {
  it("stores a message frame and echoes it to both participants, sender included, with client_id", async () => {
    const { threadId, a, b } = await freshPair();
    const sender = await joinDm(app, threadId, a);
    const other = await joinDm(app, threadId, b);
    sender.send({ type: "message", content: "over the socket", client_id: "client:1" });
    const expected = {
      id: expect.any(Number),
      thread_id: threadId,
      sender_id: a.id,
      user_id: a.id,
      client_id: "client:1",
      content: "over the socket",
      author: authorOf(a),
      created_at: expect.any(String),
      updated_at: null,
      is_deleted: false,
      is_edited: false,
    };
    for (const socket of [sender, other])
      expect(await socket.next("message")).toEqual({ type: "message", payload: expected });
    expect(await storedContents(threadId)).toEqual(["over the socket"]);
    // A REST post is broadcast in the same shape.
    const rest = await postDm(app, b, threadId, "over REST", "client:2");
    for (const socket of [sender, other]) {
      expect((await socket.next("message")).payload).toEqual({ ...rest, sender_id: b.id });
    }
    await sender.close();
    await other.close();
  });

  it("answers bad frames with an error event, stores nothing, and keeps the socket open", async () => {
    const { threadId, a } = await freshPair();
    const socket = await joinDm(app, threadId, a);
    const cases: [string | Buffer, string][] = [
      ["{not json", "invalid_json"],
      ["ping", "invalid_json"],
      ["[1,2,3]", "invalid_frame"],
      ["null", "invalid_frame"],
      ['"message"', "invalid_frame"],
      [Buffer.from([1, 2, 3]), "invalid_frame"],
      ['{"type":"launch"}', "unknown_type"],
      ['{"no":"type"}', "unknown_type"],
      ['{"type":"message"}', "invalid_content"],
      ['{"type":"message","content":""}', "invalid_content"],
      ['{"type":"message","content":"  "}', "invalid_content"],
      ['{"type":"message","content":42}', "invalid_content"],
      [JSON.stringify({ type: "message", content: "x".repeat(4001) }), "invalid_content"],
      ['{"type":"message","content":"ok","client_id":5}', "invalid_field"],
      ['{"type":"typing","is_typing":"false"}', "invalid_field"],
      ['{"type":"typing","is_typing":null}', "invalid_field"],
      ['{"type":"read","last_read_message_id":0}', "invalid_field"],
      ['{"type":"read","last_read_message_id":-1}', "invalid_field"],
      ['{"type":"read","last_read_message_id":"x"}', "invalid_field"],
      ['{"type":"read","last_read_message_id":1.5}', "invalid_field"],
      ['{"type":"read"}', "invalid_field"],
    ];
    for (const [frame, code] of cases) {
      socket.socket.send(frame);
      const error = await socket.next("error");
      expect(error.payload, String(frame).slice(0, 40)).toMatchObject({ code, detail: expect.any(String) });
    }
    expect(socket.socket.readyState).toBe(socket.socket.OPEN);
    socket.send({ type: "message", content: "still fine", client_id: "c" });
    expect((await socket.next("message")).payload).toMatchObject({ content: "still fine", client_id: "c" });
    expect(socket.pending().filter((f) => ["typing", "message", "read"].includes(f.type))).toEqual([]);
    expect(await storedContents(threadId)).toEqual(["still fine"]);
    await socket.close();
  });

  it("answers the web app's exact ping with a pong and ignores other pings", async () => {
    const { threadId, a, b } = await freshPair();
    const socket = await joinDm(app, threadId, a);
    const other = await joinDm(app, threadId, b);
    socket.sendText('{"type":"ping"}');
    expect(await socket.next("pong")).toEqual({ type: "pong", payload: {} });
    socket.sendText('{ "type": "ping", "extra": true }');
    await expectNothingPending(socket, other, "error");
    await socket.close();
    await other.close();
  });

  it("broadcasts typing with a real boolean (true by default) to both participants", async () => {
    const { threadId, a, b } = await freshPair();
    const typist = await joinDm(app, threadId, a);
    const watcher = await joinDm(app, threadId, b);
    for (const [frame, isTyping] of [
      [{ type: "typing", is_typing: true }, true],
      [{ type: "typing", is_typing: false }, false],
      [{ type: "typing" }, true],
    ] as const) {
      typist.send(frame);
      for (const socket of [watcher, typist]) {
        expect(await socket.next("typing")).toEqual({
          type: "typing",
          payload: { user_id: a.id, display_name: a.displayName, is_typing: isTyping },
        });
      }
    }
    await typist.close();
    await watcher.close();
  });

  it("turns a read frame into a receipt for both participants and a stored pointer", async () => {
    const { threadId, a, b } = await freshPair();
    const first = await postDm(app, a, threadId, "one");
    const second = await postDm(app, a, threadId, "two");
    const reader = await joinDm(app, threadId, b);
    const author = await joinDm(app, threadId, a);
    reader.send({ type: "read", last_read_message_id: first.id });
    const receipt = { thread_id: threadId, user_id: b.id, last_read_message_id: first.id };
    for (const socket of [reader, author])
      expect(await socket.next("read")).toEqual({ type: "read", payload: receipt });
    // A numeric string is accepted, an older id does not move the pointer back, and a made-up
    // future id stops at the newest message.
    reader.send({ type: "read", last_read_message_id: String(first.id) });
    expect((await author.next("read")).payload).toMatchObject({ last_read_message_id: first.id });
    reader.send({ type: "read", last_read_message_id: 2_000_000_000 });
    expect((await author.next("read")).payload).toMatchObject({ last_read_message_id: second.id });
    const status = await as(app, a).get(`/dm/threads/${threadId}/read-status`);
    expect(status.body).toEqual({
      thread_id: threadId,
      self_last_read_message_id: 0,
      other_last_read_message_id: second.id,
      unread_count: 0,
    });
    await reader.close();
    await author.close();
  });
});

describe("presence (contract 3.4)", () => {
  it("announces a user offline when their last socket closes and no notifications socket is open", async () => {
    const { threadId, a, b } = await freshPair();
    const watcher = await joinDm(app, threadId, a);
    const tab1 = await joinDm(app, threadId, b);
    const tab2 = await joinDm(app, threadId, b);
    await take(watcher, "presence", 3);
    await tab1.close();
    await expect.poll(async () => (await probe(threadId)).sockets, { timeout: 5_000 }).toBe(2);
    await expectNothingPending(watcher, tab2, "presence");
    await tab2.close();
    expect(await watcher.next("presence")).toEqual({
      type: "presence",
      payload: { user_id: b.id, online: false },
    });
    await watcher.close();
  });

  it("says nothing when the user is still connected through their notifications socket", async () => {
    const { threadId, a, b } = await freshPair();
    const feed = await notificationsOf(app, b);
    const watcher = await joinDm(app, threadId, a);
    const tab = await joinDm(app, threadId, b);
    await take(watcher, "presence", 2);
    await tab.close();
    // Once the object has seen the close, its decision (a step of the thread's queue) comes before
    // any message written afterwards.
    await expect.poll(async () => (await probe(threadId)).sockets, { timeout: 5_000 }).toBe(1);
    const message = await postDm(app, a, threadId, "after the close");
    expect(idOf(await watcher.next("message"))).toBe(message.id);
    expect(watcher.pending().filter((f) => f.type === "presence")).toEqual([]);
    for (const socket of [watcher, feed]) await socket.close();
  });
});

describe("idempotent sends (contract 1.2)", () => {
  it("answers a repeated client_id on the sender's socket only, sharing the record with REST", async () => {
    const { threadId, a, b } = await freshPair();
    const sender = await joinDm(app, threadId, a);
    const other = await joinDm(app, threadId, b);
    sender.send({ type: "message", content: "once", client_id: "client:once" });
    const first = await sender.next("message");
    expect((await other.next("message")).payload).toEqual(first.payload);
    sender.send({ type: "message", content: "once", client_id: "client:once" });
    expect(await sender.next("message")).toEqual(first);
    await expectNothingPending(other, sender, "message");
    expect((await postDm(app, a, threadId, "once", "client:once")).id).toBe(idOf(first));
    expect(await storedContents(threadId)).toEqual(["once"]);
    await sender.close();
    await other.close();
  });

  it("stores one message when the same client_id arrives over sockets and REST at once", async () => {
    const { threadId, a } = await freshPair();
    const sockets = await Promise.all([1, 2, 3].map(() => joinDm(app, threadId, a)));
    for (const socket of sockets) socket.send({ type: "message", content: "dup", client_id: "client:storm" });
    const rest = await Promise.all(
      [1, 2, 3].map(() =>
        as(app, a).post(`/dm/threads/${threadId}/messages`, {
          json: { content: "dup", client_id: "client:storm" },
        }),
      ),
    );
    const ids = new Set(rest.map((r) => r.body.id));
    for (const socket of sockets) ids.add(idOf(await socket.next("message")));
    expect(ids.size).toBe(1);
    expect(await storedContents(threadId)).toEqual(["dup"]);
    for (const socket of sockets) await socket.close();
  });
});

describe("ordering and catch-up", () => {
  it("delivers every message to every socket once, in id order, with both participants sending over REST and sockets", async () => {
    const { threadId, a, b } = await freshPair();
    const watchers = [await joinDm(app, threadId, a), await joinDm(app, threadId, b)];
    const senders = [await joinDm(app, threadId, a), await joinDm(app, threadId, b)];
    const seen = [...watchers, ...senders].map((socket) => {
      const ids: number[] = [];
      socket.socket.on("message", (data) => {
        const frame = JSON.parse(data.toString());
        if (frame.type === "message") ids.push(frame.payload.id);
      });
      return ids;
    });
    const perSender = 25;
    await Promise.all([
      ...senders.map(async (socket, s) => {
        for (let i = 0; i < perSender; i++) {
          socket.send({ type: "message", content: `socket ${s} #${i}`, client_id: `s${s}-${i}` });
          if (i % 5 === 0) await new Promise((r) => setImmediate(r));
        }
      }),
      ...[a, b].map(async (user, u) => {
        await Promise.all(
          [0, 1].map(async (lane) => {
            for (let i = lane; i < perSender; i += 2) await postDm(app, user, threadId, `rest ${u} #${i}`);
          }),
        );
      }),
    ]);
    const total = 4 * perSender;
    const storedIds = async () =>
      (
        await app.sql<
          { id: number }[]
        >`select id from direct_messages where thread_id = ${threadId} order by id`
      ).map((r) => r.id);
    await expect.poll(async () => (await storedIds()).length, { timeout: 15_000 }).toBe(total);
    const stored = await storedIds();
    const marker = await postDm(app, a, threadId, "marker");
    for (const ids of seen) {
      await expect.poll(() => ids.length, { timeout: 15_000 }).toBe(total + 1);
      expect(ids).toEqual([...stored, marker.id]);
    }
    for (const socket of [...watchers, ...senders]) await socket.close();
  }, 60_000);

  it("replays what was missed with since, in order and with client_ids, then live messages", async () => {
    const { threadId, a, b } = await freshPair();
    const first = await joinDm(app, threadId, b);
    const m1 = await postDm(app, a, threadId, "a");
    expect(idOf(await first.next("message"))).toBe(m1.id);
    await first.close();
    const m2 = await postDm(app, a, threadId, "b", "client:b");
    const m3 = await postDm(app, b, threadId, "c");
    const deleted = await postDm(app, a, threadId, "deleted while away");
    expect((await as(app, a).delete(`/dm/threads/${threadId}/messages/${deleted.id}`)).status).toBe(204);

    const again = await joinDm(app, threadId, b, { since: m1.id });
    const replayed = await take(again, "message", 2);
    expect(replayed.map((f) => f.payload)).toMatchObject([
      { id: m2.id, content: "b", client_id: "client:b" },
      { id: m3.id, content: "c", client_id: null },
    ]);
    const live = await postDm(app, a, threadId, "d");
    expect(idOf(await again.next("message"))).toBe(live.id);
    expect(again.pending().filter((f) => f.type === "message")).toEqual([]);
    await again.close();
  });

  it("replays up to 200 missed messages, and past that sends one resync event", async () => {
    const { threadId, a, b } = await freshPair();
    const [before] = await app.sql<{ id: number }[]>`
      insert into direct_messages (thread_id, sender_id, content) values (${threadId}, ${a.id}, 'before') returning id`;
    const since = (before as { id: number }).id;
    await app.sql`insert into direct_messages (thread_id, sender_id, content)
                  select ${threadId}, ${a.id}, 'missed ' || g from generate_series(1, 200) as g`;
    const exactly = await joinDm(app, threadId, b, { since });
    expect((await take(exactly, "message", 200)).map(idOf)[199]).toBeGreaterThan(since + 199);
    expect(exactly.pending().filter((f) => f.type === "resync")).toEqual([]);
    await app.sql`insert into direct_messages (thread_id, sender_id, content) values (${threadId}, ${a.id}, 'one more')`;
    const behind = await joinDm(app, threadId, b, { since });
    expect(await behind.next("resync")).toEqual({
      type: "resync",
      payload: { reason: "too_many_missed", since, max_catch_up: 200, detail: expect.any(String) },
    });
    const live = await postDm(app, a, threadId, "live");
    expect(idOf(await behind.next("message"))).toBe(live.id);
    expect(behind.pending().filter((f) => f.type === "message")).toEqual([]);
    for (const socket of [exactly, behind]) await socket.close();
  });
});

describe("edits and deletes as events", () => {
  it("broadcasts message.updated and message.deleted, without the deleted content", async () => {
    const { threadId, a, b } = await freshPair();
    const watcher = await joinDm(app, threadId, b);
    const message = await postDm(app, a, threadId, "draft");
    await watcher.next("message");
    const edit = await as(app, a).patch(`/dm/threads/${threadId}/messages/${message.id}`, {
      json: { content: "final" },
    });
    expect(edit.status).toBe(200);
    expect(await watcher.next("message.updated")).toEqual({
      type: "message.updated",
      payload: { ...edit.body, sender_id: a.id },
    });
    expect((await as(app, a).delete(`/dm/threads/${threadId}/messages/${message.id}`)).status).toBe(204);
    const deleted = await watcher.next("message.deleted");
    expect(deleted.payload).toMatchObject({
      id: message.id,
      thread_id: threadId,
      content: "",
      is_deleted: true,
    });
    expect(JSON.stringify(deleted)).not.toContain("final");
    // A refused change broadcasts nothing.
    const refused = await as(app, b).patch(`/dm/threads/${threadId}/messages/${message.id}`, {
      json: { content: "x" },
    });
    expect(refused.status).toBe(404);
    const typist = await joinDm(app, threadId, a);
    await expectNothingPending(watcher, typist, "message.updated");
    await watcher.close();
    await typist.close();
  });
});

describe("dm.unread for a recipient who is not looking at the thread (D8)", () => {
  it("reaches every notifications socket of the recipient, for REST and socket messages alike", async () => {
    const { threadId, a, b } = await freshPair();
    const second = await login(app, b.email, b.password);
    const feeds = [await notificationsOf(app, b), await notificationsOf(app, b, second.access_token)];
    const senderFeed = await notificationsOf(app, a);
    await postDm(app, a, threadId, "over REST");
    for (const feed of feeds) {
      expect(await feed.next()).toEqual({ type: "dm.unread", payload: { thread_id: threadId, delta: 1 } });
    }
    const socket = await joinDm(app, threadId, a);
    socket.send({ type: "message", content: "over the socket" });
    for (const feed of feeds) {
      expect(await feed.next()).toEqual({ type: "dm.unread", payload: { thread_id: threadId, delta: 1 } });
    }
    // The sender is told nothing.
    await expectNoEventSoFar(app, a, senderFeed);
    for (const s of [socket, senderFeed, ...feeds]) await s.close();
  });

  it("is not sent while the recipient has a socket open on the thread, and is again once it closes", async () => {
    const { threadId, a, b } = await freshPair();
    const feed = await notificationsOf(app, b);
    const looking = await joinDm(app, threadId, b);
    const message = await postDm(app, a, threadId, "seen live");
    expect(idOf(await looking.next("message"))).toBe(message.id);
    await expectNoEventSoFar(app, b, feed);
    // Another user's socket on the thread (the sender's) does not count as the recipient looking.
    await looking.close();
    const senderSocket = await joinDm(app, threadId, a);
    await postDm(app, a, threadId, "unseen");
    expect(await feed.next()).toEqual({ type: "dm.unread", payload: { thread_id: threadId, delta: 1 } });
    for (const s of [feed, senderSocket]) await s.close();
  });
});

describe("closing sockets that lost their right to exist (D7)", () => {
  it("closes the sockets of a revoked session within seconds, and only those", async () => {
    const session = await login(app, cast.bob.email, cast.bob.password);
    const doomed = await joinDm(app, thread.id, cast.bob, { token: session.access_token });
    const kept = await joinDm(app, thread.id, cast.bob);
    const sid = String(jwtPayload(session.access_token).sid);
    expect((await as(app, cast.bob).delete(`/auth/sessions/${sid}`)).status).toBe(204);
    expect(await closeFrame(doomed, 10_000)).toEqual({ code: 1008, reason: "Session revoked" });
    const message = await postDm(app, cast.alice, thread.id, "still here");
    expect((await kept.next("message")).payload).toMatchObject({ id: message.id });
    await kept.close();
  }, 15_000);

  it("closes a socket when its access token expires", async () => {
    const socket: TestSocket = await joinDm(app, thread.id, cast.bob, {
      token: await accessTokenExpiringIn(cast.bob, 2),
    });
    expect(await closeFrame(socket, 10_000)).toEqual({ code: 1008, reason: "Token expired" });
  }, 15_000);
});

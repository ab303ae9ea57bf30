/**
 * The channel socket /ws/chat/{workspace_id}/{channel_id} (contract 3.1 to 3.4; D2, D3, D7, D14,
 * D21): the handshake's access matrix, frames good and bad, typing, presence, idempotent sends,
 * edit and delete events, the post limit, and closing sockets that lost their right to exist.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { windowWithRoom } from "../ratelimit/support";
import { startApp, type TestApp } from "../support/app";
import { api, as } from "../support/http";
import { chatUrl, closeFrame, expectNothingPending, joinChat, refusal } from "../support/sockets";
import { accessTokenExpiringIn, jwtPayload, login, registerUser, type TestUser } from "../support/users";
import { buildRoom, post, type Room } from "../support/worlds";
import { connectSocket, rawHandshake } from "../support/ws";

let app: TestApp;
let room: Room;

beforeAll(async () => {
  app = await startApp();
  room = await buildRoom(app);
});
afterAll(async () => {
  await app?.close();
});

/** A fresh public channel of the room's workspace. */
async function freshChannel(): Promise<number> {
  const res = await as(app, room.owner).post(`/workspaces/${room.workspaceId}/channels`, {
    json: { name: `s-${randomBytes(4).toString("hex")}` },
  });
  expect(res.status, res.text).toBe(200);
  return res.body.id;
}

async function storedContents(channelId: number): Promise<string[]> {
  const rows = await app.sql<{ content: string }[]>`
    select content from messages where channel_id = ${channelId} order by id`;
  return rows.map((r) => r.content);
}

const chatPath = (workspaceId: number | string, channelId: number | string, token?: string, extra = "") =>
  `/ws/chat/${workspaceId}/${channelId}${token === undefined ? "" : `?token=${encodeURIComponent(token)}`}${extra}`;

describe("handshake (contract 3.1; D2, D3, D7)", () => {
  it("admits the owner, an admin and a member of the channel's workspace", async () => {
    for (const user of [room.owner, room.admin, room.member]) {
      const socket = await joinChat(app, room, user);
      expect((await socket.next("presence")).payload).toMatchObject({ user_id: user.id, online: true });
      await socket.close();
    }
    const owner = await joinChat(app, room, room.owner, { channelId: room.privateChannelId });
    await owner.close();
  });

  it("refuses everyone else with 403 before the upgrade, naming the reason", async () => {
    const revoked = await login(app, room.member.email, room.member.password);
    expect((await api(app, { token: revoked.access_token }).post("/auth/logout")).status).toBe(204);
    const expired = await accessTokenExpiringIn(room.member, -10);
    const { workspaceId, otherWorkspaceId, channelId, privateChannelId, otherChannelId } = room;
    const cases: [string, string, string][] = [
      ["anonymous", chatPath(workspaceId, channelId), "Not authenticated"],
      ["empty token", chatPath(workspaceId, channelId, ""), "Not authenticated"],
      ["malformed token", chatPath(workspaceId, channelId, "not-a-jwt"), "Invalid authentication"],
      ["refresh token", chatPath(workspaceId, channelId, room.member.refreshToken), "Invalid authentication"],
      ["expired token", chatPath(workspaceId, channelId, expired), "Invalid authentication"],
      ["revoked session", chatPath(workspaceId, channelId, revoked.access_token), "Session revoked"],
      ["not a member", chatPath(workspaceId, channelId, room.outsider.accessToken), "Forbidden"],
      ["other workspace's member", chatPath(workspaceId, channelId, room.stranger.accessToken), "Forbidden"],
      [
        "private channel, not in it",
        chatPath(workspaceId, privateChannelId, room.member.accessToken),
        "Forbidden",
      ],
      ["missing channel", chatPath(workspaceId, 999_999, room.owner.accessToken), "Not Found"],
      ["non-numeric channel", chatPath(workspaceId, "general", room.owner.accessToken), "Not Found"],
      ["zero ids", chatPath(0, 0, room.owner.accessToken), "Not Found"],
      [
        "channel of another workspace than the URL's",
        chatPath(otherWorkspaceId, channelId, room.owner.accessToken),
        "Channel is not in this workspace",
      ],
      [
        "a member of the channel naming another workspace in the URL",
        chatPath(workspaceId, otherChannelId, room.stranger.accessToken),
        "Channel is not in this workspace",
      ],
      [
        "owner naming a channel of a workspace they are not in",
        chatPath(workspaceId, otherChannelId, room.owner.accessToken),
        "Forbidden",
      ],
    ];
    for (const [label, path, detail] of cases) {
      expect(await rawHandshake(app.url, path), label).toEqual({ status: 403, body: { detail } });
      expect(await refusal(`${app.url.replace(/^http/, "ws")}${path}`), label).toBe(403);
    }
  });

  it("answers a plain GET with 426, and a malformed since with 422", async () => {
    const res = await api(app).get(chatPath(room.workspaceId, room.channelId, room.member.accessToken));
    expect(res.status).toBe(426);
    expect(res.body).toEqual({ detail: "This endpoint only accepts WebSocket upgrades" });
    for (const since of ["abc", "-1", "1.5", "99999999999"]) {
      const refused = await rawHandshake(
        app.url,
        chatPath(room.workspaceId, room.channelId, room.member.accessToken, `&since=${since}`),
      );
      expect(refused.status, since).toBe(422);
      expect(refused.body).toMatchObject({ detail: [{ loc: ["query", "since"] }] });
    }
  });

  it("accepts the token as the subprotocol list [bearer, token] and answers 'bearer'", async () => {
    const socket = await connectSocket(chatUrl(app, room.workspaceId, room.channelId), {
      protocols: ["bearer", room.member.accessToken],
    });
    expect(socket.socket.protocol).toBe("bearer");
    const message = await post(app, room.owner, room.channelId, "hello bearer");
    expect((await socket.next("message")).payload).toMatchObject({ id: message.id });
    await socket.close();
    expect(await refusal(chatUrl(app, room.workspaceId, room.channelId), { protocols: ["bearer"] })).toBe(
      403,
    );
    expect(
      await refusal(chatUrl(app, room.workspaceId, room.channelId), {
        protocols: ["bearer", room.member.refreshToken],
      }),
    ).toBe(403);
  });

  it("never writes the token to the log", async () => {
    const socket = await joinChat(app, room, room.member);
    await socket.close();
    await refusal(chatUrl(app, room.workspaceId, room.channelId, { token: room.member.refreshToken }));
    const logs = app.logs.join("\n");
    expect(logs).toContain("/ws/chat/");
    expect(logs).not.toContain(room.member.accessToken);
    expect(logs).not.toContain(room.member.refreshToken);
  });
});

describe("frames (contract 3.4; D21)", () => {
  it("stores a message frame and echoes it to every socket, sender included, with client_id", async () => {
    const channelId = await freshChannel();
    const sender = await joinChat(app, room, room.member, { channelId });
    const other = await joinChat(app, room, room.admin, { channelId });
    sender.send({ type: "message", content: "over the socket", client_id: "client:1" });
    const expected = {
      id: expect.any(Number),
      channel_id: channelId,
      workspace_id: room.workspaceId,
      user_id: room.member.id,
      content: "over the socket",
      client_id: "client:1",
      is_edited: false,
      is_deleted: false,
      created_at: expect.any(String),
      updated_at: null,
      author: { id: room.member.id, display_name: room.member.displayName, avatar_url: null },
    };
    for (const socket of [sender, other])
      expect(await socket.next("message")).toEqual({ type: "message", payload: expected });
    expect(await storedContents(channelId)).toEqual(["over the socket"]);
    await sender.close();
    await other.close();
  });

  it("answers bad frames with an error event, stores nothing, and keeps the socket open", async () => {
    const channelId = await freshChannel();
    const socket = await joinChat(app, room, room.member, { channelId });
    const cases: [string | Buffer, string][] = [
      ["{not json", "invalid_json"],
      ["ping", "invalid_json"],
      ["[1,2,3]", "invalid_frame"],
      ["null", "invalid_frame"],
      ["42", "invalid_frame"],
      ['"message"', "invalid_frame"],
      [Buffer.from([1, 2, 3]), "invalid_frame"],
      ['{"type":"launch"}', "unknown_type"],
      ['{"no":"type"}', "unknown_type"],
      ['{"type":7}', "unknown_type"],
      ['{"type":"message"}', "invalid_content"],
      ['{"type":"message","content":""}', "invalid_content"],
      ['{"type":"message","content":"   "}', "invalid_content"],
      ['{"type":"message","content":42}', "invalid_content"],
      ['{"type":"message","content":{"text":"hi"}}', "invalid_content"],
      [JSON.stringify({ type: "message", content: "x".repeat(4001) }), "invalid_content"],
      ['{"type":"message","content":"ok","client_id":5}', "invalid_field"],
      [JSON.stringify({ type: "message", content: "ok", client_id: "c".repeat(129) }), "invalid_field"],
      ['{"type":"typing","is_typing":"false"}', "invalid_field"],
      ['{"type":"typing","is_typing":1}', "invalid_field"],
      ['{"type":"typing","is_typing":null}', "invalid_field"],
      ['{"type":"read","last_read_message_id":-1}', "invalid_field"],
      ['{"type":"read","last_read_message_id":"x"}', "invalid_field"],
      ['{"type":"read"}', "invalid_field"],
    ];
    for (const [frame, code] of cases) {
      socket.socket.send(frame);
      const error = await socket.next("error");
      expect(error.payload, String(frame).slice(0, 40)).toMatchObject({ code, detail: expect.any(String) });
    }
    // No frame crashed anything: the socket works and nothing was stored or broadcast.
    expect(socket.socket.readyState).toBe(socket.socket.OPEN);
    socket.send({ type: "message", content: "still fine", client_id: "c" });
    expect((await socket.next("message")).payload).toMatchObject({ content: "still fine", client_id: "c" });
    expect(socket.pending().filter((f) => f.type === "typing" || f.type === "message")).toEqual([]);
    expect(await storedContents(channelId)).toEqual(["still fine"]);
    await socket.close();
  });

  it("echoes the client_id of a refused message so the client can drop its optimistic copy", async () => {
    const socket = await joinChat(app, room, room.member);
    socket.send({ type: "message", content: "", client_id: "client:empty" });
    expect((await socket.next("error")).payload).toMatchObject({
      code: "invalid_content",
      client_id: "client:empty",
    });
    await socket.close();
  });

  it("ignores JSON pings, answering the web app's exact ping with a pong", async () => {
    const socket = await joinChat(app, room, room.member);
    const other = await joinChat(app, room, room.admin);
    await socket.next("presence");
    socket.sendText('{"type":"ping"}');
    expect(await socket.next("pong")).toEqual({ type: "pong", payload: {} });
    socket.sendText('{ "type": "ping", "extra": true }');
    await expectNothingPending(socket, other, "error");
    expect(socket.pending().filter((f) => f.type === "pong")).toEqual([]);
    await socket.close();
    await other.close();
  });

  it("broadcasts typing with a real boolean (true by default) to every socket", async () => {
    const channelId = await freshChannel();
    const typist = await joinChat(app, room, room.member, { channelId });
    const watcher = await joinChat(app, room, room.owner, { channelId });
    for (const [frame, isTyping] of [
      [{ type: "typing", is_typing: true }, true],
      [{ type: "typing", is_typing: false }, false],
      [{ type: "typing" }, true],
    ] as const) {
      typist.send(frame);
      for (const socket of [watcher, typist]) {
        expect(await socket.next("typing")).toEqual({
          type: "typing",
          payload: { user_id: room.member.id, display_name: room.member.displayName, is_typing: isTyping },
        });
      }
    }
    await typist.close();
    await watcher.close();
  });

  it("moves the read pointer with a read frame and tells the user's sockets", async () => {
    const channelId = await freshChannel();
    const m = await post(app, room.owner, channelId, "read me");
    const socket = await joinChat(app, room, room.member, { channelId });
    socket.send({ type: "read", last_read_message_id: m.id });
    expect((await socket.next("read")).payload).toEqual({
      user_id: room.member.id,
      channel_id: channelId,
      last_read_message_id: m.id,
      unread_count: 0,
    });
    expect((await as(app, room.member).get(`/channels/${channelId}/read`)).body.last_read_message_id).toBe(
      m.id,
    );
    await socket.close();
  });
});

describe("idempotent sends (contract 1.2; D14)", () => {
  it("answers a repeated client_id on the sender's socket only, storing one message", async () => {
    const channelId = await freshChannel();
    const sender = await joinChat(app, room, room.member, { channelId });
    const other = await joinChat(app, room, room.admin, { channelId });
    sender.send({ type: "message", content: "once", client_id: "client:once" });
    const first = await sender.next("message");
    expect((await other.next("message")).payload).toEqual(first.payload);
    sender.send({ type: "message", content: "once", client_id: "client:once" });
    expect(await sender.next("message")).toEqual(first);
    await expectNothingPending(other, sender, "message");
    // REST shares the record: the same client_id from the same user is the same message.
    const rest = await post(app, room.member, channelId, "once", "client:once");
    expect(rest.id).toBe((first.payload as { id: number }).id);
    expect(await storedContents(channelId)).toEqual(["once"]);
    await sender.close();
    await other.close();
  });

  it("stores one message when the same client_id arrives over sockets and REST at once", async () => {
    const channelId = await freshChannel();
    const sockets = await Promise.all([1, 2, 3].map(() => joinChat(app, room, room.member, { channelId })));
    for (const socket of sockets) socket.send({ type: "message", content: "dup", client_id: "client:storm" });
    const rest = await Promise.all(
      [1, 2, 3].map(() =>
        as(app, room.member).post(`/channels/${channelId}/messages`, {
          json: { content: "dup", client_id: "client:storm" },
        }),
      ),
    );
    const ids = new Set(rest.map((r) => r.body.id));
    for (const socket of sockets) ids.add(((await socket.next("message")).payload as { id: number }).id);
    expect(ids.size).toBe(1);
    expect(await storedContents(channelId)).toEqual(["dup"]);
    for (const socket of sockets) await socket.close();
  });
});

describe("edits and deletes as events (D17)", () => {
  it("broadcasts message.updated and message.deleted, without the deleted content", async () => {
    const channelId = await freshChannel();
    const watcher = await joinChat(app, room, room.owner, { channelId });
    const message = await post(app, room.member, channelId, "draft");
    await watcher.next("message");
    const edit = await as(app, room.member).patch(`/channels/${channelId}/messages/${message.id}`, {
      json: { content: "final" },
    });
    expect(edit.status).toBe(200);
    expect(await watcher.next("message.updated")).toEqual({
      type: "message.updated",
      payload: { ...edit.body, workspace_id: room.workspaceId },
    });
    expect((await as(app, room.admin).delete(`/channels/${channelId}/messages/${message.id}`)).status).toBe(
      204,
    );
    const deleted = await watcher.next("message.deleted");
    expect(deleted.payload).toMatchObject({
      id: message.id,
      channel_id: channelId,
      workspace_id: room.workspaceId,
      content: "",
      is_deleted: true,
      is_edited: true,
    });
    expect(JSON.stringify(deleted)).not.toContain("final");
    // A refused edit broadcasts nothing.
    expect(
      (
        await as(app, room.member).patch(`/channels/${channelId}/messages/${message.id}`, {
          json: { content: "x" },
        })
      ).status,
    ).toBe(404);
    const typist = await joinChat(app, room, room.member, { channelId });
    await expectNothingPending(watcher, typist, "message.updated");
    await watcher.close();
    await typist.close();
  });
});

describe("post limit on the socket (D14)", () => {
  it("shares the 20 per 10 s window with REST and answers the excess with an error event", async () => {
    const channelId = await freshChannel();
    // The windows are aligned to the clock (the store's fixed windows): start the burst early in one.
    await windowWithRoom(10_000, 7_000);
    const socket = await joinChat(app, room, room.member, { channelId });
    for (let i = 0; i < 10; i++) await post(app, room.member, channelId, `rest ${i}`);
    for (let i = 0; i < 10; i++) socket.send({ type: "message", content: `ws ${i}`, client_id: `c${i}` });
    for (let i = 0; i < 20; i++) await socket.next("message");
    socket.send({ type: "message", content: "too many", client_id: "c-over" });
    expect((await socket.next("error")).payload).toEqual({
      code: "rate_limited",
      detail: "Too many requests",
      client_id: "c-over",
    });
    expect(
      (await as(app, room.member).post(`/channels/${channelId}/messages`, { json: { content: "x" } })).status,
    ).toBe(429);
    expect((await storedContents(channelId)).length).toBe(20);
    expect(socket.socket.readyState).toBe(socket.socket.OPEN);
    await socket.close();
  });
});

describe("presence (contract 2.7; D15)", () => {
  it("lists the users with an open socket, once each, and announces first joins and last leaves", async () => {
    const channelId = await freshChannel();
    const presence = async () => (await as(app, room.member).get(`/channels/${channelId}/presence`)).body;
    expect(await presence()).toEqual([]);

    const watcher = await joinChat(app, room, room.owner, { channelId });
    expect((await watcher.next("presence")).payload).toEqual({
      user_id: room.owner.id,
      display_name: room.owner.displayName,
      online: true,
    });
    const tab1 = await joinChat(app, room, room.member, { channelId });
    const tab2 = await joinChat(app, room, room.member, { channelId });
    expect((await watcher.next("presence")).payload).toEqual({
      user_id: room.member.id,
      display_name: room.member.displayName,
      online: true,
    });
    const byId = [room.owner, room.member].sort((a, b) => a.id - b.id);
    expect(await presence()).toEqual(byId.map((u) => ({ user_id: u.id, display_name: u.displayName })));

    await tab1.close();
    await expectNothingPending(watcher, tab2, "presence"); // the member still has a tab open
    await tab2.close();
    expect(await watcher.next("presence")).toEqual({
      type: "presence",
      payload: { user_id: room.member.id, online: false },
    });
    expect(await presence()).toEqual([{ user_id: room.owner.id, display_name: room.owner.displayName }]);
    await watcher.close();
    await expect.poll(presence, { timeout: 5_000 }).toEqual([]);
  });

  it("counts a chat socket as online for GET /users/online", async () => {
    const user = await registerUser(app, { displayName: "Newcomer" });
    const invite = await as(app, room.owner).post(`/workspaces/${room.workspaceId}/invites`, {
      json: { invitee_display_name: user.displayName },
    });
    expect((await as(app, user).post(`/invites/${invite.body.id}/accept`)).status).toBe(200);
    const online = async () => (await as(app, room.owner).get(`/users/online?ids=${user.id}`)).body;
    expect(await online()).toEqual([{ user_id: user.id, online: false }]);
    const socket = await joinChat(app, room, user);
    expect(await online()).toEqual([{ user_id: user.id, online: true }]);
    await socket.close();
  });
});

describe("closing sockets that lost their right to exist (D7)", () => {
  it("closes the sockets of a revoked session, and only those", async () => {
    const user = await login(app, room.member.email, room.member.password);
    const doomedUser: TestUser = { ...room.member, accessToken: user.access_token };
    const doomed = await joinChat(app, room, doomedUser);
    const kept = await joinChat(app, room, room.member);
    const sid = String(jwtPayload(user.access_token).sid);
    expect((await as(app, room.member).delete(`/auth/sessions/${sid}`)).status).toBe(204);
    // Pushed to the room through the user's feed (test/realtime/revocation.test.ts proves it is
    // the push, not the sweeps' safety net, that closes it).
    expect(await closeFrame(doomed)).toEqual({ code: 1008, reason: "Session revoked" });
    const message = await post(app, room.owner, room.channelId, "still here");
    expect((await kept.next("message")).payload).toMatchObject({ id: message.id });
    await kept.close();
  }, 60_000);

  it("closes a socket when its access token expires", async () => {
    const socket = await joinChat(app, room, room.member, {
      token: await accessTokenExpiringIn(room.member, 2),
    });
    expect(await closeFrame(socket, 10_000)).toEqual({ code: 1008, reason: "Token expired" });
  }, 15_000);

  it("closes the socket of a member removed from the workspace at once", async () => {
    const channelId = await freshChannel();
    const user = await registerUser(app, { displayName: "Leaver" });
    const invite = await as(app, room.owner).post(`/workspaces/${room.workspaceId}/invites`, {
      json: { invitee_display_name: user.displayName },
    });
    expect((await as(app, user).post(`/invites/${invite.body.id}/accept`)).status).toBe(200);
    const socket = await joinChat(app, room, user, { channelId });
    expect(
      (await as(app, room.owner).delete(`/workspaces/${room.workspaceId}/members/${user.id}`)).status,
    ).toBe(204);
    // The removal route tells the channel's object, which closes the socket without waiting
    // for it to write (a write would also be refused: every socket post re-checks access).
    expect(await closeFrame(socket, 5_000)).toEqual({ code: 1008, reason: "Access revoked" });
    expect(await storedContents(channelId)).toEqual([]);
  });

  it("closes a deleted channel's sockets at once", async () => {
    const channelId = await freshChannel();
    const socket = await joinChat(app, room, room.member, { channelId });
    expect((await as(app, room.owner).delete(`/channels/${channelId}`)).status).toBe(204);
    expect(await closeFrame(socket, 5_000)).toEqual({ code: 1008, reason: "Channel deleted" });
  });

  it("closes every socket of a member who loses a private channel, announces them gone, and keeps the others", async () => {
    const created = await as(app, room.owner).post(`/workspaces/${room.workspaceId}/channels`, {
      json: { name: `p-${randomBytes(4).toString("hex")}`, is_private: true },
    });
    expect(created.status, created.text).toBe(200);
    const channelId: number = created.body.id;
    const added = await as(app, room.owner).post(`/channels/${channelId}/members`, {
      json: { user_id: room.member.id },
    });
    expect(added.status, added.text).toBe(200);
    const watcher = await joinChat(app, room, room.owner, { channelId });
    const tabs = [
      await joinChat(app, room, room.member, { channelId }),
      await joinChat(app, room, room.member, { channelId }),
    ];
    await watcher.next("presence");
    await watcher.next("presence");
    expect(
      (await as(app, room.owner).delete(`/channels/${channelId}/members/${room.member.id}`)).status,
    ).toBe(204);
    for (const tab of tabs)
      expect(await closeFrame(tab, 5_000)).toEqual({ code: 1008, reason: "Access revoked" });
    expect(await watcher.next("presence")).toEqual({
      type: "presence",
      payload: { user_id: room.member.id, online: false },
    });
    expect(watcher.socket.readyState).toBe(watcher.socket.OPEN);
    expect((await as(app, room.owner).delete(`/channels/${channelId}`)).status).toBe(204);
    expect(await closeFrame(watcher, 5_000)).toEqual({ code: 1008, reason: "Channel deleted" });
  });

  it("keeps the socket of an archived channel open but refuses its messages", async () => {
    const channelId = await freshChannel();
    const socket = await joinChat(app, room, room.member, { channelId });
    expect(
      (await as(app, room.owner).patch(`/channels/${channelId}`, { json: { is_archived: true } })).status,
    ).toBe(200);
    socket.send({ type: "message", content: "hello?" });
    expect((await socket.next("error")).payload).toMatchObject({
      code: "forbidden",
      detail: "Channel is archived",
    });
    expect(socket.socket.readyState).toBe(socket.socket.OPEN);
    await socket.close();
  });
});

/**
 * What only the channel socket /ws/chat/{workspace_id}/{channel_id} does
 * (docs/original-defects.md#d2-channel-socket-authorization, docs/original-defects.md#d3-private-channels,
 * docs/original-defects.md#d7-socket-sessions-and-expiry, docs/original-defects.md#d14-rate-limit-bypass):
 * who of a workspace is admitted and the URL's workspace, a moderator's delete, the post limit shared with
 * REST, the presence listing, and closing sockets when a member, a private channel's membership or the
 * channel goes, or refusing messages of an archived channel. What every conversation socket does, channels
 * and threads alike, is test/conversations/sockets.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { windowWithRoom } from "../ratelimit/support";
import { startApp, type TestApp } from "../support/app";
import { as } from "../support/http";
import { chatPath, closeFrame, expectNothingPending, joinChat, refusal } from "../support/sockets";
import { registerUser } from "../support/users";
import { buildRoom, freshChannel, invite, post, type Room, storedContents } from "../support/worlds";
import { rawHandshake } from "../support/ws";

let app: TestApp;
let room: Room;

beforeAll(async () => {
  app = await startApp();
  room = await buildRoom(app);
});
afterAll(async () => {
  await app?.close();
});

describe("handshake", () => {
  it("admits the owner, an admin and a member of the channel's workspace", async () => {
    for (const user of [room.owner, room.admin, room.member]) {
      const socket = await joinChat(app, room, user);
      expect((await socket.next("presence")).payload).toMatchObject({ user_id: user.id, online: true });
      await socket.close();
    }
    const owner = await joinChat(app, room, room.owner, { channelId: room.privateChannelId });
    await owner.close();
  });

  it("refuses a URL naming another workspace than the channel's with 403, before the upgrade", async () => {
    const { workspaceId, otherWorkspaceId, channelId, otherChannelId } = room;
    const cases: [string, string, string][] = [
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
});

describe("deletes as events", () => {
  it("broadcasts a moderator's delete of a member's edited message, without its content", async () => {
    const channelId = await freshChannel(app, room);
    const watcher = await joinChat(app, room, room.owner, { channelId });
    const message = await post(app, room.member, channelId, "draft");
    await watcher.next("message");
    const edit = await as(app, room.member).patch(`/channels/${channelId}/messages/${message.id}`, {
      json: { content: "final" },
    });
    expect(edit.status).toBe(200);
    await watcher.next("message.updated");
    expect((await as(app, room.admin).delete(`/channels/${channelId}/messages/${message.id}`)).status).toBe(
      204,
    );
    const deleted = await watcher.next("message.deleted");
    expect(deleted.payload).toMatchObject({
      id: message.id,
      channel_id: channelId,
      workspace_id: room.workspaceId,
      user_id: room.member.id,
      content: "",
      is_deleted: true,
      is_edited: true,
    });
    expect(JSON.stringify(deleted)).not.toContain("final");
    await watcher.close();
  });
});

describe("post limit on the socket", () => {
  it("shares the 20 per 10 s window with REST and answers the excess with an error event", async () => {
    const channelId = await freshChannel(app, room);
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
    expect((await storedContents(app, "channel", channelId)).length).toBe(20);
    expect(socket.socket.readyState).toBe(socket.socket.OPEN);
    await socket.close();
  });
});

describe("presence", () => {
  it("lists the users with an open socket, once each, and announces first joins and last leaves", async () => {
    const channelId = await freshChannel(app, room);
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
    await invite(app, room.owner, room.workspaceId, user);
    const online = async () => (await as(app, room.owner).get(`/users/online?ids=${user.id}`)).body;
    expect(await online()).toEqual([{ user_id: user.id, online: false }]);
    const socket = await joinChat(app, room, user);
    expect(await online()).toEqual([{ user_id: user.id, online: true }]);
    await socket.close();
  });
});

describe("closing sockets that lost their right to exist", () => {
  it("closes the socket of a member removed from the workspace at once", async () => {
    const channelId = await freshChannel(app, room);
    const user = await registerUser(app, { displayName: "Leaver" });
    await invite(app, room.owner, room.workspaceId, user);
    const socket = await joinChat(app, room, user, { channelId });
    expect(
      (await as(app, room.owner).delete(`/workspaces/${room.workspaceId}/members/${user.id}`)).status,
    ).toBe(204);
    // The removal route tells the channel's object, which closes the socket without waiting
    // for it to write (a write would also be refused: every socket post re-checks access).
    expect(await closeFrame(socket, 5_000)).toEqual({ code: 1008, reason: "Access revoked" });
    expect(await storedContents(app, "channel", channelId)).toEqual([]);
  });

  it("closes a deleted channel's sockets at once", async () => {
    const channelId = await freshChannel(app, room);
    const socket = await joinChat(app, room, room.member, { channelId });
    expect((await as(app, room.owner).delete(`/channels/${channelId}`)).status).toBe(204);
    expect(await closeFrame(socket, 5_000)).toEqual({ code: 1008, reason: "Channel deleted" });
  });

  it("closes every socket of a member who loses a private channel, announces them gone, and keeps the others", async () => {
    const channelId = await freshChannel(app, room, { isPrivate: true });
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
    const channelId = await freshChannel(app, room);
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

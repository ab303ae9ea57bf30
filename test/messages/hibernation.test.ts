/**
 * The channel object's life across hibernation (issue 5, item 3;
 * docs/socket-protocol.md#limits-and-liveness): evicted while idle, it is re-created by the next event with
 * its sockets open and their state intact; the web app's pings are answered without waking it and still keep
 * a socket alive; a silent socket is closed after 25 s.
 *
 * These tests wait for real time to pass (Miniflare evicts an idle object after 10 to 15 s).
 * The sockets carry ordinary tokens with a session: revocations are pushed to the object, which
 * therefore has no reason to wake while its sockets are idle, and must not.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { as } from "../support/http";
import { closeFrame, joinChat, probe } from "../support/sockets";
import { buildRoom, post, type Room } from "../support/worlds";

let app: TestApp;
let room: Room;

beforeAll(async () => {
  app = await startApp();
  room = await buildRoom(app);
});
afterAll(async () => {
  await app?.close();
});

const PING = '{"type":"ping"}';

describe("hibernation", () => {
  it("is evicted while idle and wakes with its sockets and their state intact", async () => {
    const channelId = (
      await as(app, room.owner).post(`/workspaces/${room.workspaceId}/channels`, { json: { name: "sleepy" } })
    ).body.id as number;
    const owner = room.owner;
    const member = room.member;
    const watcher = await joinChat(app, room, owner, { channelId });
    const typist = await joinChat(app, room, member, { channelId });
    await watcher.next("presence");
    await watcher.next("presence");
    const before = await probe(app, "channel", channelId);
    expect(before.sockets).toBe(2);

    // The web app's pings, answered by the runtime: they keep the sockets alive without waking
    // the object, which is then evicted (Miniflare: after 10 to 15 s without events).
    const pinger = setInterval(() => {
      watcher.sendText(PING);
      typist.sendText(PING);
    }, 4_000);
    try {
      await new Promise((resolve) => setTimeout(resolve, 20_000));
    } finally {
      clearInterval(pinger);
    }
    const after = await probe(app, "channel", channelId);
    expect(after.instanceId).not.toBe(before.instanceId);
    expect(after.sockets).toBe(2);
    expect(watcher.pending().filter((f) => f.type === "pong").length).toBeGreaterThan(0);

    // The new instance knows each socket from its attachment: who it is, and their name.
    const message = await post(app, room.owner, channelId, "good morning");
    for (const socket of [watcher, typist]) {
      expect((await socket.next("message")).payload).toMatchObject({
        id: message.id,
        content: "good morning",
      });
    }
    typist.send({ type: "typing", is_typing: true });
    expect((await watcher.next("typing")).payload).toEqual({
      user_id: room.member.id,
      display_name: room.member.displayName,
      is_typing: true,
    });
    const presence = await as(app, room.owner).get(`/channels/${channelId}/presence`);
    expect(presence.body).toEqual(
      [room.owner, room.member]
        .sort((a, b) => a.id - b.id)
        .map((u) => ({ user_id: u.id, display_name: u.displayName })),
    );
    // client_id records live in the object's storage: a retry after the eviction is still a retry.
    typist.send({ type: "message", content: "before", client_id: "client:persist" });
    const first = await typist.next("message");
    await watcher.next("message");
    await typist.close();
    await watcher.close();
    const retried = await post(app, room.member, channelId, "before", "client:persist");
    expect(retried.id).toBe((first.payload as { id: number }).id);
  }, 60_000);
});

describe("the 25 s idle rule", () => {
  it("closes a silent socket with 1001 and keeps those that ping, either way", async () => {
    const member = room.member;
    const silent = await joinChat(app, room, member);
    const pinging = await joinChat(app, room, member);
    const chatty = await joinChat(app, room, member);
    // The exact ping (answered by the runtime) and any other frame (handled by the object) count.
    const timer = setInterval(() => {
      pinging.sendText(PING);
      chatty.send({ type: "ping", at: Date.now() });
    }, 5_000);
    try {
      expect(await closeFrame(silent, 40_000)).toEqual({ code: 1001, reason: "Idle timeout" });
      for (const socket of [pinging, chatty]) expect(socket.socket.readyState).toBe(socket.socket.OPEN);
      const message = await post(app, room.owner, room.channelId, "still awake?");
      for (const socket of [pinging, chatty]) {
        expect((await socket.next("message")).payload).toMatchObject({ id: message.id });
      }
    } finally {
      clearInterval(timer);
      await pinging.close();
      await chatty.close();
    }
  }, 60_000);
});

/**
 * One member cannot freeze the server (issue 13 item 1): a flood of frames into a busy channel is
 * throttled per socket and per user, oversized frames close their socket with 1009, and a user
 * cannot hold more than WS_MAX_SOCKETS_PER_USER sockets in one place; meanwhile other users'
 * REST posts and socket messages go through and are stored.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { as } from "../support/http";
import { closeFrame, joinChat } from "../support/sockets";
import { buildRoom, freshChannel, type Room } from "../support/worlds";
import type { SocketFrame, TestSocket } from "../support/ws";

let app: TestApp;
let room: Room;

beforeAll(async () => {
  app = await startApp({ env: { WS_MAX_SOCKETS_PER_USER: "6" } });
  room = await buildRoom(app);
}, 60_000);

afterAll(async () => {
  await app?.close();
});

const count = (frames: SocketFrame[], type: string) => frames.filter((f) => f.type === type).length;

describe("a member flooding a channel", () => {
  it("is throttled and then closed, while other users' REST and socket messages go through", async () => {
    const channelId = await freshChannel(app, room);
    const at = { channelId };
    const watchers: TestSocket[] = [];
    for (let i = 0; i < 5; i++) watchers.push(await joinChat(app, room, room.owner, at));
    for (let i = 0; i < 5; i++) watchers.push(await joinChat(app, room, room.admin, at));
    const flooders = [await joinChat(app, room, room.member, at), await joinChat(app, room, room.member, at)];

    // 3,000 typing frames as fast as the client can send them, from two sockets of one user.
    for (let i = 0; i < 1_500; i++) {
      for (const socket of flooders) socket.send({ type: "typing", is_typing: i % 2 === 0 });
    }
    // Meanwhile another user posts over REST and over a socket.
    const clientId = randomUUID();
    watchers[0]?.send({ type: "message", content: "still heard", client_id: clientId });
    const rest = await as(app, room.admin).post(`/channels/${channelId}/messages`, {
      json: { content: "still posted" },
    });
    expect(rest.status, rest.text).toBe(200);
    // The sender's own echo (the REST post's broadcast may come first).
    let echo: SocketFrame | undefined;
    for (let i = 0; i < 2 && (echo?.payload as { client_id?: string })?.client_id !== clientId; i++) {
      echo = await watchers[0]?.next("message", 15_000);
    }
    expect(echo?.payload).toMatchObject({ client_id: clientId, content: "still heard" });

    // Every flooding socket was closed for it, having been told to slow down first.
    for (const socket of flooders) {
      expect(await closeFrame(socket, 15_000)).toEqual({ code: 1008, reason: "Too many frames" });
      expect(
        socket
          .pending()
          .some((f) => f.type === "error" && (f.payload as { code: string }).code === "rate_limited"),
      ).toBe(true);
    }
    // The other sockets heard a bounded number of typing events: throttled per user, whatever the
    // number of the user's sockets or frames (at most 3 a second, here over a few seconds).
    const typing = count(watchers[1]?.pending() ?? [], "typing");
    expect(typing).toBeGreaterThan(0);
    expect(typing).toBeLessThan(60);
    const stored = await app.sql<{ content: string }[]>`
      select content from messages where channel_id = ${channelId} order by id`;
    expect(stored.map((row) => row.content).sort()).toEqual(["still heard", "still posted"]);
    for (const socket of watchers) await socket.close();
  }, 60_000);

  it("closes a socket that sends a frame over the size limit with 1009", async () => {
    const socket = await joinChat(app, room, room.member, { channelId: await freshChannel(app, room) });
    socket.sendText(JSON.stringify({ type: "message", content: "x".repeat(32 * 1024) }));
    expect((await closeFrame(socket, 5_000)).code).toBe(1009);
  });

  it("still takes a 4,000-character message, whatever its characters", async () => {
    const channelId = await freshChannel(app, room);
    const socket = await joinChat(app, room, room.member, { channelId });
    const content = "😀".repeat(4000);
    socket.send({ type: "message", content });
    expect((await socket.next("message")).payload).toMatchObject({ content });
    await socket.close();
  });

  it("refuses a user's socket beyond the limit per object with 429, before any upgrade", async () => {
    const channelId = await freshChannel(app, room);
    const open: TestSocket[] = [];
    for (let i = 0; i < 6; i++) open.push(await joinChat(app, room, room.member, { channelId }));
    await expect(joinChat(app, room, room.member, { channelId })).rejects.toMatchObject({ status: 429 });
    // Another user is not concerned, nor is the same user elsewhere.
    const other = await joinChat(app, room, room.owner, { channelId });
    const elsewhere = await joinChat(app, room, room.member, { channelId: await freshChannel(app, room) });
    for (const socket of [...open, other, elsewhere]) await socket.close();
  });
});

describe("with RATE_LIMITS_ENABLED=false (load tests)", () => {
  let unlimited: TestApp;
  let world: Room;

  beforeAll(async () => {
    unlimited = await startApp({ env: { RATE_LIMITS_ENABLED: "false" } });
    world = await buildRoom(unlimited);
  }, 60_000);

  afterAll(async () => {
    await unlimited?.close();
  });

  it("lifts the frame budget with the other limits, but not the frame size limit", async () => {
    const channelId = await freshChannel(unlimited, world);
    const sender = await joinChat(unlimited, world, world.member, { channelId });
    // Three times the burst the budget allows (four seconds at 10 frames a second), at once.
    const total = 120;
    for (let i = 0; i < total; i++) sender.send({ type: "message", content: `m${i}`, client_id: `c-${i}` });
    const echoes: string[] = [];
    while (echoes.length < total)
      echoes.push(((await sender.next("message", 15_000)).payload as { content: string }).content);
    expect(echoes).toEqual(Array.from({ length: total }, (_, i) => `m${i}`));
    expect(sender.pending().filter((f) => f.type === "error")).toEqual([]);

    sender.sendText(JSON.stringify({ type: "message", content: "x".repeat(32 * 1024) }));
    expect((await closeFrame(sender, 5_000)).code).toBe(1009);
  }, 60_000);
});

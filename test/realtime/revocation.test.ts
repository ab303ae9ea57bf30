/**
 * A revoked session's sockets close at once on every endpoint (issue 5 item 2, issue 6;
 * docs/original-defects.md#d7-socket-sessions-and-expiry): the sessions service pushes the revocation to the
 * user's notification feed, which closes its own sockets and forwards it to each channel room and DM thread
 * where the user holds sockets. The revoking request answers only once the push has been delivered, so right
 * after it the objects already hold no socket of the revoked session (read through the ENV=test probes; their
 * own safety-net re-check runs only with their idle sweeps, far later). No timing is asserted.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { as } from "../support/http";
import { closeFrame, joinChat, joinDm, notificationsOf, probe } from "../support/sockets";
import { jwtPayload, login, type TestUser } from "../support/users";
import { buildRoom, openThread, post, type Room } from "../support/worlds";

let app: TestApp;
let room: Room;

beforeAll(async () => {
  app = await startApp();
  room = await buildRoom(app);
});
afterAll(async () => {
  await app?.close();
});

/** How many open sockets a channel's or a thread's object holds right now. */
const socketsIn = async (kind: "channel" | "dm", id: number) => (await probe(app, kind, id)).sockets;

/** A second session (another device) of the room's member. */
async function secondDevice(): Promise<TestUser> {
  const tokens = await login(app, room.member.email, room.member.password);
  return { ...room.member, accessToken: tokens.access_token, refreshToken: tokens.refresh_token };
}

describe("revoking a session", () => {
  it("closes that session's sockets on every endpoint at once, and no other socket", async () => {
    const device = await secondDevice();
    const thread = await openThread(app, room.member, room.owner, room.workspaceId);
    const otherChannel = (
      await as(app, room.owner).post(`/workspaces/${room.workspaceId}/channels`, {
        json: { name: "elsewhere" },
      })
    ).body.id as number;

    const doomed = [
      await notificationsOf(app, device),
      await joinChat(app, room, device),
      await joinChat(app, room, device, { channelId: otherChannel }),
      await joinDm(app, thread.id, device),
    ];
    const kept = await joinChat(app, room, room.member);
    const keptFeed = await notificationsOf(app, room.member);

    const inChannel = await socketsIn("channel", otherChannel);
    const inThread = await socketsIn("dm", thread.id);
    const sid = String(jwtPayload(device.accessToken).sid);
    expect((await as(app, room.member).delete(`/auth/sessions/${sid}`)).status).toBe(204);
    // Already closed when the request answers: the push, not a later sweep, closed them.
    expect([await socketsIn("channel", otherChannel), await socketsIn("dm", thread.id)]).toEqual([
      inChannel - 1,
      inThread - 1,
    ]);
    for (const socket of doomed) {
      expect(await closeFrame(socket)).toEqual({ code: 1008, reason: "Session revoked" });
    }

    // The member's other session still hears the channel.
    const message = await post(app, room.owner, room.channelId, "after the revocation");
    expect((await kept.next("message")).payload).toMatchObject({ id: message.id });
    expect(keptFeed.socket.readyState).toBe(keptFeed.socket.OPEN);
    await kept.close();
    await keptFeed.close();
  }, 30_000);

  it("closes every other session's sockets on 'log out other devices', and keeps the caller's", async () => {
    const device = await secondDevice();
    const channelId = (
      await as(app, room.owner).post(`/workspaces/${room.workspaceId}/channels`, { json: { name: "others" } })
    ).body.id as number;
    const doomed = await joinChat(app, room, device, { channelId });
    const current = await secondDevice();
    const kept = await joinChat(app, room, current, { channelId });
    expect(await socketsIn("channel", channelId)).toBe(2);
    const res = await as(app, current).post("/auth/sessions/revoke-others");
    expect(res.status, res.text).toBe(200);
    expect(await socketsIn("channel", channelId)).toBe(1);
    expect(await closeFrame(doomed)).toEqual({ code: 1008, reason: "Session revoked" });
    const message = await post(app, room.owner, channelId, "still connected");
    expect((await kept.next("message")).payload).toMatchObject({ id: message.id });
    await kept.close();
  }, 30_000);

  it("closes the sockets of a session whose refresh token was reused", async () => {
    const device = await secondDevice();
    // A fresh channel: its object has no sweep pending that could close the socket instead.
    const channelId = (
      await as(app, room.owner).post(`/workspaces/${room.workspaceId}/channels`, { json: { name: "reuse" } })
    ).body.id as number;
    const socket = await joinChat(app, room, device, { channelId });
    const refresh = (token: string) => as(app).post("/auth/refresh", { json: { refresh_token: token } });
    const first = await refresh(device.refreshToken);
    expect(first.status).toBe(200);
    expect((await refresh(first.body.refresh_token as string)).status).toBe(200);
    // The first token is now two rotations old: presenting it is reuse, which revokes the session.
    expect(await socketsIn("channel", channelId)).toBe(1);
    expect((await refresh(device.refreshToken)).status).toBe(401);
    expect(await socketsIn("channel", channelId)).toBe(0);
    expect(await closeFrame(socket)).toEqual({ code: 1008, reason: "Session revoked" });
  }, 30_000);

  it("closes the sockets of users who reconnected, whether or not the room wrote where they are again", async () => {
    const channelId = (
      await as(app, room.owner).post(`/workspaces/${room.workspaceId}/channels`, { json: { name: "again" } })
    ).body.id as number;
    const revoke = async (device: TestUser) => {
      const sid = String(jwtPayload(device.accessToken).sid);
      expect((await as(app, device).delete(`/auth/sessions/${sid}`)).status).toBe(204);
    };
    // A first device registers the room in the user's set, then leaves.
    const first = await joinChat(app, room, await secondDevice(), { channelId });
    await first.close();
    while ((await socketsIn("channel", channelId)) > 0) await new Promise((r) => setTimeout(r, 50));

    // A reconnect within minutes: the room trusts its recent registration and writes nothing.
    const reconnected = await secondDevice();
    const socket = await joinChat(app, room, reconnected, { channelId });
    await revoke(reconnected);
    expect(await socketsIn("channel", channelId)).toBe(0);
    expect(await closeFrame(socket)).toEqual({ code: 1008, reason: "Session revoked" });

    // That revocation took the room out of the user's set (no socket of theirs was left in it), so
    // the next socket must be registered again: its revocation reaches it too.
    const later = await secondDevice();
    const laterSocket = await joinChat(app, room, later, { channelId });
    await revoke(later);
    expect(await socketsIn("channel", channelId)).toBe(0);
    expect(await closeFrame(laterSocket)).toEqual({ code: 1008, reason: "Session revoked" });
  }, 30_000);
});

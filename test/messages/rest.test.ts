/**
 * What only the channel message routes do (docs/original-defects.md#d14-rate-limit-bypass,
 * docs/original-defects.md#d17-missing-features): the codes of every route by role, the post limit, archived
 * channels, edits refused to moderators, deletes by moderators, and read state with unread counts. What every
 * conversation's message routes do, channels and threads alike (content rules, idempotent client_id,
 * pagination, the author's edit and delete), is test/conversations/messages.test.ts.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDatabase } from "../../src/db/client";
import { unreadCounts } from "../../src/services/messages";
import { windowWithRoom } from "../ratelimit/support";
import { startApp, type TestApp } from "../support/app";
import { as } from "../support/http";
import { registerUser } from "../support/users";
import { buildRoom, freshChannel, post, type Room, storedContents } from "../support/worlds";

let app: TestApp;
let room: Room;

beforeAll(async () => {
  app = await startApp();
  room = await buildRoom(app);
});
afterAll(async () => {
  await app?.close();
});

const messagesOf = (channelId: number | string) => `/channels/${channelId}/messages`;

const storedCount = async (channelId: number) => (await storedContents(app, "channel", channelId)).length;

describe("codes", () => {
  it("refuses anonymous callers with 401", async () => {
    for (const [method, path] of [
      ["GET", messagesOf(room.channelId)],
      ["POST", messagesOf(room.channelId)],
      ["PATCH", `${messagesOf(room.channelId)}/1`],
      ["DELETE", `${messagesOf(room.channelId)}/1`],
      ["GET", `/channels/${room.channelId}/presence`],
      ["POST", `/channels/${room.channelId}/read`],
    ] as const) {
      const json = method === "GET" ? undefined : { content: "x", last_read_message_id: 1 };
      const res = await as(app).request(method, path, { json });
      expect(res.status, `${method} ${path}`).toBe(401);
      expect(res.body).toEqual({ detail: "Not authenticated" });
    }
  });

  it("answers 404 for a missing channel and 403 for one the caller may not read", async () => {
    const cases: [string, number, number, string][] = [
      ["missing channel", 999_999, 404, "Not Found"],
      ["outsider", room.channelId, 403, "Forbidden"],
      ["member of another workspace", room.channelId, 403, "Forbidden"],
      ["member, private channel", room.privateChannelId, 403, "Forbidden"],
    ];
    const callers = [room.owner, room.outsider, room.stranger, room.member];
    for (const [index, [label, channelId, status, detail]] of cases.entries()) {
      const caller = callers[index];
      for (const res of [
        await as(app, caller).get(messagesOf(channelId)),
        await as(app, caller).post(messagesOf(channelId), { json: { content: "hi" } }),
        await as(app, caller).patch(`${messagesOf(channelId)}/1`, { json: { content: "hi" } }),
        await as(app, caller).delete(`${messagesOf(channelId)}/1`),
        await as(app, caller).get(`/channels/${channelId}/presence`),
        await as(app, caller).get(`/channels/${channelId}/read`),
        await as(app, caller).post(`/channels/${channelId}/read`, { json: { last_read_message_id: 1 } }),
      ]) {
        expect(res.status, label).toBe(status);
        expect(res.body, label).toEqual({ detail });
      }
    }
  });

  it("answers 422 in the original's vocabulary for bad path ids", async () => {
    const res = await as(app, room.owner).get(messagesOf("abc"));
    expect(res.status).toBe(422);
    expect(res.body.detail[0]).toMatchObject({
      loc: ["path", "channel_id"],
      msg: "value is not a valid integer",
      type: "type_error.integer",
    });
    const patch = await as(app, room.owner).patch(`${messagesOf(room.channelId)}/x`, {
      json: { content: "a" },
    });
    expect(patch.status).toBe(422);
    expect(patch.body.detail[0].loc).toEqual(["path", "message_id"]);
  });

  it("lets the owner, an admin and a member read and post; the private channel's member too", async () => {
    for (const user of [room.owner, room.admin, room.member]) {
      expect((await as(app, user).get(messagesOf(room.channelId))).status).toBe(200);
      await post(app, user, room.channelId, `hello from ${user.displayName}`);
    }
    await post(app, room.owner, room.privateChannelId, "secret");
    const list = await as(app, room.owner).get(messagesOf(room.privateChannelId));
    expect(list.body.map((m: { content: string }) => m.content)).toEqual(["secret"]);
  });
});

describe("posting", () => {
  it("limits each user to 20 posts per 10 s per channel with 429, and not other users", async () => {
    const channelId = await freshChannel(app, room);
    // The windows are aligned to the clock (the store's fixed windows): start the burst early in one.
    await windowWithRoom(10_000, 7_000);
    for (let i = 0; i < 19; i++) await post(app, room.member, channelId, `m${i}`);
    const last = await post(app, room.member, channelId, "the 20th", "client:last");
    const limited = await as(app, room.member).post(messagesOf(channelId), { json: { content: "one more" } });
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual({ detail: "Too many requests" });
    // A retry of a stored client_id writes nothing, so it is answered, not limited.
    expect(await post(app, room.member, channelId, "the 20th", "client:last")).toEqual(last);
    // Other users, and the same user elsewhere, have their own windows.
    await post(app, room.admin, channelId, "admin's");
    await post(app, room.member, await freshChannel(app, room), "elsewhere");
    expect(await storedCount(channelId)).toBe(21);
  });

  it("refuses posts, edits and deletes in an archived channel, and still serves its history", async () => {
    const channelId = await freshChannel(app, room);
    const message = await post(app, room.member, channelId, "before archiving");
    const archive = await as(app, room.owner).patch(`/channels/${channelId}`, {
      json: { is_archived: true },
    });
    expect(archive.status, archive.text).toBe(200);
    const refused = [
      await as(app, room.member).post(messagesOf(channelId), { json: { content: "after" } }),
      await as(app, room.member).patch(`${messagesOf(channelId)}/${message.id}`, { json: { content: "x" } }),
      await as(app, room.member).delete(`${messagesOf(channelId)}/${message.id}`),
    ];
    for (const res of refused)
      expect(res).toMatchObject({ status: 403, body: { detail: "Channel is archived" } });
    const list = await as(app, room.member).get(messagesOf(channelId));
    expect(list.body.map((m: { id: number }) => m.id)).toEqual([message.id]);
  });
});

describe("edit and delete", () => {
  it("refuses edits by anyone but the author, even the owner, with 403", async () => {
    const channelId = await freshChannel(app, room);
    const message = await post(app, room.member, channelId, "mine");
    for (const user of [room.owner, room.admin]) {
      const res = await as(app, user).patch(`${messagesOf(channelId)}/${message.id}`, {
        json: { content: "no" },
      });
      expect(res).toMatchObject({ status: 403, body: { detail: "Forbidden" } });
    }
    const outsider = await as(app, room.outsider).patch(`${messagesOf(channelId)}/${message.id}`, {
      json: { content: "no" },
    });
    expect(outsider.status).toBe(403);
    expect((await as(app, room.member).get(messagesOf(channelId))).body[0].content).toBe("mine");
  });

  it("lets the author, the owner and admins delete, and no other member", async () => {
    const channelId = await freshChannel(app, room);
    const [a, b, c, d] = [
      await post(app, room.member, channelId, "a"),
      await post(app, room.member, channelId, "b"),
      await post(app, room.member, channelId, "c"),
      await post(app, room.admin, channelId, "d"),
    ];
    const stranger = await registerUser(app);
    expect((await as(app, stranger).delete(`${messagesOf(channelId)}/${a.id}`)).status).toBe(403);
    expect((await as(app, room.member).delete(`${messagesOf(channelId)}/${d.id}`)).status).toBe(403);
    expect((await as(app, room.member).delete(`${messagesOf(channelId)}/${a.id}`)).status).toBe(204);
    expect((await as(app, room.admin).delete(`${messagesOf(channelId)}/${b.id}`)).status).toBe(204);
    expect((await as(app, room.owner).delete(`${messagesOf(channelId)}/${c.id}`)).status).toBe(204);
    const list = await as(app, room.member).get(messagesOf(channelId));
    expect(list.body.map((m: { id: number }) => m.id)).toEqual([d.id]);
    // Soft delete: the row stays, flagged.
    const rows =
      await app.sql`select id, is_deleted from messages where channel_id = ${channelId} order by id`;
    expect(rows.map((r) => r.is_deleted)).toEqual([true, true, true, false]);
  });
});

describe("read state", () => {
  const readOf = (channelId: number) => `/channels/${channelId}/read`;

  it("counts others' messages after the pointer, which only moves forward", async () => {
    const channelId = await freshChannel(app, room);
    const reader = room.member;
    expect((await as(app, reader).get(readOf(channelId))).body).toEqual({
      channel_id: channelId,
      last_read_message_id: 0,
      unread_count: 0,
    });
    const m1 = await post(app, room.owner, channelId, "one");
    const m2 = await post(app, room.admin, channelId, "two");
    await post(app, reader, channelId, "my own message does not count");
    const m4 = await post(app, room.owner, channelId, "four");
    expect((await as(app, reader).get(readOf(channelId))).body.unread_count).toBe(3);

    const moved = await as(app, reader).post(readOf(channelId), { json: { last_read_message_id: m2.id } });
    expect(moved.body).toEqual({ channel_id: channelId, last_read_message_id: m2.id, unread_count: 1 });
    // Backwards is ignored.
    const back = await as(app, reader).post(readOf(channelId), { json: { last_read_message_id: m1.id } });
    expect(back.body).toEqual({ channel_id: channelId, last_read_message_id: m2.id, unread_count: 1 });
    // Past the newest message is the newest message.
    const ahead = await as(app, reader).post(readOf(channelId), {
      json: { last_read_message_id: 2_000_000_000 },
    });
    expect(ahead.body).toEqual({ channel_id: channelId, last_read_message_id: m4.id, unread_count: 0 });
    const m5 = await post(app, room.owner, channelId, "five");
    expect((await as(app, reader).get(readOf(channelId))).body).toEqual({
      channel_id: channelId,
      last_read_message_id: m4.id,
      unread_count: 1,
    });
    // Deleted messages do not count; each user has their own pointer.
    expect((await as(app, room.owner).delete(`${messagesOf(channelId)}/${m5.id}`)).status).toBe(204);
    expect((await as(app, reader).get(readOf(channelId))).body.unread_count).toBe(0);
    expect((await as(app, room.admin).get(readOf(channelId))).body).toEqual({
      channel_id: channelId,
      last_read_message_id: 0,
      unread_count: 3,
    });
  });

  it("counts many channels in one call, for the channel listing (unreadCounts)", async () => {
    const [quiet, busy, read, flooded] = [
      await freshChannel(app, room),
      await freshChannel(app, room),
      await freshChannel(app, room),
      await freshChannel(app, room),
    ];
    for (let i = 0; i < 3; i++) await post(app, room.owner, busy, `busy ${i}`);
    await app.sql`
      insert into messages (channel_id, user_id, content, is_edited, is_deleted)
      select ${flooded}, ${room.owner.id}, 'flood', false, false from generate_series(1, 1005)`;
    const last = await post(app, room.owner, read, "read");
    await post(app, room.member, read, "mine");
    await as(app, room.member).post(readOf(read), { json: { last_read_message_id: last.id } });
    // The service itself, in Node, against the app's database: the listing's one call.
    const db = createDatabase({ url: app.database.url, connectTimeoutSeconds: 5 });
    try {
      const counts = await unreadCounts(db, room.member.id, [quiet, busy, read, flooded, 999_999]);
      // Counting stops at 1000 ("999+" in a client).
      expect(Object.fromEntries(counts)).toEqual({
        [quiet]: 0,
        [busy]: 3,
        [read]: 0,
        [flooded]: 1000,
        999999: 0,
      });
      expect((await unreadCounts(db, room.member.id, [])).size).toBe(0);
    } finally {
      await db.sql.end({ timeout: 1 });
    }
  });

  it("accepts numeric strings and refuses other ids with 422", async () => {
    const channelId = await freshChannel(app, room);
    const m = await post(app, room.owner, channelId, "x");
    const lenient = await as(app, room.member).post(readOf(channelId), {
      json: { last_read_message_id: String(m.id) },
    });
    expect(lenient.body.last_read_message_id).toBe(m.id);
    for (const body of [
      {},
      { last_read_message_id: -1 },
      { last_read_message_id: "x" },
      { last_read_message_id: 1.5 },
    ]) {
      const res = await as(app, room.member).post(readOf(channelId), { json: body });
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(res.body.detail[0].loc).toEqual(["body", "last_read_message_id"]);
    }
  });

  it("disappears with its channel", async () => {
    const channelId = await freshChannel(app, room);
    const m = await post(app, room.owner, channelId, "x");
    await as(app, room.member).post(readOf(channelId), { json: { last_read_message_id: m.id } });
    const res = await as(app, room.owner).delete(`/channels/${channelId}`);
    expect(res.status, res.text).toBe(204);
    const [row] = await app.sql<
      { n: number }[]
    >`select count(*)::int as n from channel_reads where channel_id = ${channelId}`;
    expect(row?.n).toBe(0);
  });
});

/**
 * Channel message routes (contract 2.8; D13, D14, D17): the codes of every route, content rules,
 * idempotent client_id, keyset pagination and its edges, edit and delete, the post limit,
 * archived channels, and read state with unread counts.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDatabase } from "../../src/db/client";
import { unreadCounts } from "../../src/services/messages";
import { windowWithRoom } from "../ratelimit/support";
import { startApp, type TestApp } from "../support/app";
import { as } from "../support/http";
import { registerUser } from "../support/users";
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

const messagesOf = (channelId: number | string) => `/channels/${channelId}/messages`;

async function storedCount(channelId: number): Promise<number> {
  const [row] = await app.sql<
    { n: number }[]
  >`select count(*)::int as n from messages where channel_id = ${channelId}`;
  return (row as { n: number }).n;
}

/** A fresh public channel of the room's workspace (own rate windows, own history). */
async function freshChannel(name = `c-${Math.random().toString(36).slice(2, 8)}`): Promise<number> {
  const res = await as(app, room.owner).post(`/workspaces/${room.workspaceId}/channels`, { json: { name } });
  expect(res.status, res.text).toBe(200);
  return res.body.id;
}

describe("codes (contract 2.8)", () => {
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
  it("answers MessageRead with the caller's client_id, which listings leave null", async () => {
    const channelId = await freshChannel();
    const res = await as(app, room.member).post(messagesOf(channelId), {
      json: { content: "first!", client_id: "client:abc" },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: expect.any(Number),
      channel_id: channelId,
      user_id: room.member.id,
      content: "first!",
      client_id: "client:abc",
      is_edited: false,
      is_deleted: false,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)$/),
      updated_at: null,
      author: { id: room.member.id, display_name: room.member.displayName, avatar_url: null },
    });
    const list = await as(app, room.member).get(messagesOf(channelId));
    expect(list.body).toEqual([{ ...res.body, client_id: null }]);
  });

  it("refuses empty, blank, too long and non-string content with 422 and stores nothing", async () => {
    const channelId = await freshChannel();
    const cases: [unknown, Record<string, unknown>][] = [
      [{ content: "" }, { loc: ["body", "content"], type: "value_error.any_str.min_length" }],
      [
        { content: "  \n\t " },
        { loc: ["body", "content"], msg: "content must not be blank", type: "value_error" },
      ],
      [
        { content: "x".repeat(4001) },
        {
          loc: ["body", "content"],
          msg: "ensure this value has at most 4000 characters",
          type: "value_error.any_str.max_length",
        },
      ],
      [{ content: 42 }, { loc: ["body", "content"], msg: "str type expected" }],
      [{}, { loc: ["body", "content"], msg: "field required", type: "value_error.missing" }],
      [{ content: "ok", client_id: "c".repeat(129) }, { loc: ["body", "client_id"] }],
      [{ content: "ok", client_id: 7 }, { loc: ["body", "client_id"] }],
      [[], { loc: ["body"], msg: "value is not a valid dict" }],
    ];
    for (const [body, issue] of cases) {
      const res = await as(app, room.member).post(messagesOf(channelId), { json: body });
      expect(res.status, JSON.stringify(body).slice(0, 40)).toBe(422);
      expect(res.body.detail[0]).toMatchObject(issue);
    }
    const missing = await as(app, room.member).post(messagesOf(channelId));
    expect(missing.status).toBe(422);
    expect(missing.body.detail).toEqual([
      { loc: ["body"], msg: "field required", type: "value_error.missing" },
    ]);
    const malformed = await as(app, room.member).post(messagesOf(channelId), {
      raw: "{not json",
      headers: { "Content-Type": "application/json" },
    });
    expect(malformed.status).toBe(422);
    expect(await storedCount(channelId)).toBe(0);
  });

  it("counts content in code points: 4000 emoji are accepted, and text is stored verbatim", async () => {
    const channelId = await freshChannel();
    const emoji = "😀".repeat(4000); // 8000 UTF-16 units
    expect((await post(app, room.member, channelId, emoji)).content).toBe(emoji);
    const padded = "  indented\nsecond line  ";
    expect((await post(app, room.member, channelId, padded)).content).toBe(padded);
    const tooLong = await as(app, room.member).post(messagesOf(channelId), {
      json: { content: `${emoji}a` },
    });
    expect(tooLong.status).toBe(422);
  });

  it("returns the first message again for a repeated client_id, per user and channel (D14)", async () => {
    const channelId = await freshChannel();
    const otherChannelId = await freshChannel();
    const first = await post(app, room.member, channelId, "once", "client:dup");
    const again = await post(app, room.member, channelId, "once (retried)", "client:dup");
    expect(again).toEqual(first);
    expect(await storedCount(channelId)).toBe(1);

    // Another user, or another channel, with the same client_id is another message.
    const byOther = await post(app, room.admin, channelId, "mine", "client:dup");
    expect(byOther.id).not.toBe(first.id);
    const elsewhere = await post(app, room.member, otherChannelId, "there", "client:dup");
    expect(elsewhere.id).not.toBe(first.id);
    // No client_id, or an empty one, is never deduplicated.
    await post(app, room.member, channelId, "once");
    await post(app, room.member, channelId, "once");
    await post(app, room.member, channelId, "once", "");
    expect(await storedCount(channelId)).toBe(5);
  });

  it("stores one message when the same client_id is posted concurrently", async () => {
    const channelId = await freshChannel();
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        as(app, room.member).post(messagesOf(channelId), {
          json: { content: "race", client_id: "client:race" },
        }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
    expect(await storedCount(channelId)).toBe(1);
  });

  it("limits each user to 20 posts per 10 s per channel with 429, and not other users (D14)", async () => {
    const channelId = await freshChannel();
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
    await post(app, room.member, await freshChannel(), "elsewhere");
    expect(await storedCount(channelId)).toBe(21);
  });

  it("refuses posts, edits and deletes in an archived channel, and still serves its history", async () => {
    const channelId = await freshChannel();
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

describe("pagination (D13)", () => {
  let channelId: number;
  let ids: number[];

  beforeAll(async () => {
    channelId = await freshChannel();
    // 120 messages straight into the table (they predate this test's object), same timestamp:
    // only the id orders them.
    const rows = await app.sql<{ id: number }[]>`
      insert into messages (channel_id, user_id, content, is_edited, is_deleted, created_at)
      select ${channelId}, ${room.member.id}, 'm' || g, false, false, '2026-01-01T00:00:00Z'
      from generate_series(1, 120) as g
      returning id`;
    ids = rows.map((r) => r.id).sort((a, b) => a - b);
  });

  const page = async (query: string) => {
    const res = await as(app, room.member).get(`${messagesOf(channelId)}?${query}`);
    expect(res.status, `${query}: ${res.text}`).toBe(200);
    return (res.body as { id: number }[]).map((m) => m.id);
  };
  const newest = (n: number, below = Number.POSITIVE_INFINITY) =>
    ids
      .filter((id) => id < below)
      .slice(-n)
      .reverse();

  it("defaults to the newest 50, newest first, ordered by id although timestamps are equal", async () => {
    expect(await page("")).toEqual(newest(50));
  });

  it("clamps limit to 1..100", async () => {
    expect(await page("limit=0")).toEqual(newest(1));
    expect(await page("limit=-5")).toEqual(newest(1));
    expect(await page("limit=1")).toEqual(newest(1));
    expect(await page("limit=100")).toEqual(newest(100));
    expect(await page("limit=101")).toEqual(newest(100));
    expect(await page("limit=100000")).toEqual(newest(100));
    expect(await page("limit=%2B7")).toEqual(newest(7));
  });

  it("refuses a limit or cursor that is not an integer with 422", async () => {
    for (const [query, field] of [
      ["limit=abc", "limit"],
      ["limit=1.5", "limit"],
      ["limit=", "limit"],
      ["before_id=x", "before_id"],
      ["after_id=2.0", "after_id"],
      ["before_id=-1", "before_id"],
      ["after_id=-3", "after_id"],
      ["before_id=99999999999", "before_id"],
    ]) {
      const res = await as(app, room.member).get(`${messagesOf(channelId)}?${query}`);
      expect(res.status, query).toBe(422);
      expect(res.body.detail[0].loc, query).toEqual(["query", field]);
    }
  });

  it("pages backwards with before_id without gaps or repeats", async () => {
    const seen: number[] = [];
    let cursor: number | undefined;
    for (;;) {
      const batch = await page(`limit=33${cursor === undefined ? "" : `&before_id=${cursor}`}`);
      if (batch.length === 0) break;
      seen.push(...batch);
      cursor = batch[batch.length - 1];
    }
    expect(seen).toEqual([...ids].reverse());
    expect(await page(`before_id=${ids[0]}`)).toEqual([]);
    expect(await page("before_id=0")).toEqual([]);
  });

  it("pages forwards with after_id, oldest first, without gaps or repeats", async () => {
    const seen: number[] = [];
    let cursor = 0;
    for (;;) {
      const batch = await page(`limit=45&after_id=${cursor}`);
      if (batch.length === 0) break;
      seen.push(...batch);
      cursor = batch[batch.length - 1] as number;
    }
    expect(seen).toEqual(ids);
    expect(await page(`after_id=${ids[ids.length - 1]}`)).toEqual([]);
  });

  it("with both cursors, returns the messages between them, oldest first", async () => {
    const a = ids[10] as number;
    const b = ids[16] as number;
    expect(await page(`after_id=${a}&before_id=${b}`)).toEqual(ids.slice(11, 16));
    expect(await page(`after_id=${a}&before_id=${b}&limit=2`)).toEqual(ids.slice(11, 13));
    expect(await page(`after_id=${b}&before_id=${a}`)).toEqual([]);
  });

  it("skips deleted messages", async () => {
    const victim = ids[ids.length - 1] as number;
    const res = await as(app, room.member).delete(`${messagesOf(channelId)}/${victim}`);
    expect(res.status).toBe(204);
    expect(await page("limit=2")).toEqual(newest(2, victim));
    ids = ids.slice(0, -1);
  });
});

describe("edit and delete (D17)", () => {
  it("lets the author edit: content, is_edited and updated_at change", async () => {
    const channelId = await freshChannel();
    const message = await post(app, room.member, channelId, "typo", "client:e");
    const res = await as(app, room.member).patch(`${messagesOf(channelId)}/${message.id}`, {
      json: { content: "fixed" },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: message.id,
      content: "fixed",
      is_edited: true,
      is_deleted: false,
      client_id: null,
      created_at: message.created_at,
    });
    expect(typeof res.body.updated_at).toBe("string");
    const [listed] = (await as(app, room.owner).get(messagesOf(channelId))).body;
    expect(listed).toEqual(res.body);
  });

  it("refuses edits by anyone but the author, even the owner, with 403", async () => {
    const channelId = await freshChannel();
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

  it("answers 404 for a missing message, one of another channel, or a deleted one", async () => {
    const channelId = await freshChannel();
    const otherChannelId = await freshChannel();
    const elsewhere = await post(app, room.member, otherChannelId, "elsewhere");
    const deleted = await post(app, room.member, channelId, "gone soon");
    expect((await as(app, room.member).delete(`${messagesOf(channelId)}/${deleted.id}`)).status).toBe(204);
    for (const id of [999_999, elsewhere.id, deleted.id]) {
      const edit = await as(app, room.member).patch(`${messagesOf(channelId)}/${id}`, {
        json: { content: "x" },
      });
      expect(edit).toMatchObject({ status: 404, body: { detail: "Message not found" } });
      const del = await as(app, room.member).delete(`${messagesOf(channelId)}/${id}`);
      expect(del).toMatchObject({ status: 404, body: { detail: "Message not found" } });
    }
  });

  it("validates edited content like new content", async () => {
    const channelId = await freshChannel();
    const message = await post(app, room.member, channelId, "ok");
    for (const content of ["", "   ", "x".repeat(4001)]) {
      const res = await as(app, room.member).patch(`${messagesOf(channelId)}/${message.id}`, {
        json: { content },
      });
      expect(res.status).toBe(422);
    }
  });

  it("lets the author, the owner and admins delete, and no other member", async () => {
    const channelId = await freshChannel();
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

  it("no longer serves a deleted message's content, even to its client_id", async () => {
    const channelId = await freshChannel();
    const message = await post(app, room.member, channelId, "regrettable", "client:regret");
    expect((await as(app, room.member).delete(`${messagesOf(channelId)}/${message.id}`)).status).toBe(204);
    const replay = await post(app, room.member, channelId, "regrettable", "client:regret");
    expect(replay).toMatchObject({ id: message.id, content: "", is_deleted: true });
  });
});

describe("read state", () => {
  const readOf = (channelId: number) => `/channels/${channelId}/read`;

  it("counts others' messages after the pointer, which only moves forward", async () => {
    const channelId = await freshChannel();
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
      await freshChannel(),
      await freshChannel(),
      await freshChannel(),
      await freshChannel(),
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
    const channelId = await freshChannel();
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
    const channelId = await freshChannel();
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

/**
 * Read state of direct messages (docs/original-defects.md#d15-store-expiry-and-outages): GET read-status and
 * POST read, the pointer only moving forward and never past the newest message, read receipts over REST
 * reaching the thread's sockets, unread counts that agree across two devices of one user, and that survive a
 * restart, because they live in PostgreSQL rather than the store.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { api, as } from "../support/http";
import { joinDm } from "../support/sockets";
import { login, type TestUser } from "../support/users";
import { buildCast, type Cast, newMember, openThread, postDm, type ThreadBody } from "../support/worlds";

let database: TestDatabase;
let app: TestApp;
let cast: Cast;

beforeAll(async () => {
  // A database of the test's own, kept across the restart below.
  database = await createTestDatabase();
  app = await startApp({ database });
  cast = await buildCast(app, "read");
});
afterAll(async () => {
  await app?.close();
  await database?.drop();
});

const readStatusOf = (threadId: number) => `/dm/threads/${threadId}/read-status`;
const readOf = (threadId: number) => `/dm/threads/${threadId}/read`;

async function freshPair(): Promise<{ threadId: number; a: TestUser; b: TestUser }> {
  const [a, b] = [await newMember(app, cast, "ReadA"), await newMember(app, cast, "ReadB")];
  return { threadId: (await openThread(app, a, b, cast.workspaceId)).id, a, b };
}

async function unreadIn(
  user: TestUser,
  threadId: number,
  token = user.accessToken,
): Promise<number | undefined> {
  const res = await api(app, { token }).get("/dm/threads");
  expect(res.status, res.text).toBe(200);
  return (res.body as ThreadBody[]).find((t) => t.id === threadId)?.unread_count;
}

describe("read-status and read", () => {
  it("starts at 0 and reports both participants' pointers", async () => {
    const { threadId, a, b } = await freshPair();
    expect((await as(app, a).get(readStatusOf(threadId))).body).toEqual({
      thread_id: threadId,
      self_last_read_message_id: 0,
      other_last_read_message_id: 0,
      unread_count: 0,
    });
    const m1 = await postDm(app, a, threadId, "one");
    const m2 = await postDm(app, a, threadId, "two");
    const read = await as(app, b).post(readOf(threadId), { json: { last_read_message_id: m1.id } });
    expect(read.body).toEqual({
      thread_id: threadId,
      self_last_read_message_id: m1.id,
      other_last_read_message_id: 0,
      unread_count: 1,
    });
    expect((await as(app, a).get(readStatusOf(threadId))).body).toEqual({
      thread_id: threadId,
      self_last_read_message_id: 0,
      other_last_read_message_id: m1.id,
      unread_count: 0,
    });
    expect((await as(app, b).get(readStatusOf(threadId))).body.unread_count).toBe(1);
    expect(m2.id).toBeGreaterThan(m1.id);
  });

  it("only moves forward, never past the newest message, and null or 0 means everything so far", async () => {
    const { threadId, a, b } = await freshPair();
    const [m1, m2, m3] = [
      await postDm(app, a, threadId, "1"),
      await postDm(app, a, threadId, "2"),
      await postDm(app, a, threadId, "3"),
    ];
    const pointer = async (body: object) => {
      const res = await as(app, b).post(readOf(threadId), { json: body });
      expect(res.status, res.text).toBe(200);
      return [res.body.self_last_read_message_id, res.body.unread_count];
    };
    expect(await pointer({ last_read_message_id: m2.id })).toEqual([m2.id, 1]);
    expect(await pointer({ last_read_message_id: m1.id })).toEqual([m2.id, 1]);
    expect(await pointer({ last_read_message_id: String(m1.id) })).toEqual([m2.id, 1]);
    expect(await pointer({ last_read_message_id: 2_000_000_000 })).toEqual([m3.id, 0]);
    const m4 = await postDm(app, a, threadId, "4");
    expect(await pointer({ last_read_message_id: null })).toEqual([m4.id, 0]);
    const m5 = await postDm(app, a, threadId, "5");
    expect(await pointer({})).toEqual([m5.id, 0]);
    const m6 = await postDm(app, a, threadId, "6");
    expect(await pointer({ last_read_message_id: 0 })).toEqual([m6.id, 0]);
    // A (newer) message id of another thread is no license to read ahead here.
    const { threadId: otherThread, a: x } = await freshPair();
    const elsewhere = await postDm(app, x, otherThread, "elsewhere");
    expect(elsewhere.id).toBeGreaterThan(m6.id);
    expect(await pointer({ last_read_message_id: elsewhere.id })).toEqual([m6.id, 0]);
    const m7 = await postDm(app, a, threadId, "7");
    expect((await as(app, b).get(readStatusOf(threadId))).body).toMatchObject({
      self_last_read_message_id: m6.id,
      unread_count: 1,
    });
    expect(m7.id).toBeGreaterThan(elsewhere.id);
  });

  it("answers bad bodies with 422", async () => {
    const { threadId, b } = await freshPair();
    for (const body of [
      { last_read_message_id: -1 },
      { last_read_message_id: "x" },
      { last_read_message_id: 1.5 },
    ]) {
      const res = await as(app, b).post(readOf(threadId), { json: body });
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(res.body.detail[0].loc).toEqual(["body", "last_read_message_id"]);
    }
    // The body itself is required, as in the original.
    expect(await as(app, b).post(readOf(threadId))).toMatchObject({
      status: 422,
      body: { detail: [{ loc: ["body"], msg: "field required", type: "value_error.missing" }] },
    });
    expect((await as(app, b).post(readOf(threadId), { json: [] })).status).toBe(422);
  });

  it("broadcasts a REST read as a receipt to the thread's sockets", async () => {
    const { threadId, a, b } = await freshPair();
    const message = await postDm(app, a, threadId, "read me");
    const sockets = [await joinDm(app, threadId, a), await joinDm(app, threadId, b)];
    expect(
      (await as(app, b).post(readOf(threadId), { json: { last_read_message_id: message.id } })).status,
    ).toBe(200);
    for (const socket of sockets) {
      expect(await socket.next("read")).toEqual({
        type: "read",
        payload: { thread_id: threadId, user_id: b.id, last_read_message_id: message.id },
      });
    }
    for (const socket of sockets) await socket.close();
  });
});

describe("unread counts", () => {
  it("agree across two devices of the same user, whichever device reads", async () => {
    const { threadId, a, b } = await freshPair();
    const laptop = b.accessToken;
    const phone = (await login(app, b.email, b.password)).access_token;
    const m1 = await postDm(app, a, threadId, "one");
    await postDm(app, a, threadId, "two");
    const m3 = await postDm(app, a, threadId, "three");
    expect(await unreadIn(b, threadId, laptop)).toBe(3);
    expect(await unreadIn(b, threadId, phone)).toBe(3);

    // The laptop reads the first message over its thread socket.
    const socket = await joinDm(app, threadId, b, { token: laptop });
    socket.send({ type: "read", last_read_message_id: m1.id });
    await socket.next("read");
    expect(await unreadIn(b, threadId, phone)).toBe(2);
    expect(await unreadIn(b, threadId, laptop)).toBe(2);

    // The phone reads everything over REST; the laptop's socket hears of it.
    await api(app, { token: phone }).post(readOf(threadId), { json: { last_read_message_id: m3.id } });
    expect((await socket.next("read")).payload).toMatchObject({ user_id: b.id, last_read_message_id: m3.id });
    expect(await unreadIn(b, threadId, laptop)).toBe(0);
    // A late read from the laptop does not un-read anything.
    socket.send({ type: "read", last_read_message_id: m1.id });
    expect((await socket.next("read")).payload).toMatchObject({ last_read_message_id: m3.id });
    expect(await unreadIn(b, threadId, phone)).toBe(0);

    await postDm(app, a, threadId, "four");
    expect(await unreadIn(b, threadId, laptop)).toBe(1);
    expect(await unreadIn(b, threadId, phone)).toBe(1);
    expect(await unreadIn(a, threadId)).toBe(0);
    await socket.close();
  });

  it("survive a restart of the service, and do not depend on the store", async () => {
    const { threadId, a, b } = await freshPair();
    const m1 = await postDm(app, a, threadId, "one");
    await postDm(app, a, threadId, "two");
    await as(app, b).post(readOf(threadId), { json: { last_read_message_id: m1.id } });
    const before = (await as(app, b).get(readStatusOf(threadId))).body;
    expect(before).toMatchObject({ self_last_read_message_id: m1.id, unread_count: 1 });

    // A new Worker on the same database, with a store of its own (another key prefix).
    await app.close();
    app = await startApp({ database });
    expect((await as(app, b).get(readStatusOf(threadId))).body).toEqual(before);
    expect((await as(app, a).get(readStatusOf(threadId))).body.other_last_read_message_id).toBe(m1.id);
    expect(await unreadIn(b, threadId)).toBe(1);
    const [row] = await app.sql`select last_read_message_id from direct_message_reads
                                where thread_id = ${threadId} and user_id = ${b.id}`;
    expect(row?.last_read_message_id).toBe(m1.id);
  });
});

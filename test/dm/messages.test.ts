/**
 * Direct-message message routes (contract 2.9; D13, D14, D17): the authorization matrix of every
 * thread route, content rules, idempotent client_id, keyset pagination (and the web app's offset),
 * edit and delete by the sender only.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { api, as } from "../support/http";
import { login, type TestUser } from "../support/users";
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

let app: TestApp;
let cast: Cast;
let thread: ThreadBody;

beforeAll(async () => {
  app = await startApp();
  cast = await buildCast(app, "msg");
  thread = await openThread(app, cast.alice, cast.bob, cast.workspaceId);
});
afterAll(async () => {
  await app?.close();
});

const messagesOf = (threadId: number | string) => `/dm/threads/${threadId}/messages`;

async function storedContents(threadId: number): Promise<string[]> {
  const rows = await app.sql<{ content: string }[]>`
    select content from direct_messages where thread_id = ${threadId} order by id`;
  return rows.map((r) => r.content);
}

/** A thread of its own (own history, own rate window). */
async function freshThread(): Promise<{ thread: ThreadBody; a: TestUser; b: TestUser }> {
  const [a, b] = [await newMember(app, cast, "FreshA"), await newMember(app, cast, "FreshB")];
  return { thread: await openThread(app, a, b, cast.workspaceId), a, b };
}

/** Every route of a thread, with a body that would be valid. */
function routesOf(threadId: number | string, messageId: number | string = 1) {
  return [
    ["GET", messagesOf(threadId), undefined],
    ["POST", messagesOf(threadId), { content: "hi" }],
    ["PATCH", `${messagesOf(threadId)}/${messageId}`, { content: "hi" }],
    ["DELETE", `${messagesOf(threadId)}/${messageId}`, undefined],
    ["GET", `/dm/threads/${threadId}/read-status`, undefined],
    ["POST", `/dm/threads/${threadId}/read`, { last_read_message_id: null }],
  ] as const;
}

describe("authorization matrix (contract 2.9)", () => {
  it("lets both participants use every route", async () => {
    const { thread: own, a, b } = await freshThread();
    for (const user of [a, b]) {
      const message = await postDm(app, user, own.id, `from ${user.displayName}`);
      for (const [method, path, json] of routesOf(own.id, message.id)) {
        if (method === "POST" && path.endsWith("/messages")) continue;
        const res = await as(app, user).request(method, path, { json });
        expect(res.status, `${method} ${path}`).toBe(method === "DELETE" ? 204 : 200);
      }
    }
  });

  it("lets a pair of friends who share no workspace use every route", async () => {
    const [a, b] = [await userInNoWorkspace(app, "FriendA"), await userInNoWorkspace(app, "FriendB")];
    await befriend(app, a, b);
    const own = await openThread(app, a, b, await workspaceOf(app, a));
    for (const user of [a, b]) {
      const message = await postDm(app, user, own.id, `from ${user.displayName}`);
      for (const [method, path, json] of routesOf(own.id, message.id)) {
        const res = await as(app, user).request(method, path, { json });
        expect(res.status, `${method} ${path}`).toBe(method === "DELETE" ? 204 : 200);
      }
    }
  });

  it("lets a pair that can no longer reach each other read, mark read and delete; posting and editing answer 403", async () => {
    const { thread: own, a, b } = await freshThread();
    const messages = [await postDm(app, a, own.id, "from a"), await postDm(app, b, own.id, "from b")];
    expect((await as(app, cast.alice).delete(`/workspaces/${cast.workspaceId}/members/${b.id}`)).status).toBe(
      204,
    );
    const readOnly = {
      detail: "Thread is read-only: its participants share no workspace and are not friends",
    };
    for (const [user, message] of [
      [a, messages[0]],
      [b, messages[1]],
    ] as const) {
      for (const [method, path, json] of routesOf(own.id, message?.id)) {
        const res = await as(app, user).request(method, path, { json });
        const says = method === "POST" && path.endsWith("/messages");
        if (says || method === "PATCH") {
          expect(res, `${method} ${path}`).toMatchObject({ status: 403, body: readOnly });
        } else {
          expect(res.status, `${method} ${path}`).toBe(method === "DELETE" ? 204 : 200);
        }
      }
    }
    expect(await storedContents(own.id)).toEqual(["from a", "from b"]);
  });

  it("refuses a member of the same workspace, another workspace's member and a user in none with 403", async () => {
    const message = await postDm(app, cast.alice, thread.id, "private");
    for (const user of [cast.carol, cast.dave, cast.olga]) {
      for (const [method, path, json] of routesOf(thread.id, message.id)) {
        const res = await as(app, user).request(method, path, { json });
        expect(res.status, `${user.displayName} ${method} ${path}`).toBe(403);
        expect(res.body).toEqual({ detail: "Not part of this thread" });
      }
    }
    expect(await storedContents(thread.id)).not.toContain("hi");
  });

  it("answers 404 for a missing thread, 401 without a token or with a revoked session", async () => {
    for (const [method, path, json] of routesOf(2_000_000_000)) {
      const res = await as(app, cast.alice).request(method, path, { json });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body).toEqual({ detail: "Thread not found" });
    }
    const session = await login(app, cast.alice.email, cast.alice.password);
    expect((await api(app, { token: session.access_token }).post("/auth/logout")).status).toBe(204);
    for (const [method, path, json] of routesOf(thread.id)) {
      expect(await api(app).request(method, path, { json }), `${method} ${path}`).toMatchObject({
        status: 401,
        body: { detail: "Not authenticated" },
      });
      expect(await api(app, { token: session.access_token }).request(method, path, { json })).toMatchObject({
        status: 401,
        body: { detail: "Session revoked" },
      });
    }
  });

  it("answers 422 for ids that are not integers", async () => {
    for (const [method, path, json] of routesOf("abc")) {
      const res = await as(app, cast.alice).request(method, path, { json });
      expect(res.status, `${method} ${path}`).toBe(422);
      expect(res.body.detail[0]).toMatchObject({
        loc: ["path", "thread_id"],
        msg: "value is not a valid integer",
        type: "type_error.integer",
      });
    }
    for (const method of ["PATCH", "DELETE"]) {
      const res = await as(app, cast.alice).request(method, `${messagesOf(thread.id)}/x`, {
        json: { content: "a" },
      });
      expect(res.status).toBe(422);
      expect(res.body.detail[0].loc).toEqual(["path", "message_id"]);
    }
    expect((await as(app, cast.alice).get(messagesOf(99_999_999_999))).status).toBe(422);
  });
});

describe("posting", () => {
  it("answers DirectMessageRead with the caller's client_id, which listings leave null", async () => {
    const { thread: own, a, b } = await freshThread();
    const res = await as(app, a).post(messagesOf(own.id), {
      json: { content: "hello", client_id: "client:1" },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: expect.any(Number),
      thread_id: own.id,
      user_id: a.id,
      content: "hello",
      client_id: "client:1",
      is_deleted: false,
      is_edited: false,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)$/),
      updated_at: null,
      author: { id: a.id, display_name: a.displayName, avatar_url: null },
    });
    expect((await as(app, b).get(messagesOf(own.id))).body).toEqual([{ ...res.body, client_id: null }]);
  });

  it("refuses empty, blank, too long and non-string content with 422 and stores nothing", async () => {
    const { thread: own, a } = await freshThread();
    const cases: [unknown, Record<string, unknown>][] = [
      [{ content: "" }, { loc: ["body", "content"], type: "value_error.any_str.min_length" }],
      [{ content: " \n " }, { loc: ["body", "content"], msg: "content must not be blank" }],
      [{ content: "x".repeat(4001) }, { loc: ["body", "content"], type: "value_error.any_str.max_length" }],
      [{ content: 42 }, { loc: ["body", "content"], msg: "str type expected" }],
      [{}, { loc: ["body", "content"], msg: "field required" }],
      [{ content: "ok", client_id: "c".repeat(129) }, { loc: ["body", "client_id"] }],
      [{ content: "ok", client_id: 7 }, { loc: ["body", "client_id"] }],
      [[], { loc: ["body"], msg: "value is not a valid dict" }],
    ];
    for (const [body, issue] of cases) {
      const res = await as(app, a).post(messagesOf(own.id), { json: body });
      expect(res.status, JSON.stringify(body).slice(0, 40)).toBe(422);
      expect(res.body.detail[0]).toMatchObject(issue);
    }
    expect((await as(app, a).post(messagesOf(own.id))).status).toBe(422);
    // 4000 code points are fine, whatever their UTF-16 length.
    expect((await postDm(app, a, own.id, "😀".repeat(4000))).content).toHaveLength(8000);
    expect(await storedContents(own.id)).toEqual(["😀".repeat(4000)]);
  });

  it("returns the first message again for a repeated client_id, per user and thread", async () => {
    const { thread: own, a, b } = await freshThread();
    const first = await postDm(app, a, own.id, "once", "client:dup");
    expect(await postDm(app, a, own.id, "once (retried)", "client:dup")).toEqual(first);
    const byOther = await postDm(app, b, own.id, "mine", "client:dup");
    expect(byOther.id).not.toBe(first.id);
    const elsewhere = await postDm(app, a, (await freshThreadWith(a)).id, "x", "client:dup");
    expect(elsewhere.id).not.toBe(first.id);
    await postDm(app, a, own.id, "once");
    await postDm(app, a, own.id, "once", "");
    expect(await storedContents(own.id)).toEqual(["once", "mine", "once", "once"]);
  });

  it("stores one message when the same client_id is posted concurrently", async () => {
    const { thread: own, a } = await freshThread();
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        as(app, a).post(messagesOf(own.id), { json: { content: "race", client_id: "client:race" } }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
    expect(await storedContents(own.id)).toEqual(["race"]);
  });
});

/** Another thread of `user` (with a new partner). */
async function freshThreadWith(user: TestUser): Promise<ThreadBody> {
  return openThread(app, user, await newMember(app, cast, "Partner"), cast.workspaceId);
}

describe("pagination (D13)", () => {
  let threadId: number;
  let ids: number[];
  let reader: TestUser;

  beforeAll(async () => {
    const own = await freshThread();
    threadId = own.thread.id;
    reader = own.b;
    // 120 messages straight into the table, same timestamp: only the id orders them.
    const rows = await app.sql<{ id: number }[]>`
      insert into direct_messages (thread_id, sender_id, content, created_at)
      select ${threadId}, ${own.a.id}, 'm' || g, '2026-01-01T00:00:00Z' from generate_series(1, 120) as g
      returning id`;
    ids = rows.map((r) => r.id).sort((a, b) => a - b);
  });

  const page = async (query: string) => {
    const res = await as(app, reader).get(`${messagesOf(threadId)}?${query}`);
    expect(res.status, `${query}: ${res.text}`).toBe(200);
    return (res.body as { id: number }[]).map((m) => m.id);
  };
  const newest = (n: number, below = Number.POSITIVE_INFINITY) =>
    ids
      .filter((id) => id < below)
      .slice(-n)
      .reverse();

  it("defaults to the newest 50, newest first, and clamps limit to 1..100", async () => {
    expect(await page("")).toEqual(newest(50));
    expect(await page("limit=0")).toEqual(newest(1));
    expect(await page("limit=-5")).toEqual(newest(1));
    expect(await page("limit=100")).toEqual(newest(100));
    expect(await page("limit=100000")).toEqual(newest(100));
  });

  it("keeps the original's offset paging, which the web app's default call carries", async () => {
    expect(await page("limit=50&offset=0")).toEqual(newest(50));
    expect(await page("limit=50&offset=50")).toEqual(newest(100).slice(50));
    expect(await page("offset=100")).toEqual(newest(120).slice(100));
    expect(await page("offset=500")).toEqual([]);
  });

  it("pages backwards with before_id and forwards with after_id, without gaps or repeats", async () => {
    const back: number[] = [];
    let cursor: number | undefined;
    for (;;) {
      const batch = await page(`limit=33${cursor === undefined ? "" : `&before_id=${cursor}`}`);
      if (batch.length === 0) break;
      back.push(...batch);
      cursor = batch[batch.length - 1];
    }
    expect(back).toEqual([...ids].reverse());
    const forward: number[] = [];
    let after = 0;
    for (;;) {
      const batch = await page(`limit=45&after_id=${after}`);
      if (batch.length === 0) break;
      forward.push(...batch);
      after = batch[batch.length - 1] as number;
    }
    expect(forward).toEqual(ids);
    expect(await page(`after_id=${ids[10]}&before_id=${ids[16]}`)).toEqual(ids.slice(11, 16));
  });

  it("refuses a limit, cursor or offset that is not a non-negative integer with 422", async () => {
    for (const [query, field] of [
      ["limit=abc", "limit"],
      ["before_id=x", "before_id"],
      ["after_id=-3", "after_id"],
      ["before_id=99999999999", "before_id"],
      ["offset=-1", "offset"],
      ["offset=z", "offset"],
    ]) {
      const res = await as(app, reader).get(`${messagesOf(threadId)}?${query}`);
      expect(res.status, query).toBe(422);
      expect(res.body.detail[0].loc, query).toEqual(["query", field]);
    }
  });
});

describe("edit and delete (D17)", () => {
  it("lets the sender edit: content, is_edited and updated_at change; nobody else may", async () => {
    const { thread: own, a, b } = await freshThread();
    const message = await postDm(app, a, own.id, "typo", "client:e");
    const refused = await as(app, b).patch(`${messagesOf(own.id)}/${message.id}`, {
      json: { content: "no" },
    });
    expect(refused).toMatchObject({ status: 403, body: { detail: "Forbidden" } });
    const res = await as(app, a).patch(`${messagesOf(own.id)}/${message.id}`, { json: { content: "fixed" } });
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
    expect((await as(app, b).get(messagesOf(own.id))).body).toEqual([res.body]);
    for (const content of ["", "   ", "x".repeat(4001)]) {
      const bad = await as(app, a).patch(`${messagesOf(own.id)}/${message.id}`, { json: { content } });
      expect(bad.status).toBe(422);
    }
  });

  it("lets the sender delete (soft), and nobody else; the content is never served again", async () => {
    const { thread: own, a, b } = await freshThread();
    const message = await postDm(app, a, own.id, "regrettable", "client:regret");
    expect(await as(app, b).delete(`${messagesOf(own.id)}/${message.id}`)).toMatchObject({
      status: 403,
      body: { detail: "Forbidden" },
    });
    expect((await as(app, a).delete(`${messagesOf(own.id)}/${message.id}`)).status).toBe(204);
    expect((await as(app, b).get(messagesOf(own.id))).body).toEqual([]);
    const [row] = await app.sql`select is_deleted from direct_messages where id = ${message.id}`;
    expect(row?.is_deleted).toBe(true);
    const replay = await postDm(app, a, own.id, "regrettable", "client:regret");
    expect(replay).toMatchObject({ id: message.id, content: "", is_deleted: true });
  });

  it("answers 404 for a missing message, one of another thread, or a deleted one", async () => {
    const { thread: own, a } = await freshThread();
    const elsewhere = await postDm(app, cast.alice, thread.id, "elsewhere");
    const deleted = await postDm(app, a, own.id, "gone soon");
    expect((await as(app, a).delete(`${messagesOf(own.id)}/${deleted.id}`)).status).toBe(204);
    for (const id of [2_000_000_000, elsewhere.id, deleted.id]) {
      const edit = await as(app, a).patch(`${messagesOf(own.id)}/${id}`, { json: { content: "x" } });
      expect(edit).toMatchObject({ status: 404, body: { detail: "Message not found" } });
      const del = await as(app, a).delete(`${messagesOf(own.id)}/${id}`);
      expect(del).toMatchObject({ status: 404, body: { detail: "Message not found" } });
    }
  });
});

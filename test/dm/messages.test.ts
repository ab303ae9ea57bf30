/**
 * What only the direct-message message routes do (docs/original-defects.md#d13-paging,
 * docs/original-defects.md#d17-missing-features): the authorization matrix of every thread route (friends,
 * read-only threads, non-participants), the web app's offset paging, and deletes by the sender only. What
 * every conversation's message routes do, channels and threads alike, is test/conversations/messages.test.ts.
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
  storedContents,
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

describe("authorization matrix", () => {
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
    expect(await storedContents(app, "dm", own.id)).toEqual(["from a", "from b"]);
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
    expect(await storedContents(app, "dm", thread.id)).not.toContain("hi");
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

describe("pagination", () => {
  it("keeps the original's offset paging, which the web app's default call carries, and refuses a bad offset with 422", async () => {
    const { thread: own, a, b } = await freshThread();
    // 120 messages straight into the table, same timestamp: only the id orders them.
    const rows = await app.sql<{ id: number }[]>`
      insert into direct_messages (thread_id, sender_id, content, created_at)
      select ${own.id}, ${a.id}, 'm' || g, '2026-01-01T00:00:00Z' from generate_series(1, 120) as g
      returning id`;
    const newestFirst = rows.map((r) => r.id).sort((x, y) => y - x);
    const ids = async (query: string) => {
      const res = await as(app, b).get(`${messagesOf(own.id)}?${query}`);
      expect(res.status, `${query}: ${res.text}`).toBe(200);
      return (res.body as { id: number }[]).map((m) => m.id);
    };
    expect(await ids("limit=50&offset=0")).toEqual(newestFirst.slice(0, 50));
    expect(await ids("limit=50&offset=50")).toEqual(newestFirst.slice(50, 100));
    expect(await ids("offset=100")).toEqual(newestFirst.slice(100, 120));
    expect(await ids("offset=500")).toEqual([]);
    for (const query of ["offset=-1", "offset=z", "offset=1.5"]) {
      const res = await as(app, b).get(`${messagesOf(own.id)}?${query}`);
      expect(res.status, query).toBe(422);
      expect(res.body.detail[0].loc, query).toEqual(["query", "offset"]);
    }
  });
});

describe("edit and delete", () => {
  it("lets only the sender delete a message: the other participant is refused with 403", async () => {
    const { thread: own, a, b } = await freshThread();
    const message = await postDm(app, a, own.id, "mine to delete");
    expect(await as(app, b).delete(`${messagesOf(own.id)}/${message.id}`)).toMatchObject({
      status: 403,
      body: { detail: "Forbidden" },
    });
    expect((await as(app, b).get(messagesOf(own.id))).body.map((m: { id: number }) => m.id)).toEqual([
      message.id,
    ]);
    expect((await as(app, a).delete(`${messagesOf(own.id)}/${message.id}`)).status).toBe(204);
  });
});

/**
 * Direct-message threads (docs/original-defects.md#d9-500s-for-ordinary-mistakes,
 * docs/original-defects.md#d13-paging, docs/original-defects.md#d18-relationships,
 * docs/original-defects.md#d20-self-matching-search, docs/original-defects.md#d22-schema-constraints): POST
 * /dm/threads and GET /dm/threads, their codes and bad inputs, one thread per pair whoever opens it
 * (concurrently too), between any two people who can reach each other (a shared workspace or a friendship),
 * the order by last activity, unread counts, and a search that matches the other participant only. Includes
 * the original's tests of threads (its tests/test_direct_messages.py).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { api, as } from "../support/http";
import { joinDm } from "../support/sockets";
import { login, type TestUser } from "../support/users";
import {
  befriend,
  buildCast,
  type Cast,
  invite,
  newMember,
  openThread,
  postDm,
  type ThreadBody,
  userInNoWorkspace,
  workspaceOf,
} from "../support/worlds";

let app: TestApp;
let cast: Cast;

beforeAll(async () => {
  app = await startApp();
  cast = await buildCast(app, "thr");
});
afterAll(async () => {
  await app?.close();
});

const notWithinReach = "You share no workspace with this user and are not friends";
const publicOf = (user: TestUser) => ({ id: user.id, display_name: user.displayName, avatar_url: null });
const byId = (a: TestUser, b: TestUser) => (a.id < b.id ? [a, b] : [b, a]);

async function listIds(user: TestUser, query = ""): Promise<number[]> {
  const res = await as(app, user).get(`/dm/threads${query}`);
  expect(res.status, res.text).toBe(200);
  return (res.body as ThreadBody[]).map((t) => t.id);
}

describe("the original's tests", () => {
  it("returns the same thread for (a, b) and (b, a)", async () => {
    const ab = await openThread(app, cast.alice, cast.bob, cast.workspaceId);
    const ba = await openThread(app, cast.bob, cast.alice, cast.workspaceId);
    expect(ba.id).toBe(ab.id);
  });

  it("stores a message and lists it with its content and sender", async () => {
    const thread = await openThread(app, cast.alice, cast.carol, cast.workspaceId);
    await postDm(app, cast.alice, thread.id, "Hey Carol");
    const list = await as(app, cast.carol).get(`/dm/threads/${thread.id}/messages`);
    expect(list.status).toBe(200);
    expect(list.body).toHaveLength(1);
    expect(list.body[0]).toMatchObject({
      content: "Hey Carol",
      user_id: cast.alice.id,
      thread_id: thread.id,
    });
  });
});

describe("POST /dm/threads", () => {
  it("answers ThreadRead: the two participants lower id first, the workspace, the caller's unread count", async () => {
    const [pairA, pairB] = [await newMember(app, cast, "ShapeA"), await newMember(app, cast, "ShapeB")];
    const res = await as(app, pairB).post("/dm/threads", {
      json: { workspace_id: cast.workspaceId, user_id: pairA.id },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: expect.any(Number),
      workspace_id: cast.workspaceId,
      participants: byId(pairA, pairB).map(publicOf),
      unread_count: 0,
      read_only: false,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)$/),
      updated_at: null,
    });
    // Ids from the web app arrive as JSON numbers or, in places, as numeric strings.
    const again = await as(app, pairA).post("/dm/threads", {
      json: { workspace_id: String(cast.workspaceId), user_id: String(pairB.id) },
    });
    expect(again.body).toEqual({ ...res.body });
    // The caller's own unread count.
    await postDm(app, pairA, res.body.id, "one");
    await postDm(app, pairA, res.body.id, "two");
    expect((await openThread(app, pairB, pairA, cast.workspaceId)).unread_count).toBe(2);
    expect((await openThread(app, pairA, pairB, cast.workspaceId)).unread_count).toBe(0);
  });

  it("keeps one thread per pair from any shared workspace, with the workspace it was created in", async () => {
    const [x, y] = [await newMember(app, cast, "PairX"), await newMember(app, cast, "PairY")];
    const second = await as(app, y).post("/workspaces", { json: { name: `Second ${x.id}` } });
    expect(second.status).toBe(200);
    await invite(app, y, second.body.id, x);
    const first = await openThread(app, x, y, cast.workspaceId);
    const fromSecond = await openThread(app, y, x, second.body.id);
    expect(fromSecond.id).toBe(first.id);
    expect(fromSecond.workspace_id).toBe(cast.workspaceId);
    const rows = await app.sql`select id from direct_message_threads
      where user1_id = ${Math.min(x.id, y.id)} and user2_id = ${Math.max(x.id, y.id)}`;
    expect(rows).toHaveLength(1);
  });

  it("finds the other user by e-mail, normalised as at registration", async () => {
    const thread = await openThread(app, cast.alice, cast.bob, cast.workspaceId);
    for (const email of [cast.bob.email, `  ${cast.bob.email.toUpperCase()} `, `Bob <${cast.bob.email}>`]) {
      const res = await as(app, cast.alice).post("/dm/threads", {
        json: { workspace_id: cast.workspaceId, participant_email: email },
      });
      expect(res.status, email).toBe(200);
      expect(res.body.id).toBe(thread.id);
    }
  });

  it("refuses a thread with oneself (400) and an unknown user (404), never a 500", async () => {
    const cases: [object, number, string][] = [
      [{ user_id: cast.alice.id }, 400, "Cannot create direct message thread with yourself"],
      [{ participant_email: cast.alice.email }, 400, "Cannot create direct message thread with yourself"],
      [{ user_id: 2_000_000_000 }, 404, "User not found"],
      [{ participant_email: "nobody-here@example.com" }, 404, "User not found"],
    ];
    for (const [body, status, detail] of cases) {
      const res = await as(app, cast.alice).post("/dm/threads", {
        json: { workspace_id: cast.workspaceId, ...body },
      });
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.body).toEqual({ detail });
    }
  });

  it("needs the two to share a workspace or be friends, and the caller to be in the workspace named", async () => {
    const cases: [TestUser, object, number, string][] = [
      // Dave shares no workspace with Alice, and they are not friends (test/dm/reach.test.ts has friends).
      [cast.alice, { workspace_id: cast.workspaceId, user_id: cast.dave.id }, 403, notWithinReach],
      // By e-mail, such a user is as unknown as an unregistered address: no probing of addresses.
      [
        cast.alice,
        { workspace_id: cast.workspaceId, participant_email: cast.dave.email },
        404,
        "User not found",
      ],
      [cast.alice, { workspace_id: cast.workspaceId, user_id: cast.olga.id }, 403, notWithinReach],
      // A workspace the caller is not in, or none.
      [cast.alice, { workspace_id: cast.otherWorkspaceId, user_id: cast.dave.id }, 403, "Forbidden"],
      [cast.olga, { workspace_id: cast.workspaceId, user_id: cast.alice.id }, 403, "Forbidden"],
      [cast.alice, { workspace_id: 2_000_000_000, user_id: cast.bob.id }, 404, "Workspace not found"],
    ];
    for (const [caller, body, status, detail] of cases) {
      const res = await as(app, caller).post("/dm/threads", { json: body });
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.body).toEqual({ detail });
    }
    const [row] = await app.sql<{ n: number }[]>`select count(*)::int as n from direct_message_threads
      where ${cast.dave.id} in (user1_id, user2_id) or ${cast.olga.id} in (user1_id, user2_id)`;
    expect(row?.n).toBe(0);
  });

  it("returns an existing thread from any workspace of the caller: the two already talk", async () => {
    const thread = await openThread(app, cast.alice, cast.bob, cast.workspaceId);
    const solo = await as(app, cast.alice).post("/workspaces", { json: { name: `Solo ${Date.now()}` } });
    expect(solo.status).toBe(200);
    const res = await as(app, cast.alice).post("/dm/threads", {
      json: { workspace_id: solo.body.id, user_id: cast.bob.id },
    });
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(thread.id);
  });

  it("creates one thread when both users open it at once, many times", async () => {
    const [x, y] = [await newMember(app, cast, "RaceX"), await newMember(app, cast, "RaceY")];
    const results = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        as(app, i % 2 ? x : y).post("/dm/threads", {
          json: { workspace_id: cast.workspaceId, user_id: (i % 2 ? y : x).id },
        }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(16).fill(200));
    expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
    const rows = await app.sql`select user1_id, user2_id from direct_message_threads
      where ${x.id} in (user1_id, user2_id) and ${y.id} in (user1_id, user2_id)`;
    expect(rows.map((r) => [r.user1_id, r.user2_id])).toEqual([[Math.min(x.id, y.id), Math.max(x.id, y.id)]]);
  });

  it("holds one thread per pair in the database, in either order", async () => {
    const thread = await openThread(app, cast.alice, cast.bob, cast.workspaceId);
    const [lo, hi] = byId(cast.alice, cast.bob).map((u) => u.id);
    await expect(
      app.sql`insert into direct_message_threads (workspace_id, user1_id, user2_id)
              values (${cast.workspaceId}, ${lo as number}, ${hi as number})`,
    ).rejects.toMatchObject({ code: "23505", constraint_name: "uq_direct_message_threads_users" });
    await expect(
      app.sql`insert into direct_message_threads (workspace_id, user1_id, user2_id)
              values (${cast.workspaceId}, ${hi as number}, ${lo as number})`,
    ).rejects.toMatchObject({ code: "23514", constraint_name: "ck_direct_message_threads_user_order" });
    expect(thread.participants.map((p) => p.id)).toEqual([lo, hi]);
  });

  it("answers bad bodies with 422 in the original's vocabulary", async () => {
    const root = { loc: ["body", "__root__"], msg: "Provide exactly one of user_id or participant_email" };
    const cases: [unknown, Record<string, unknown>][] = [
      [{ workspace_id: cast.workspaceId }, root],
      [{ workspace_id: cast.workspaceId, user_id: null, participant_email: null }, root],
      [{ workspace_id: cast.workspaceId, user_id: cast.bob.id, participant_email: cast.bob.email }, root],
      [{ user_id: cast.bob.id }, { loc: ["body", "workspace_id"], msg: "field required" }],
      [
        { workspace_id: "abc", user_id: cast.bob.id },
        { loc: ["body", "workspace_id"], msg: "value is not a valid integer" },
      ],
      [
        { workspace_id: cast.workspaceId, user_id: "bob" },
        { loc: ["body", "user_id"], msg: "value is not a valid integer" },
      ],
      [{ workspace_id: cast.workspaceId, user_id: 1.5 }, { loc: ["body", "user_id"] }],
      [{ workspace_id: cast.workspaceId, user_id: 99_999_999_999 }, { loc: ["body", "user_id"] }],
      [
        { workspace_id: cast.workspaceId, participant_email: "not an address" },
        { loc: ["body", "participant_email"], msg: "value is not a valid email address" },
      ],
      [{ workspace_id: cast.workspaceId, participant_email: 42 }, { loc: ["body", "participant_email"] }],
      [[], { loc: ["body"], msg: "value is not a valid dict" }],
      ["text", { loc: ["body"], msg: "value is not a valid dict" }],
    ];
    for (const [body, issue] of cases) {
      const res = await as(app, cast.alice).post("/dm/threads", { json: body });
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(res.body.detail[0], JSON.stringify(body)).toMatchObject(issue);
    }
    const missing = await as(app, cast.alice).post("/dm/threads");
    expect(missing).toMatchObject({
      status: 422,
      body: { detail: [{ loc: ["body"], msg: "field required", type: "value_error.missing" }] },
    });
    const malformed = await as(app, cast.alice).post("/dm/threads", {
      raw: "{oops",
      headers: { "Content-Type": "application/json" },
    });
    expect(malformed.status).toBe(422);
    expect(malformed.body.detail[0].type).toBe("value_error.jsondecode");
  });

  it("refuses anonymous callers and revoked sessions with 401", async () => {
    const body = { json: { workspace_id: cast.workspaceId, user_id: cast.bob.id } };
    expect(await api(app).post("/dm/threads", body)).toMatchObject({
      status: 401,
      body: { detail: "Not authenticated" },
    });
    const session = await login(app, cast.alice.email, cast.alice.password);
    const revoked = api(app, { token: session.access_token });
    expect((await revoked.post("/auth/logout")).status).toBe(204);
    expect(await revoked.post("/dm/threads", body)).toMatchObject({
      status: 401,
      body: { detail: "Session revoked" },
    });
    expect(await revoked.get("/dm/threads")).toMatchObject({
      status: 401,
      body: { detail: "Session revoked" },
    });
  });
});

describe("GET /dm/threads", () => {
  let me: TestUser;
  let partners: TestUser[];
  let threads: ThreadBody[];

  beforeAll(async () => {
    me = await newMember(app, cast, "Lister");
    partners = [
      await newMember(app, cast, "Zed Apple"),
      await newMember(app, cast, "Zed Banana"),
      await newMember(app, cast, "Zed 100%"),
    ];
    threads = [];
    for (const partner of partners) threads.push(await openThread(app, me, partner, cast.workspaceId));
  });

  it("lists the caller's threads only, newest activity first, and moves a thread up on a new message", async () => {
    const [t0, t1, t2] = threads.map((t) => t.id) as [number, number, number];
    // No messages yet: by creation, newest first.
    expect(await listIds(me)).toEqual([t2, t1, t0]);
    await postDm(app, partners[0] as TestUser, t0, "wake up");
    expect(await listIds(me)).toEqual([t0, t2, t1]);
    await postDm(app, me, t1, "me too");
    expect(await listIds(me)).toEqual([t1, t0, t2]);
    // Each partner sees their own thread only; a stranger to all of them sees none of them.
    expect(await listIds(partners[2] as TestUser)).toEqual([t2]);
    const carolsThreads = await listIds(cast.carol);
    for (const id of [t0, t1, t2]) expect(carolsThreads).not.toContain(id);
  });

  it("pages with limit and offset without gaps or repeats (the web app's limit=20&offset=N)", async () => {
    const all = await listIds(me);
    expect(all).toHaveLength(3);
    const paged: number[] = [];
    for (let offset = 0; offset < 5; offset++)
      paged.push(...(await listIds(me, `?limit=1&offset=${offset}`)));
    expect(paged).toEqual(all);
    expect(await listIds(me, "?limit=20&offset=0")).toEqual(all);
    expect(await listIds(me, "?limit=20&offset=20")).toEqual([]);
    // limit is clamped to 1..50.
    expect(await listIds(me, "?limit=0")).toEqual(all.slice(0, 1));
    expect(await listIds(me, "?limit=-3")).toEqual(all.slice(0, 1));
    expect(await listIds(me, "?limit=1000")).toEqual(all);
  });

  it("accepts and ignores workspace_id, as the web app sends it", async () => {
    const all = await listIds(me);
    expect(await listIds(me, `?workspace_id=${cast.workspaceId}`)).toEqual(all);
    expect(await listIds(me, `?workspace_id=${cast.otherWorkspaceId}&limit=20&offset=0`)).toEqual(all);
  });

  it("searches the other participant's handle only, case-insensitively and literally", async () => {
    const [t0, t1, t2] = threads.map((t) => t.id) as [number, number, number];
    expect((await listIds(me, "?q=zed")).sort()).toEqual([t0, t1, t2].sort());
    expect(await listIds(me, "?q=APPLE")).toEqual([t0]);
    expect(await listIds(me, "?q=banana")).toEqual([t1]);
    expect(await listIds(me, `?q=${encodeURIComponent("100%")}`)).toEqual([t2]);
    expect(await listIds(me, `?q=${encodeURIComponent("%")}`)).toEqual([t2]);
    expect(await listIds(me, "?q=_")).toEqual([]);
    // The caller's own name matches nothing (the original returned every thread).
    expect(await listIds(me, "?q=Lister")).toEqual([]);
    expect(await listIds(partners[0] as TestUser, "?q=Lister")).toEqual([t0]);
    // Blank means no filter.
    expect((await listIds(me, "?q=%20%20")).length).toBe(3);
  });

  it("carries each thread's unread count for the caller", async () => {
    const x = await newMember(app, cast, "CountX");
    const y = await newMember(app, cast, "CountY");
    const thread = await openThread(app, x, y, cast.workspaceId);
    const first = await postDm(app, x, thread.id, "1");
    await postDm(app, x, thread.id, "2");
    await postDm(app, y, thread.id, "mine does not count");
    const third = await postDm(app, x, thread.id, "3");
    const unreadOf = async (user: TestUser) =>
      ((await as(app, user).get("/dm/threads")).body as ThreadBody[]).find((t) => t.id === thread.id)
        ?.unread_count;
    expect(await unreadOf(y)).toBe(3);
    expect(await unreadOf(x)).toBe(1);
    await as(app, y).post(`/dm/threads/${thread.id}/read`, { json: { last_read_message_id: first.id } });
    expect(await unreadOf(y)).toBe(2);
    // Deleted messages do not count.
    expect((await as(app, x).delete(`/dm/threads/${thread.id}/messages/${third.id}`)).status).toBe(204);
    expect(await unreadOf(y)).toBe(1);
    // Counting stops at 1000.
    await app.sql`insert into direct_messages (thread_id, sender_id, content)
                  select ${thread.id}, ${x.id}, 'flood' from generate_series(1, 1005)`;
    expect(await unreadOf(y)).toBe(1000);
  });

  it("answers bad query values with 422", async () => {
    for (const [query, field] of [
      ["workspace_id=", "workspace_id"],
      ["workspace_id=abc", "workspace_id"],
      ["limit=abc", "limit"],
      ["limit=", "limit"],
      ["offset=-1", "offset"],
      ["offset=1.5", "offset"],
      [`q=${"x".repeat(256)}`, "q"],
    ]) {
      const res = await as(app, me).get(`/dm/threads?${query}`);
      expect(res.status, query).toBe(422);
      expect(res.body.detail[0].loc, query).toEqual(["query", field]);
    }
    expect(await api(app).get("/dm/threads")).toMatchObject({
      status: 401,
      body: { detail: "Not authenticated" },
    });
  });
});

describe("POST /dm/threads between people who can reach each other (issue 13 item 5)", () => {
  it("opens one between friends who share no workspace, from the caller's workspace, as the web app asks", async () => {
    const [x, y] = [await userInNoWorkspace(app, "OpenX"), await userInNoWorkspace(app, "OpenY")];
    const [xs, ys] = [await workspaceOf(app, x), await workspaceOf(app, y)];
    await befriend(app, x, y);
    const res = await as(app, x).post("/dm/threads", { json: { workspace_id: xs, user_id: y.id } });
    expect(res.status, res.text).toBe(200);
    // The thread records the workspace it was started from, which the friend is not in.
    expect(res.body).toMatchObject({ workspace_id: xs, unread_count: 0 });
    const fromY = await openThread(app, y, x, ys);
    expect(fromY).toMatchObject({ id: res.body.id, workspace_id: xs });
    const byEmail = await as(app, y).post("/dm/threads", {
      json: { workspace_id: ys, participant_email: x.email },
    });
    expect(byEmail).toMatchObject({ status: 200, body: { id: res.body.id } });

    const socket = await joinDm(app, res.body.id, y);
    const message = await postDm(app, x, res.body.id, "found you");
    expect((await socket.next("message")).payload).toMatchObject({ id: message.id });
    await socket.close();
  });

  it("opens one with a friend who is in no workspace at all", async () => {
    const [x, loner] = [await userInNoWorkspace(app, "HasWs"), await userInNoWorkspace(app, "Loner")];
    const xs = await workspaceOf(app, x);
    await befriend(app, loner, x);
    const thread = await openThread(app, x, loner, xs);
    expect(thread.workspace_id).toBe(xs);
    await postDm(app, loner, thread.id, "hello from nowhere");
  });

  it("opens one through any shared workspace, whichever workspace of the caller is named", async () => {
    const owner = await userInNoWorkspace(app, "AnyOwner");
    const [x, y] = [await userInNoWorkspace(app, "AnyX"), await userInNoWorkspace(app, "AnyY")];
    await workspaceOf(app, owner, [x, y]);
    const selected = await workspaceOf(app, x);
    const thread = await openThread(app, x, y, selected);
    expect(thread.workspace_id).toBe(selected);
  });

  it("counts a workspace's owner by owner_id, as an adopted database may lack the owner's row", async () => {
    const [owner, x] = [
      await userInNoWorkspace(app, "RowlessOwner"),
      await userInNoWorkspace(app, "RowlessX"),
    ];
    const ws = await workspaceOf(app, owner, [x]);
    await app.sql`delete from workspace_members where workspace_id = ${ws} and user_id = ${owner.id}`;
    expect((await openThread(app, x, owner, ws)).participants.map((p) => p.id).sort()).toEqual(
      [owner.id, x.id].sort(),
    );
  });

  it("refuses people who share no workspace and are not friends: 403 by id, 404 by e-mail, nothing created", async () => {
    const [x, y] = [await userInNoWorkspace(app, "FarX"), await userInNoWorkspace(app, "FarY")];
    const [xs] = [await workspaceOf(app, x), await workspaceOf(app, y)];
    // A pending friend request is not a friendship.
    expect(
      (await as(app, x).post("/friends/requests", { json: { addressee_display_name: y.displayName } }))
        .status,
    ).toBe(200);
    const byId = await as(app, x).post("/dm/threads", { json: { workspace_id: xs, user_id: y.id } });
    expect(byId).toMatchObject({ status: 403, body: { detail: notWithinReach } });
    // By e-mail such a user is as unknown as an unregistered address: no probing of addresses.
    const byEmail = await as(app, x).post("/dm/threads", {
      json: { workspace_id: xs, participant_email: y.email },
    });
    expect(byEmail).toMatchObject({ status: 404, body: { detail: "User not found" } });
    const [row] = await app.sql<{ n: number }[]>`select count(*)::int as n from direct_message_threads
      where ${x.id} in (user1_id, user2_id)`;
    expect(row?.n).toBe(0);
  });
});

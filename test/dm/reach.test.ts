/**
 * Who may talk in a direct-message thread once it exists (issue 13, item 4; opening one is in
 * threads.test.ts). A thread belongs to its two people: nothing a third party does deletes it.
 * While they can reach each other (any shared workspace, or a friendship) it is a live
 * conversation. Once they cannot, it is read-only: the history stays readable
 * (list, messages, read-status), read pointers move and one's own messages can be deleted, but
 * posting and editing answer 403, the socket handshake is refused, and open sockets are closed
 * (1008) by the change that ended their reach: a workspace deleted, a member leaving or removed,
 * an unfriending. It becomes live again when they can reach each other again.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { as } from "../support/http";
import { closeFrame, dmPath, joinDm, probe } from "../support/sockets";
import type { TestUser } from "../support/users";
import {
  befriend,
  invite,
  openThread,
  postDm,
  type ThreadBody,
  userInNoWorkspace,
  workspaceOf,
} from "../support/worlds";
import { rawHandshake, type TestSocket } from "../support/ws";

const READ_ONLY = "Thread is read-only: its participants share no workspace and are not friends";

let app: TestApp;

beforeAll(async () => {
  // A thread's object trusts what it learned about reach for a second only, so that a change made
  // behind the API's back (below) is seen within the test.
  app = await startApp({ env: { ACCESS_CACHE_SECONDS: "1" } });
});
afterAll(async () => {
  await app?.close();
});

/** How many open sockets the thread's object holds right now. */
const socketsIn = async (threadId: number) => (await probe(app, "dm", threadId)).sockets;

async function storedContents(threadId: number): Promise<string[]> {
  const rows = await app.sql<{ content: string }[]>`
    select content from direct_messages where thread_id = ${threadId} and not is_deleted order by id`;
  return rows.map((r) => r.content);
}

/** The thread as the user's GET /dm/threads lists it. */
async function listed(user: TestUser, threadId: number): Promise<ThreadBody | undefined> {
  const res = await as(app, user).get("/dm/threads");
  expect(res.status, res.text).toBe(200);
  return (res.body as ThreadBody[]).find((t) => t.id === threadId);
}

interface Pair {
  /** Owns the workspace the two share; a third party to their thread. */
  owner: TestUser;
  x: TestUser;
  y: TestUser;
  /** The owner's workspace, where x and y are members and opened their thread. */
  sharedId: number;
  thread: ThreadBody;
  /** One thread socket of each, open. */
  sockets: [TestSocket, TestSocket];
  history: string[];
}

/** Two members of a third party's workspace, with a thread, some history and a socket each. */
async function pairInWorkspace(name: string): Promise<Pair> {
  const owner = await userInNoWorkspace(app, `${name}Owner`);
  const [x, y] = [await userInNoWorkspace(app, `${name}X`), await userInNoWorkspace(app, `${name}Y`)];
  const sharedId = await workspaceOf(app, owner, [x, y]);
  const thread = await openThread(app, x, y, sharedId);
  await postDm(app, x, thread.id, "hello");
  await postDm(app, y, thread.id, "hi back");
  const sockets: [TestSocket, TestSocket] = [
    await joinDm(app, thread.id, x),
    await joinDm(app, thread.id, y),
  ];
  return { owner, x, y, sharedId, thread, sockets, history: ["hello", "hi back"] };
}

/**
 * The thread is live and untouched: its history, both sockets still open, and a REST post and a
 * socket post each reach both sockets.
 */
async function expectLive(pair: Pair) {
  const { x, y, thread, sockets } = pair;
  expect(await socketsIn(thread.id)).toBe(2);
  expect(await storedContents(thread.id)).toEqual(pair.history);
  for (const user of [x, y]) expect((await listed(user, thread.id))?.read_only).toBe(false);

  const overRest = await postDm(app, x, thread.id, "still talking");
  for (const socket of sockets) {
    expect((await socket.next("message")).payload).toMatchObject({
      id: overRest.id,
      content: "still talking",
    });
  }
  const clientId = randomUUID();
  sockets[1].send({ type: "message", content: "over the socket", client_id: clientId });
  for (const socket of sockets) {
    expect((await socket.next("message")).payload).toMatchObject({
      user_id: y.id,
      content: "over the socket",
      client_id: clientId,
    });
  }
  expect(await storedContents(thread.id)).toEqual([...pair.history, "still talking", "over the socket"]);
  for (const socket of sockets) await socket.close();
}

/**
 * The thread is read-only: its sockets were closed by the request that ended the two's reach,
 * its history is still there for both, read pointers move and one's own message can be deleted,
 * but posting, editing and the handshake are refused. Call right after that request answered.
 */
async function expectReadOnly(pair: Pair) {
  const { x, y, thread, sockets } = pair;
  expect(await socketsIn(thread.id)).toBe(0);
  for (const socket of sockets)
    expect(await closeFrame(socket, 5_000)).toEqual({ code: 1008, reason: READ_ONLY });

  const [own] = await app.sql<{ id: number; content: string }[]>`
    select id, content from direct_messages where thread_id = ${thread.id} and sender_id = ${x.id}
    order by id limit 1`;
  const ownMessage = own?.id as number;
  for (const user of [x, y]) {
    const client = as(app, user);
    expect((await listed(user, thread.id))?.read_only, user.displayName).toBe(true);
    const page = await client.get(`/dm/threads/${thread.id}/messages`);
    expect(page.status).toBe(200);
    expect(page.body.map((m: { content: string }) => m.content).reverse()).toEqual(pair.history);
    expect((await client.get(`/dm/threads/${thread.id}/read-status`)).status).toBe(200);
    const read = await client.post(`/dm/threads/${thread.id}/read`, { json: { last_read_message_id: null } });
    expect(read.status, read.text).toBe(200);
    expect(read.body.unread_count).toBe(0);

    const post = await client.post(`/dm/threads/${thread.id}/messages`, { json: { content: "anyone?" } });
    expect(post).toMatchObject({ status: 403, body: { detail: READ_ONLY } });
    const edit = await client.patch(`/dm/threads/${thread.id}/messages/${ownMessage}`, {
      json: { content: "rewritten" },
    });
    expect(edit).toMatchObject({ status: 403, body: { detail: READ_ONLY } });
    expect(await rawHandshake(app.url, dmPath(thread.id, user.accessToken))).toEqual({
      status: 403,
      body: { detail: READ_ONLY },
    });
    // Re-opening it (the web app does on every view) returns it, read-only; nothing new is created.
    const reopened = await client.post("/dm/threads", {
      json: { workspace_id: await workspaceOf(app, user), user_id: (user === x ? y : x).id },
    });
    expect(reopened).toMatchObject({ status: 200, body: { id: thread.id, read_only: true } });
  }
  expect(await storedContents(thread.id)).toEqual(pair.history);
  // What one said stays one's own to take back.
  expect((await as(app, x).delete(`/dm/threads/${thread.id}/messages/${ownMessage}`)).status).toBe(204);
  expect(await storedContents(thread.id)).toEqual(pair.history.filter((c) => c !== own?.content));
}

describe("a workspace deleted by a third party (item 4)", () => {
  it("keeps the thread, its history and its open sockets when the two share another workspace", async () => {
    const pair = await pairInWorkspace("DelShared");
    await workspaceOf(app, pair.y, [pair.x]);
    expect((await as(app, pair.owner).delete(`/workspaces/${pair.sharedId}`)).status).toBe(204);
    // The thread no longer records the deleted workspace it was started from.
    expect(await listed(pair.x, pair.thread.id)).toMatchObject({ workspace_id: null, read_only: false });
    await expectLive(pair);
  });

  it("keeps them when the two are friends and share no other workspace", async () => {
    const pair = await pairInWorkspace("DelFriends");
    await befriend(app, pair.x, pair.y);
    expect((await as(app, pair.owner).delete(`/workspaces/${pair.sharedId}`)).status).toBe(204);
    await expectLive(pair);
  });

  it("keeps the thread read-only and closes its sockets when the two can no longer reach each other", async () => {
    const pair = await pairInWorkspace("DelNone");
    expect((await as(app, pair.owner).delete(`/workspaces/${pair.sharedId}`)).status).toBe(204);
    await expectReadOnly(pair);
  });

  it("makes a read-only thread live again once the two can reach each other again", async () => {
    const pair = await pairInWorkspace("Again");
    expect((await as(app, pair.owner).delete(`/workspaces/${pair.sharedId}`)).status).toBe(204);
    expect((await listed(pair.y, pair.thread.id))?.read_only).toBe(true);
    await befriend(app, pair.x, pair.y);
    expect((await listed(pair.y, pair.thread.id))?.read_only).toBe(false);
    const again = { ...pair };
    again.sockets = [await joinDm(app, pair.thread.id, pair.x), await joinDm(app, pair.thread.id, pair.y)];
    await expectLive(again);
  });
});

describe("a member leaving or removed (item 4)", () => {
  it("leaves a thread live when the two still share another workspace", async () => {
    const pair = await pairInWorkspace("LeaveShared");
    await workspaceOf(app, pair.x, [pair.y]);
    expect((await as(app, pair.x).delete(`/workspaces/${pair.sharedId}/members/${pair.x.id}`)).status).toBe(
      204,
    );
    await expectLive(pair);
  });

  it("makes the thread read-only and closes its sockets when a member leaves the only shared workspace", async () => {
    const pair = await pairInWorkspace("LeaveNone");
    expect((await as(app, pair.y).delete(`/workspaces/${pair.sharedId}/members/${pair.y.id}`)).status).toBe(
      204,
    );
    await expectReadOnly(pair);
  });

  it("closes only the threads that lost their reach when a member is removed; friends keep talking", async () => {
    const pair = await pairInWorkspace("Removed");
    const friend = await userInNoWorkspace(app, "RemovedFriend");
    await invite(app, pair.owner, pair.sharedId, friend);
    await befriend(app, pair.x, friend);
    const friendsThread = await openThread(app, pair.x, friend, pair.sharedId);
    const friendsPair: Pair = {
      ...pair,
      y: friend,
      thread: friendsThread,
      sockets: [await joinDm(app, friendsThread.id, pair.x), await joinDm(app, friendsThread.id, friend)],
      history: [],
    };
    expect(
      (await as(app, pair.owner).delete(`/workspaces/${pair.sharedId}/members/${pair.x.id}`)).status,
    ).toBe(204);
    await expectReadOnly(pair);
    await expectLive(friendsPair);
  });
});

describe("unfriending", () => {
  it("makes a friends-only thread read-only and closes its sockets, and leaves a pair sharing a workspace alone", async () => {
    const [x, y] = [await userInNoWorkspace(app, "UnfX"), await userInNoWorkspace(app, "UnfY")];
    await Promise.all([workspaceOf(app, x), workspaceOf(app, y)]);
    await befriend(app, x, y);
    const own = await workspaceOf(app, x);
    const thread = await openThread(app, x, y, own);
    await postDm(app, y, thread.id, "friends only");
    const sockets: [TestSocket, TestSocket] = [
      await joinDm(app, thread.id, x),
      await joinDm(app, thread.id, y),
    ];
    expect((await as(app, y).delete(`/friends/${x.id}`)).status).toBe(204);
    await expectReadOnly({ owner: x, x: y, y: x, sharedId: own, thread, sockets, history: ["friends only"] });

    const pair = await pairInWorkspace("UnfShared");
    await befriend(app, pair.x, pair.y);
    expect((await as(app, pair.x).delete(`/friends/${pair.y.id}`)).status).toBe(204);
    await expectLive(pair);
  });
});

describe("a socket that outlived its reach", () => {
  it("has its message frame refused with an error event, stored nowhere, and is closed", async () => {
    const pair = await pairInWorkspace("Outlived");
    // Reach ends behind the API's back (no request tells the thread's object): once what the
    // object learned has expired (ACCESS_CACHE_SECONDS), its check before writing stops the message.
    await app.sql`delete from workspace_members where workspace_id = ${pair.sharedId} and user_id = ${pair.y.id}`;
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const clientId = randomUUID();
    pair.sockets[0].send({ type: "message", content: "into the void", client_id: clientId });
    expect((await pair.sockets[0].next("error")).payload).toEqual({
      code: "forbidden",
      detail: READ_ONLY,
      client_id: clientId,
    });
    expect(await closeFrame(pair.sockets[0], 5_000)).toEqual({ code: 1008, reason: READ_ONLY });
    expect(pair.sockets[1].pending().filter((f) => f.type === "message")).toEqual([]);
    expect(await storedContents(pair.thread.id)).toEqual(pair.history);
    await pair.sockets[1].close();
  });
});

/**
 * What only the thread socket /ws/dm/{thread_id} does
 * (docs/original-defects.md#d7-socket-sessions-and-expiry,
 * docs/original-defects.md#d8-single-process-fan-out): every connect announced, friends admitted and
 * read-only threads refused, read receipts to both participants, no offline announcement while the user's
 * notifications socket is open, and `dm.unread` for a recipient who is not looking at the thread. What every
 * conversation socket does, channels and threads alike, is test/conversations/sockets.test.ts (and
 * delivery.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { as } from "../support/http";
import {
  dmPath,
  dmUrl,
  expectNoEventSoFar,
  idOf,
  joinDm,
  notificationsOf,
  probe,
  refusal,
  take,
} from "../support/sockets";
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
import { rawHandshake } from "../support/ws";

let app: TestApp;
let cast: Cast;
let thread: ThreadBody;

beforeAll(async () => {
  app = await startApp();
  cast = await buildCast(app, "sock");
  thread = await openThread(app, cast.alice, cast.bob, cast.workspaceId);
});
afterAll(async () => {
  await app?.close();
});

/** A thread of its own, between two new members. */
async function freshPair(): Promise<{ threadId: number; a: TestUser; b: TestUser }> {
  const [a, b] = [await newMember(app, cast, "SockA"), await newMember(app, cast, "SockB")];
  return { threadId: (await openThread(app, a, b, cast.workspaceId)).id, a, b };
}

describe("handshake", () => {
  it("admits both participants, announcing each connect to the thread, the new socket included", async () => {
    const alice = await joinDm(app, thread.id, cast.alice);
    expect((await alice.next("presence")).payload).toEqual({
      user_id: cast.alice.id,
      display_name: cast.alice.displayName,
      online: true,
    });
    const bob = await joinDm(app, thread.id, cast.bob);
    for (const socket of [alice, bob]) {
      expect((await socket.next("presence")).payload).toMatchObject({ user_id: cast.bob.id, online: true });
    }
    // Every connect is announced, a second tab's too (as the original did).
    const bobAgain = await joinDm(app, thread.id, cast.bob);
    expect((await alice.next("presence")).payload).toMatchObject({ user_id: cast.bob.id, online: true });
    for (const socket of [alice, bob, bobAgain]) await socket.close();
  });

  it("admits a pair of friends who share no workspace, and refuses a pair that can no longer reach each other", async () => {
    const [a, b] = [await userInNoWorkspace(app, "SockFriendA"), await userInNoWorkspace(app, "SockFriendB")];
    await befriend(app, a, b);
    const friends = await openThread(app, a, b, await workspaceOf(app, a));
    const socket = await joinDm(app, friends.id, b);
    const message = await postDm(app, a, friends.id, "friends talk");
    expect((await socket.next("message")).payload).toMatchObject({ id: message.id });
    await socket.close();

    const { threadId, a: x, b: y } = await freshPair();
    expect((await as(app, cast.alice).delete(`/workspaces/${cast.workspaceId}/members/${y.id}`)).status).toBe(
      204,
    );
    const detail = "Thread is read-only: its participants share no workspace and are not friends";
    for (const user of [x, y]) {
      expect(await rawHandshake(app.url, dmPath(threadId, user.accessToken))).toEqual({
        status: 403,
        body: { detail },
      });
      expect(await refusal(dmUrl(app, threadId, { token: user.accessToken }))).toBe(403);
    }
  });
});

describe("read receipts", () => {
  it("turns a read frame into a receipt for both participants, which the author's read-status shows", async () => {
    const { threadId, a, b } = await freshPair();
    const first = await postDm(app, a, threadId, "one");
    await postDm(app, a, threadId, "two");
    const reader = await joinDm(app, threadId, b);
    const author = await joinDm(app, threadId, a);
    reader.send({ type: "read", last_read_message_id: first.id });
    const receipt = { thread_id: threadId, user_id: b.id, last_read_message_id: first.id };
    for (const socket of [reader, author])
      expect(await socket.next("read")).toEqual({ type: "read", payload: receipt });
    const status = await as(app, a).get(`/dm/threads/${threadId}/read-status`);
    expect(status.body).toEqual({
      thread_id: threadId,
      self_last_read_message_id: 0,
      other_last_read_message_id: first.id,
      unread_count: 0,
    });
    await reader.close();
    await author.close();
  });
});

describe("presence", () => {
  it("says nothing when the user is still connected through their notifications socket", async () => {
    const { threadId, a, b } = await freshPair();
    const feed = await notificationsOf(app, b);
    const watcher = await joinDm(app, threadId, a);
    const tab = await joinDm(app, threadId, b);
    await take(watcher, "presence", 2);
    await tab.close();
    // Once the object has seen the close, its decision (a step of the thread's queue) comes before
    // any message written afterwards.
    await expect.poll(async () => (await probe(app, "dm", threadId)).sockets, { timeout: 5_000 }).toBe(1);
    const message = await postDm(app, a, threadId, "after the close");
    expect(idOf(await watcher.next("message"))).toBe(message.id);
    expect(watcher.pending().filter((f) => f.type === "presence")).toEqual([]);
    for (const socket of [watcher, feed]) await socket.close();
  });
});

describe("dm.unread for a recipient who is not looking at the thread", () => {
  it("reaches every notifications socket of the recipient, for REST and socket messages alike", async () => {
    const { threadId, a, b } = await freshPair();
    const second = await login(app, b.email, b.password);
    const feeds = [await notificationsOf(app, b), await notificationsOf(app, b, second.access_token)];
    const senderFeed = await notificationsOf(app, a);
    await postDm(app, a, threadId, "over REST");
    for (const feed of feeds) {
      expect(await feed.next()).toEqual({ type: "dm.unread", payload: { thread_id: threadId, delta: 1 } });
    }
    const socket = await joinDm(app, threadId, a);
    socket.send({ type: "message", content: "over the socket" });
    for (const feed of feeds) {
      expect(await feed.next()).toEqual({ type: "dm.unread", payload: { thread_id: threadId, delta: 1 } });
    }
    // The sender is told nothing.
    await expectNoEventSoFar(app, a, senderFeed);
    for (const s of [socket, senderFeed, ...feeds]) await s.close();
  });

  it("is not sent while the recipient has a socket open on the thread, and is again once it closes", async () => {
    const { threadId, a, b } = await freshPair();
    const feed = await notificationsOf(app, b);
    const looking = await joinDm(app, threadId, b);
    const message = await postDm(app, a, threadId, "seen live");
    expect(idOf(await looking.next("message"))).toBe(message.id);
    await expectNoEventSoFar(app, b, feed);
    // Another user's socket on the thread (the sender's) does not count as the recipient looking.
    await looking.close();
    const senderSocket = await joinDm(app, threadId, a);
    await postDm(app, a, threadId, "unseen");
    expect(await feed.next()).toEqual({ type: "dm.unread", payload: { thread_id: threadId, delta: 1 } });
    for (const s of [feed, senderSocket]) await s.close();
  });
});

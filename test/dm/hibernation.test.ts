/**
 * The thread's object across hibernation: evicted while idle, it is re-created by
 * the next event with its sockets open, and each socket's attachment still says who it is and
 * which thread and participants it belongs to: messages, typing, read receipts and the recipient's
 * `dm.unread` decision work as before, and client_id records (object storage) still hold.
 *
 * This test waits for real time to pass (Miniflare evicts an idle object after 10 to 15 s). Sockets
 * use tokens without a session (REQUIRE_SESSION_CLAIM=false): a socket with a session makes the
 * object re-check it every few seconds, which keeps the object awake.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { expectNoEventSoFar, idOf, joinDm, notificationsOf, probe } from "../support/sockets";
import { accessTokenExpiringIn, type TestUser } from "../support/users";
import { buildCast, type Cast, newMember, openThread, postDm } from "../support/worlds";

let app: TestApp;
let cast: Cast;

beforeAll(async () => {
  app = await startApp({ env: { REQUIRE_SESSION_CLAIM: "false" } });
  cast = await buildCast(app, "hib");
});
afterAll(async () => {
  await app?.close();
});

const sessionless = async (user: TestUser): Promise<TestUser> => ({
  ...user,
  accessToken: await accessTokenExpiringIn(user, 600, false),
});
const PING = '{"type":"ping"}';

describe("hibernation", () => {
  it("is evicted while idle and wakes with its sockets and their state intact", async () => {
    const [a, b] = [
      await sessionless(await newMember(app, cast, "SleepA")),
      await sessionless(await newMember(app, cast, "SleepB")),
    ];
    const { id: threadId } = await openThread(app, a, b, cast.workspaceId);
    const alice = await joinDm(app, threadId, a);
    const bob = await joinDm(app, threadId, b);
    const bobFeed = await notificationsOf(app, b);
    await alice.next("presence");
    await alice.next("presence");
    const before = await probe(app, "dm", threadId);
    expect(before.sockets).toBe(2);

    // Only the web app's pings, answered by the runtime without waking the object; the
    // notifications socket gets its own keep-alive.
    const pinger = setInterval(() => {
      alice.sendText(PING);
      bob.sendText(PING);
      bobFeed.sendText("ping");
    }, 4_000);
    try {
      await new Promise((resolve) => setTimeout(resolve, 20_000));
    } finally {
      clearInterval(pinger);
    }
    const after = await probe(app, "dm", threadId);
    expect(after.instanceId).not.toBe(before.instanceId);
    expect(after.sockets).toBe(2);

    // Frames on the new instance: the attachment names the sender, their thread and the other one.
    alice.send({ type: "message", content: "good morning", client_id: "client:wake" });
    const message = await bob.next("message");
    expect(message.payload).toMatchObject({ thread_id: threadId, user_id: a.id, content: "good morning" });
    expect((await alice.next("message")).payload).toEqual(message.payload);
    bob.send({ type: "typing" });
    expect((await alice.next("typing")).payload).toEqual({
      user_id: b.id,
      display_name: b.displayName,
      is_typing: true,
    });
    bob.send({ type: "read", last_read_message_id: idOf(message) });
    expect((await alice.next("read")).payload).toEqual({
      thread_id: threadId,
      user_id: b.id,
      last_read_message_id: idOf(message),
    });
    // Bob is looking at the thread: no dm.unread. The client_id record survived too.
    await expectNoEventSoFar(app, b, bobFeed);
    expect((await postDm(app, a, threadId, "good morning", "client:wake")).id).toBe(idOf(message));
    for (const socket of [alice, bob, bobFeed]) await socket.close();
  }, 60_000);
});

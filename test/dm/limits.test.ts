/**
 * Limits on direct messages (docs/original-defects.md#d14-rate-limit-bypass; the original had none): messages
 * per user and thread over REST and the thread socket together, counted by the thread's object; and thread
 * creations (and user lookups) per user, counted in the store, while re-opening an existing thread stays
 * free.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { windowWithRoom } from "../ratelimit/support";
import { startApp, type TestApp } from "../support/app";
import { as } from "../support/http";
import { joinDm } from "../support/sockets";
import type { TestUser } from "../support/users";
import { buildCast, type Cast, newMember, openThread, postDm } from "../support/worlds";

const MESSAGES_PER_WINDOW = 5;
const THREADS_PER_MINUTE = 3;

let app: TestApp;
let cast: Cast;

beforeAll(async () => {
  app = await startApp({
    env: {
      RATE_LIMIT_DM_MESSAGE_PER_10_SECONDS: String(MESSAGES_PER_WINDOW),
      RATE_LIMIT_DM_THREAD_CREATE_PER_MINUTE: String(THREADS_PER_MINUTE),
    },
  });
  cast = await buildCast(app, "lim");
});
afterAll(async () => {
  await app?.close();
});

async function storedCount(threadId: number): Promise<number> {
  const [row] = await app.sql<{ n: number }[]>`
    select count(*)::int as n from direct_messages where thread_id = ${threadId}`;
  return (row as { n: number }).n;
}

describe("messages per user and thread", () => {
  it("shares one window between REST and the socket, answers the excess with 429 or an error event", async () => {
    const [a, b] = [await newMember(app, cast, "LimA"), await newMember(app, cast, "LimB")];
    const { id: threadId } = await openThread(app, a, b, cast.workspaceId);
    const socket = await joinDm(app, threadId, a);
    // The windows are aligned to the clock (the store's fixed windows): start the burst early in
    // one, or a window ending mid-burst (likely on a busy machine) lets the excess through.
    await windowWithRoom(10_000, 7_000);
    await postDm(app, a, threadId, "rest 1");
    const last = await postDm(app, a, threadId, "rest 2", "client:last");
    for (let i = 0; i < MESSAGES_PER_WINDOW - 2; i++) socket.send({ type: "message", content: `ws ${i}` });
    for (let i = 0; i < MESSAGES_PER_WINDOW; i++) await socket.next("message");

    socket.send({ type: "message", content: "one too many", client_id: "client:over" });
    expect((await socket.next("error")).payload).toEqual({
      code: "rate_limited",
      detail: "Too many requests",
      client_id: "client:over",
    });
    const limited = await as(app, a).post(`/dm/threads/${threadId}/messages`, { json: { content: "x" } });
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual({ detail: "Too many requests" });
    expect(Number(limited.headers.get("Retry-After"))).toBeGreaterThan(0);
    // A retry of a stored client_id writes nothing, so it is answered, not limited.
    expect((await postDm(app, a, threadId, "rest 2", "client:last")).id).toBe(last.id);
    // The other participant has a window of their own.
    await postDm(app, b, threadId, "my turn");
    expect(await storedCount(threadId)).toBe(MESSAGES_PER_WINDOW + 1);
    expect(socket.socket.readyState).toBe(socket.socket.OPEN);
    await socket.close();
  });
});

describe("thread creation per user", () => {
  it("limits creations and lookups of other users, not re-opening an existing thread", async () => {
    const others: TestUser[] = [];
    for (let i = 0; i < THREADS_PER_MINUTE + 1; i++) others.push(await newMember(app, cast, `Target${i}`));
    const opener = await newMember(app, cast, "Opener");
    const existing = await openThread(app, cast.alice, opener, cast.workspaceId);
    // The store counts per minute, aligned on the minute: start with room for the whole test.
    const msLeft = 60_000 - (Date.now() % 60_000);
    if (msLeft < 15_000) await new Promise((resolve) => setTimeout(resolve, msLeft + 100));

    const open = (body: object) =>
      as(app, opener).post("/dm/threads", { json: { workspace_id: cast.workspaceId, ...body } });
    expect((await open({ user_id: others[0]?.id })).status).toBe(200);
    expect((await open({ user_id: 2_000_000_000 })).status).toBe(404);
    expect((await open({ user_id: others[1]?.id })).status).toBe(200);
    // The budget is spent; re-opening existing threads (the web app does it on every view) is free.
    for (let i = 0; i < 5; i++) {
      const again = await open({ user_id: (i % 2 ? others[0] : cast.alice)?.id });
      expect(again.status, again.text).toBe(200);
    }
    expect((await open({ user_id: cast.alice.id })).body.id).toBe(existing.id);
    const refused = await open({ user_id: others[2]?.id });
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({ detail: "Too many requests" });
    expect((await open({ participant_email: "nobody-at-all@example.com" })).status).toBe(429);
    const [row] = await app.sql<{ n: number }[]>`select count(*)::int as n from direct_message_threads
      where ${opener.id} in (user1_id, user2_id)`;
    expect(row?.n).toBe(3);
    // Other users have their own budget.
    const [x, y] = [others[3] as TestUser, others[2] as TestUser];
    expect((await openThread(app, x, y, cast.workspaceId)).participants.map((p) => p.id).sort()).toEqual(
      [x.id, y.id].sort(),
    );
  }, 90_000);
});

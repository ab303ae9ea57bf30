/**
 * Threads, for channels and DM threads alike: replies posted with `parent_id` over REST and the
 * socket, the root's counters and `thread.updated`, GET .../replies paging, `include_replies`,
 * one level only, roots of other conversations, deleted roots as tombstones, idempotent replies,
 * and bad input.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import {
  as,
  buildWorld,
  conversationOf,
  type Kind,
  MANY_POSTS,
  type MessageBody,
  messagesPath,
  peopleOf,
  postTo,
  socketOf,
  type World,
} from "./world";

let app: TestApp;
let world: World;

beforeAll(async () => {
  app = await startApp({ env: MANY_POSTS });
  world = await buildWorld(app);
});
afterAll(async () => {
  await app?.close();
});

const ids = (list: { id: number }[]) => list.map((m) => m.id);

describe.each<Kind>(["channel", "dm"])("threads in a %s", (kind) => {
  const path = () => messagesPath(kind, conversationOf(world, kind));
  const people = () => peopleOf(world, kind);
  const post = (content: string, extra: { parent_id?: number; client_id?: string } = {}, who = 0) =>
    postTo(app, people()[who] as never, kind, conversationOf(world, kind), content, extra);

  it("stores a reply with parent_id and moves the root's counters", async () => {
    const [author, other] = people();
    const root = await post("a root");
    expect(root).toMatchObject({ parent_id: null, reply_count: 0, last_reply_at: null, reply_user_ids: [] });
    const first = await post("first reply", { parent_id: root.id });
    expect(first).toMatchObject({ parent_id: root.id, reply_count: 0 });
    await post("second reply", { parent_id: root.id }, 1);
    await post("third reply", { parent_id: root.id });
    const replies = await as(app, other).get(`${path()}/${root.id}/replies`);
    expect(replies.status, replies.text).toBe(200);
    expect((replies.body as MessageBody[]).map((m) => m.content)).toEqual([
      "third reply",
      "second reply",
      "first reply",
    ]);
    const listed = (await as(app, other).get(path())).body as MessageBody[];
    const stored = listed.find((m) => m.id === root.id);
    expect(stored).toMatchObject({ reply_count: 3, reply_user_ids: [author.id, other.id] });
    expect(Date.parse(stored?.last_reply_at ?? "")).toBeGreaterThanOrEqual(
      Date.parse(root.created_at as string),
    );
  });

  it("pages replies by keyset both ways, without gaps or repeats", async () => {
    const root = await post("paged root");
    const made: number[] = [];
    for (let i = 0; i < 7; i++) made.push((await post(`r${i}`, { parent_id: root.id })).id);
    const [, reader] = people();
    const back: number[] = [];
    let before: number | undefined;
    for (;;) {
      const page = await as(app, reader).get(
        `${path()}/${root.id}/replies?limit=3${before ? `&before_id=${before}` : ""}`,
      );
      expect(page.status).toBe(200);
      if (page.body.length === 0) break;
      back.push(...ids(page.body));
      before = page.body[page.body.length - 1].id;
    }
    expect(back).toEqual([...made].reverse());
    const forward: number[] = [];
    let after = 0;
    for (;;) {
      const page = await as(app, reader).get(`${path()}/${root.id}/replies?limit=3&after_id=${after}`);
      if (page.body.length === 0) break;
      forward.push(...ids(page.body));
      after = page.body[page.body.length - 1].id;
    }
    expect(forward).toEqual(made);
  });

  it("lists replies in history by default, and only roots with include_replies=false", async () => {
    const root = await post("root for listing");
    const reply = await post("reply for listing", { parent_id: root.id });
    const all = ids((await as(app, people()[1]).get(`${path()}?limit=5`)).body);
    expect(all.slice(0, 2)).toEqual([reply.id, root.id]);
    for (const value of ["false", "0", "no"]) {
      const roots = (await as(app, people()[1]).get(`${path()}?include_replies=${value}&limit=100`))
        .body as MessageBody[];
      expect(
        roots.every((m) => m.parent_id === null),
        value,
      ).toBe(true);
      expect(ids(roots)).toContain(root.id);
    }
    const bad = await as(app, people()[1]).get(`${path()}?include_replies=maybe`);
    expect(bad.status).toBe(422);
    expect(bad.body.detail[0].loc).toEqual(["query", "include_replies"]);
  });

  it("keeps one level: a reply to a reply is refused with 400 and stores nothing", async () => {
    const root = await post("one level");
    const reply = await post("reply", { parent_id: root.id });
    const res = await as(app, people()[0]).post(path(), { json: { content: "nested", parent_id: reply.id } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ detail: "Threads are one level deep: reply to the thread's first message" });
    const replies = await as(app, people()[0]).get(`${path()}/${root.id}/replies`);
    expect(ids(replies.body)).toEqual([reply.id]);
    const onReply = await as(app, people()[0]).get(`${path()}/${reply.id}/replies`);
    expect(onReply.status).toBe(404);
    expect(onReply.body).toEqual({ detail: "Message not found" });
  });

  it("refuses a parent of another conversation, a missing one and bad ids, storing nothing", async () => {
    const elsewhere =
      kind === "channel"
        ? await postTo(app, world.owner, "channel", world.privateChannelId, "private root")
        : await postTo(app, world.owner, "channel", world.channelId, "a channel root");
    const before = ids((await as(app, people()[0]).get(path())).body);
    for (const parent of [elsewhere.id, 2_000_000_000]) {
      const res = await as(app, people()[0]).post(path(), { json: { content: "lost", parent_id: parent } });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ detail: "Parent message not found" });
    }
    for (const parent of ["x", 1.5, -1, 2 ** 31, true]) {
      const res = await as(app, people()[0]).post(path(), { json: { content: "bad", parent_id: parent } });
      expect(res.status, String(parent)).toBe(422);
      expect(res.body.detail[0].loc).toEqual(["body", "parent_id"]);
    }
    const replies = await as(app, people()[0]).get(`${path()}/${elsewhere.id}/replies`);
    expect(replies.status).toBe(404);
    for (const bad of ["abc", "0x1", "99999999999"]) {
      expect((await as(app, people()[0]).get(`${path()}/${bad}/replies`)).status).toBe(422);
    }
    expect(ids((await as(app, people()[0]).get(path())).body)).toEqual(before);
  });

  it("keeps a deleted root's thread readable, as a tombstone among the roots", async () => {
    const root = await post("to be deleted");
    const reply = await post("survives", { parent_id: root.id }, 1);
    const childless = await post("deleted without replies");
    expect((await as(app, people()[0]).delete(`${path()}/${root.id}`)).status).toBe(204);
    expect((await as(app, people()[0]).delete(`${path()}/${childless.id}`)).status).toBe(204);
    const roots = (await as(app, people()[1]).get(`${path()}?include_replies=false&limit=100`))
      .body as MessageBody[];
    const tombstone = roots.find((m) => m.id === root.id);
    expect(tombstone).toMatchObject({ is_deleted: true, content: "", reply_count: 1 });
    expect(ids(roots)).not.toContain(childless.id);
    const replies = await as(app, people()[1]).get(`${path()}/${root.id}/replies`);
    expect(replies.status).toBe(200);
    expect(ids(replies.body)).toEqual([reply.id]);
    // Replying to a deleted root still works: the thread goes on.
    const late = await post("late reply", { parent_id: root.id });
    expect(late.parent_id).toBe(root.id);
  });

  it("returns the first reply again for a repeated client_id and counts it once", async () => {
    const root = await post("idempotent root");
    const first = await post("once", { parent_id: root.id, client_id: `reply-${kind}` });
    const again = await post("once", { parent_id: root.id, client_id: `reply-${kind}` });
    expect(again.id).toBe(first.id);
    const listed = ((await as(app, people()[0]).get(path())).body as MessageBody[]).find(
      (m) => m.id === root.id,
    );
    expect(listed?.reply_count).toBe(1);
  });

  it("broadcasts a socket reply as a message with parent_id, then thread.updated", async () => {
    const [author, other] = people();
    const root = await post("socket root");
    const sender = await socketOf(app, world, kind, author);
    const watcher = await socketOf(app, world, kind, other);
    sender.send({ type: "message", content: "over the socket", parent_id: root.id, client_id: "sock-1" });
    for (const socket of [sender, watcher]) {
      const message = await socket.next("message");
      expect(message.payload).toMatchObject({ content: "over the socket", parent_id: root.id });
      expect(message.payload).not.toHaveProperty("reactions");
      const updated = await socket.next("thread.updated");
      expect(updated.payload).toMatchObject({
        message_id: root.id,
        reply_count: 1,
        reply_user_ids: [author.id],
      });
      expect(updated.payload).toHaveProperty(
        kind === "channel" ? "channel_id" : "thread_id",
        conversationOf(world, kind),
      );
    }
    // A REST reply reaches the sockets the same way.
    await postTo(app, other, kind, conversationOf(world, kind), "over REST", { parent_id: root.id });
    const restReply = await watcher.next("message");
    expect(restReply.payload).toMatchObject({ parent_id: root.id, content: "over REST" });
    expect((await watcher.next("thread.updated")).payload).toMatchObject({
      reply_count: 2,
      reply_user_ids: [other.id, author.id],
    });
    // Bad parents over the socket: an error event, nothing stored, the socket stays open.
    sender.send({ type: "message", content: "bad", parent_id: "x", client_id: "sock-2" });
    expect(await sender.next("error")).toMatchObject({
      type: "error",
      payload: { code: "invalid_field", field: "parent_id", client_id: "sock-2" },
    });
    const reply = await post("a reply", { parent_id: root.id });
    sender.send({ type: "message", content: "nested", parent_id: reply.id, client_id: "sock-3" });
    expect((await sender.next("error")).payload).toMatchObject({
      code: "invalid_parent",
      client_id: "sock-3",
    });
    sender.send({ type: "message", content: "missing", parent_id: 2_000_000_000, client_id: "sock-4" });
    expect((await sender.next("error")).payload).toMatchObject({ code: "not_found", client_id: "sock-4" });
    sender.send({ type: "ping" });
    expect(sender.socket.readyState).toBe(sender.socket.OPEN);
    await sender.close();
    await watcher.close();
  });
});

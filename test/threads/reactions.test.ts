/**
 * Reactions, for channels and DM threads alike: PUT and DELETE .../reactions/{emoji}, idempotent;
 * what readers see (count, `me`); the emoji rule (422); at most 20 different emoji (409); deleted
 * and foreign messages (404); read-only conversations (403); the events, in order with messages;
 * and the per-user limit (429).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_DISTINCT_REACTIONS, SHORT_NAMES } from "../../src/services/reactions";
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
  app = await startApp({ env: { ...MANY_POSTS, RATE_LIMIT_REACTION_PER_MINUTE: "100" } });
  world = await buildWorld(app);
});
afterAll(async () => {
  await app?.close();
});

const enc = encodeURIComponent;

describe.each<Kind>(["channel", "dm"])("reactions in a %s", (kind) => {
  const path = () => messagesPath(kind, conversationOf(world, kind));
  const people = () => peopleOf(world, kind);
  const post = (content: string) => postTo(app, people()[0], kind, conversationOf(world, kind), content);
  const react = (who: number, messageId: number, emoji: string, method: "put" | "delete" = "put") =>
    as(app, people()[who])[method](`${path()}/${messageId}/reactions/${enc(emoji)}`);

  it("adds and removes idempotently; readers see the count and whether they reacted", async () => {
    const message = await post("react to me");
    const first = await react(0, message.id, "👍");
    expect(first.status, first.text).toBe(200);
    expect(first.body).toEqual([{ emoji: "👍", count: 1, me: true }]);
    expect((await react(0, message.id, "👍")).body).toEqual([{ emoji: "👍", count: 1, me: true }]);
    expect((await react(1, message.id, "👍")).body).toEqual([{ emoji: "👍", count: 2, me: true }]);
    expect((await react(1, message.id, ":tada:")).body).toEqual([
      { emoji: "👍", count: 2, me: true },
      { emoji: ":tada:", count: 1, me: true },
    ]);
    const seenByAuthor = ((await as(app, people()[0]).get(path())).body as MessageBody[]).find(
      (m) => m.id === message.id,
    );
    expect(seenByAuthor?.reactions).toEqual([
      { emoji: "👍", count: 2, me: true },
      { emoji: ":tada:", count: 1, me: false },
    ]);
    expect((await react(0, message.id, "👍", "delete")).body).toEqual([
      { emoji: "👍", count: 1, me: false },
      { emoji: ":tada:", count: 1, me: false },
    ]);
    const again = await react(0, message.id, "👍", "delete");
    expect(again.status).toBe(200);
    expect(again.body).toEqual([
      { emoji: "👍", count: 1, me: false },
      { emoji: ":tada:", count: 1, me: false },
    ]);
    await react(1, message.id, "👍", "delete");
    await react(1, message.id, ":tada:", "delete");
    const bare = ((await as(app, people()[1]).get(path())).body as MessageBody[]).find(
      (m) => m.id === message.id,
    );
    expect(bare?.reactions).toEqual([]);
  });

  it("accepts single emoji sequences and the fixed short names, and refuses the rest with 422", async () => {
    const message = await post("emoji rules");
    for (const emoji of ["👍🏽", "🇫🇷", "👨‍👩‍👧", "❤️", ":+1:", ":white_check_mark:"]) {
      const res = await react(0, message.id, emoji);
      expect(res.status, emoji).toBe(200);
    }
    for (const emoji of [
      "a",
      "👍👍",
      ":not_a_name:",
      "thumbsup",
      "👍 ",
      "<b>",
      ":+1",
      "x".repeat(300),
      "\u0000",
    ]) {
      const res = await react(0, message.id, emoji);
      expect(res.status, JSON.stringify(emoji)).toBe(422);
      expect(res.body.detail[0].loc).toEqual(["path", "emoji"]);
    }
    expect((await react(0, message.id, "%ZZ")).status).toBe(422);
  });

  it("holds at most 20 different emoji per message (409), while more people may use each", async () => {
    const message = await post("many emoji");
    // As many different emoji as a message may carry, then one more.
    const shortNames = [...SHORT_NAMES].slice(0, MAX_DISTINCT_REACTIONS + 1);
    const over = shortNames.pop() as string;
    for (const name of shortNames) expect((await react(0, message.id, name)).status).toBe(200);
    const refused = await react(0, message.id, over);
    expect(refused.status).toBe(409);
    expect(refused.body).toEqual({ detail: "A message has at most 20 different reactions" });
    expect((await react(1, message.id, ":+1:")).status).toBe(200);
    const listed = ((await as(app, people()[0]).get(path())).body as MessageBody[]).find(
      (m) => m.id === message.id,
    );
    expect(listed?.reactions).toHaveLength(20);
  });

  it("answers an edit with the message's reactions as the editor sees them", async () => {
    const message = await post("edit me");
    await react(1, message.id, "🎉");
    const edited = await as(app, people()[0]).patch(`${path()}/${message.id}`, {
      json: { content: "edited" },
    });
    expect(edited.status).toBe(200);
    expect(edited.body.reactions).toEqual([{ emoji: "🎉", count: 1, me: false }]);
  });

  it("answers 404 for a missing, deleted or foreign message, and 422 for a bad id", async () => {
    const message = await post("soon gone");
    expect((await as(app, people()[0]).delete(`${path()}/${message.id}`)).status).toBe(204);
    const foreign = await postTo(app, world.owner, "channel", world.privateChannelId, "elsewhere");
    for (const id of [message.id, foreign.id, 2_000_000_000]) {
      const res = await react(0, id, "👍");
      expect(res.status, String(id)).toBe(404);
      expect(res.body).toEqual({ detail: "Message not found" });
    }
    expect((await as(app, people()[0]).put(`${path()}/abc/reactions/${enc("👍")}`)).status).toBe(422);
  });

  it("tells every socket reaction.added and reaction.removed, in order with the messages", async () => {
    const [author, other] = people();
    const watcher = await socketOf(app, world, kind, other);
    const message = await post("watched");
    await react(0, message.id, "🔥");
    await react(0, message.id, "🔥"); // changes nothing: no event
    const next = await post("after the reaction");
    await react(0, message.id, "🔥", "delete");
    const types: string[] = [];
    const frames = [];
    for (let i = 0; i < 4; i++) {
      const frame = await watcher.next();
      if (frame.type === "presence" || frame.type === "typing") {
        i--;
        continue;
      }
      types.push(frame.type);
      frames.push(frame);
    }
    expect(types).toEqual(["message", "reaction.added", "message", "reaction.removed"]);
    expect(frames[1]?.payload).toMatchObject({
      message_id: message.id,
      emoji: "🔥",
      user_id: author.id,
      count: 1,
    });
    expect(frames[2]?.payload).toMatchObject({ id: next.id });
    expect(frames[3]?.payload).toMatchObject({ message_id: message.id, emoji: "🔥", count: 0 });
    await watcher.close();
  });
});

describe("where reacting is not allowed", () => {
  it("refuses reactions in an archived channel with 403 and still lists them", async () => {
    const channel = await as(app, world.owner).post(`/workspaces/${world.workspaceId}/channels`, {
      json: { name: `archived-${Date.now()}` },
    });
    const message = await postTo(app, world.owner, "channel", channel.body.id, "before archiving");
    expect(
      (
        await as(app, world.owner).put(
          `/channels/${channel.body.id}/messages/${message.id}/reactions/${enc("👍")}`,
        )
      ).status,
    ).toBe(200);
    await as(app, world.owner).patch(`/channels/${channel.body.id}`, { json: { is_archived: true } });
    const res = await as(app, world.owner).delete(
      `/channels/${channel.body.id}/messages/${message.id}/reactions/${enc("👍")}`,
    );
    expect(res.status).toBe(403);
    const listed = (await as(app, world.owner).get(`/channels/${channel.body.id}/messages`))
      .body as MessageBody[];
    expect(listed[0]?.reactions).toEqual([{ emoji: "👍", count: 1, me: true }]);
  });

  it("limits reactions per user (429 with Retry-After), counting adds and removes", async () => {
    const limited = await startApp({ env: { RATE_LIMIT_REACTION_PER_MINUTE: "3" } });
    try {
      const w = await buildWorld(limited);
      const message = await postTo(limited, w.member, "channel", w.channelId, "limit me");
      const path = `/channels/${w.channelId}/messages/${message.id}/reactions/${enc("👍")}`;
      expect((await as(limited, w.member).put(path)).status).toBe(200);
      expect((await as(limited, w.member).delete(path)).status).toBe(200);
      expect((await as(limited, w.member).put(path)).status).toBe(200);
      const refused = await as(limited, w.member).delete(path);
      expect(refused.status).toBe(429);
      expect(refused.headers.get("retry-after")).toMatch(/^\d+$/);
      // Someone else still may.
      expect((await as(limited, w.admin).put(path)).status).toBe(200);
      const listed = (await as(limited, w.admin).get(`/channels/${w.channelId}/messages`))
        .body as MessageBody[];
      expect(listed[0]?.reactions).toEqual([{ emoji: "👍", count: 2, me: true }]);
    } finally {
      await limited.close();
    }
  });
});

/**
 * Who finds what: GET /search/messages against the workspace's owner, an admin, a member, a user in
 * no workspace, another workspace's member, a member removed from the workspace, a member removed
 * from the private channel, and an anonymous caller. Each finds exactly the messages they can open
 * through the messages routes now, and every hit opens.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { registerUser, type TestUser } from "../support/users";
import { MANY_POSTS, postTo } from "../threads/world";
import { allHits, buildWorld, openHit, removeFromChannel, search, type World } from "./world";

let app: TestApp;
let world: World;
const where: Record<string, string> = {};

type Caller = "owner" | "admin" | "member" | "outsider" | "stranger" | "removed" | "leaver" | "anonymous";

/** What each caller must find: the places of the messages, as named in `where`. */
const FINDS: Record<Exclude<Caller, "anonymous">, string[]> = {
  owner: ["public", "private", "private-by-leaver", "dm"],
  admin: ["public"],
  member: ["public", "dm"],
  outsider: [],
  stranger: ["other"],
  removed: [],
  leaver: ["public"],
};

beforeAll(async () => {
  app = await startApp({ env: MANY_POSTS });
  world = await buildWorld(app, await registerUser(app, { displayName: "Leaver" }));
  const put = async (name: string, user: TestUser, kind: "channel" | "dm", id: number) => {
    const message = await postTo(app, user, kind, id, `mango ${name}`);
    where[`${kind}:${message.id}`] = name;
  };
  await put("public", world.member, "channel", world.channelId);
  await put("private", world.owner, "channel", world.privateChannelId);
  await put("private-by-leaver", world.leaver, "channel", world.privateChannelId);
  await put("dm", world.member, "dm", world.threadId);
  await put("other", world.stranger, "channel", world.otherChannelId);
  await removeFromChannel(app, world.owner, world.privateChannelId, world.leaver.id);
});
afterAll(async () => {
  await app?.close();
});

describe("GET /search/messages", () => {
  it.each(Object.entries(FINDS))(
    "finds for %s what they can read now, and each hit opens",
    async (caller, expected) => {
      const user = world[caller as keyof World] as TestUser;
      const hits = await allHits(app, user, { q: "mango" });
      expect(hits.map((hit) => where[`${hit.conversation_kind}:${hit.message_id}`]).sort()).toEqual(
        [...expected].sort(),
      );
      for (const hit of hits) {
        const opened = await openHit(app, user, hit);
        expect(opened.status, `${caller} opens ${hit.message_id}`).toBe(200);
        expect(opened.message?.content).toBe(`mango ${where[`${hit.conversation_kind}:${hit.message_id}`]}`);
      }
    },
  );

  it("refuses anonymous callers", async () => {
    const res = await search(app, undefined, { q: "mango" });
    expect(res.status).toBe(401);
    expect(res.body.detail).toBe("Not authenticated");
  });

  it("answers a filter on a conversation the caller cannot read with 403, as its messages route does", async () => {
    const cases: [Caller, Record<string, number>][] = [
      ["leaver", { channel_id: world.privateChannelId }],
      ["admin", { channel_id: world.privateChannelId }],
      ["removed", { channel_id: world.channelId }],
      ["removed", { workspace_id: world.workspaceId }],
      ["stranger", { channel_id: world.channelId }],
      ["outsider", { thread_id: world.threadId }],
      ["admin", { thread_id: world.threadId }],
    ];
    for (const [caller, params] of cases) {
      const user = world[caller as keyof World] as TestUser;
      const res = await search(app, user, { q: "mango", ...params });
      expect(res.status, `${caller} ${JSON.stringify(params)}`).toBe(403);
      const [name, id] = Object.entries(params)[0] as [string, number];
      const path =
        name === "thread_id"
          ? `/dm/threads/${id}/messages`
          : name === "channel_id"
            ? `/channels/${id}/messages`
            : null;
      if (path) {
        const direct = await app.fetch(path, { headers: { Authorization: `Bearer ${user.accessToken}` } });
        expect(direct.status, `${caller} GET ${path}`).toBe(403);
      }
    }
  });
});

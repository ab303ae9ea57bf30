/**
 * Who may use threads, reactions and mentions: every route against the workspace's owner, an
 * admin, a member, a user in no workspace, another workspace's member, a member who was removed
 * and an anonymous caller, in a public channel, a private channel (the owner alone is in it) and
 * a DM thread (the owner's and the member's). A refused call changes nothing. And moderators'
 * deletions go to the audit log.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import type { TestUser } from "../support/users";
import {
  as,
  buildWorld,
  type Kind,
  MANY_POSTS,
  type MessageBody,
  messagesPath,
  postTo,
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

type Caller = "owner" | "admin" | "member" | "outsider" | "stranger" | "removed" | "anonymous";
const CALLERS: Caller[] = ["owner", "admin", "member", "outsider", "stranger", "removed", "anonymous"];
const userOf = (caller: Caller): TestUser | undefined => (caller === "anonymous" ? undefined : world[caller]);

interface Place {
  name: string;
  kind: Kind;
  id: () => number;
  /** Expected status per caller, in CALLERS order, for a call that is allowed to readers. */
  expect: number[];
}

const PLACES: Place[] = [
  {
    name: "public channel",
    kind: "channel",
    id: () => world.channelId,
    expect: [200, 200, 200, 403, 403, 403, 401],
  },
  {
    name: "private channel",
    kind: "channel",
    id: () => world.privateChannelId,
    expect: [200, 403, 403, 403, 403, 403, 401],
  },
  { name: "DM thread", kind: "dm", id: () => world.threadId, expect: [200, 403, 200, 403, 403, 403, 401] },
];

describe.each(PLACES)("in a $name", (place) => {
  let root: MessageBody;
  const path = () => messagesPath(place.kind, place.id());

  beforeAll(async () => {
    root = await postTo(app, world.owner, place.kind, place.id(), "root of the matrix");
  });

  it.each(CALLERS.map((caller, index) => [caller, index] as const))(
    "answers %s as the matrix says",
    async (caller, index) => {
      const expected = place.expect[index] as number;
      const client = as(app, userOf(caller));
      const calls = [
        ["GET replies", () => client.get(`${path()}/${root.id}/replies`)],
        [
          "POST reply",
          () => client.post(path(), { json: { content: `reply by ${caller}`, parent_id: root.id } }),
        ],
        ["PUT reaction", () => client.put(`${path()}/${root.id}/reactions/${encodeURIComponent("👀")}`)],
        [
          "DELETE reaction",
          () => client.delete(`${path()}/${root.id}/reactions/${encodeURIComponent(":eyes:")}`),
        ],
      ] as const;
      for (const [name, call] of calls) {
        const res = await call();
        expect(res.status, `${name} by ${caller}`).toBe(expected);
        if (expected !== 200) expect(typeof res.body.detail, `${name} by ${caller}`).toBe("string");
      }
    },
  );

  it("kept only the allowed callers' replies and reactions", async () => {
    const allowed = CALLERS.filter((_, index) => place.expect[index] === 200);
    const replies = (await as(app, world.owner).get(`${path()}/${root.id}/replies`)).body as MessageBody[];
    expect(replies.map((m) => m.content).sort()).toEqual(
      allowed.map((caller) => `reply by ${caller}`).sort(),
    );
    const listed = ((await as(app, world.owner).get(path())).body as MessageBody[]).find(
      (m) => m.id === root.id,
    );
    expect(listed?.reactions).toEqual([{ emoji: "👀", count: allowed.length, me: true }]);
    expect(listed?.reply_count).toBe(allowed.length);
  });
});

describe("GET /users/me/mentions", () => {
  it("lists each caller's own mentions only, and refuses anonymous callers", async () => {
    const text = CALLERS.filter((c) => c !== "anonymous")
      .map((caller) => `@${(userOf(caller) as TestUser).displayName}`)
      .join(" ");
    const message = await postTo(app, world.owner, "channel", world.channelId, text);
    for (const caller of CALLERS) {
      const res = await as(app, userOf(caller)).get("/users/me/mentions");
      if (caller === "anonymous") {
        expect(res.status).toBe(401);
        continue;
      }
      expect(res.status).toBe(200);
      const ids = (res.body as { message: { id: number } }[]).map((m) => m.message.id);
      // Readers of the public channel only, and never the author.
      expect(ids.includes(message.id), caller).toBe(["admin", "member"].includes(caller));
    }
  });
});

describe("moderation", () => {
  it("records a moderator deleting someone else's message in the audit log, not an author deleting their own", async () => {
    const byMember = await postTo(app, world.member, "channel", world.channelId, "moderate me");
    const own = await postTo(app, world.admin, "channel", world.channelId, "my own");
    expect(
      (await as(app, world.admin).delete(`/channels/${world.channelId}/messages/${byMember.id}`)).status,
    ).toBe(204);
    expect(
      (await as(app, world.admin).delete(`/channels/${world.channelId}/messages/${own.id}`)).status,
    ).toBe(204);
    const log = await as(app, world.owner).get(`/workspaces/${world.workspaceId}/audit-logs`);
    expect(log.status, log.text).toBe(200);
    const deletions = (log.body.items as { action: string }[]).filter(
      (entry: { action: string }) => entry.action === "message.deleted",
    );
    expect(deletions).toHaveLength(1);
    expect(deletions[0]).toMatchObject({
      target_type: "message",
      target_id: byMember.id,
      details: { channel_id: world.channelId, author_id: world.member.id },
    });
  });
});

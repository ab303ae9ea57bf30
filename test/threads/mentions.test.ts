/**
 * Mentions: `@handle`, `@channel` and `@here` resolved when a message is stored, only to people
 * who can read the conversation (never the author); the `mention` event on the notification
 * socket; `unread_mention_count` in channel listings; GET /users/me/mentions and what it leaves
 * out; and the rule for addressing everyone (MENTION_EVERYONE_MAX_READERS, here 3).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { registerUser, type TestUser } from "../support/users";
import { as, buildWorld, MANY_POSTS, notificationsOf, postTo, socketOf, type World } from "./world";

let app: TestApp;
let world: World;

beforeAll(async () => {
  app = await startApp({ env: { ...MANY_POSTS, MENTION_EVERYONE_MAX_READERS: "3" } });
  world = await buildWorld(app);
});
afterAll(async () => {
  await app?.close();
});

interface Mention {
  id: number;
  conversation_kind: "channel" | "dm";
  workspace_id: number | null;
  channel_id: number | null;
  thread_id: number | null;
  via: string;
  message: { id: number; content: string };
}

const mentionsOf = async (user: TestUser, query = "") => {
  const res = await as(app, user).get(`/users/me/mentions${query}`);
  expect(res.status, res.text).toBe(200);
  return res.body as Mention[];
};
const messageIdsMentioning = async (user: TestUser) =>
  (await mentionsOf(user, "?limit=100")).map((m) => m.message.id);

async function unreadMentions(user: TestUser, channelId: number): Promise<number> {
  const res = await as(app, user).get(`/workspaces/${world.workspaceId}/channels`);
  expect(res.status).toBe(200);
  return (res.body as { id: number; unread_mention_count: number }[]).find((c) => c.id === channelId)
    ?.unread_mention_count as number;
}

async function newChannel(members: TestUser[], isPrivate = true): Promise<number> {
  const created = await as(app, world.owner).post(`/workspaces/${world.workspaceId}/channels`, {
    json: { name: `m-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`, is_private: isPrivate },
  });
  for (const user of members) {
    const res = await as(app, world.owner).post(`/channels/${created.body.id}/members`, {
      json: { user_id: user.id },
    });
    expect(res.status, res.text).toBe(200);
  }
  return created.body.id;
}

/** A new member of the world's workspace. */
async function joinWorkspace(name: string): Promise<TestUser> {
  const user = await registerUser(app, { displayName: name });
  const invite = await as(app, world.owner).post(`/workspaces/${world.workspaceId}/invites`, {
    json: { invitee_display_name: user.displayName },
  });
  expect((await as(app, user).post(`/invites/${invite.body.id}/accept`)).status).toBe(200);
  return user;
}

describe("@handle", () => {
  it("reaches the person's notification socket, their mention list and the channel's unread count", async () => {
    const feed = await notificationsOf(app, world.member);
    expect(await unreadMentions(world.member, world.channelId)).toBe(0);
    const message = await postTo(
      app,
      world.admin,
      "channel",
      world.channelId,
      `hey @${world.member.displayName}, look`,
    );
    const event = await feed.next("mention");
    expect(event.payload).toMatchObject({
      workspace_id: world.workspaceId,
      channel_id: world.channelId,
      via: "user",
      message: { id: message.id, content: `hey @${world.member.displayName}, look`, user_id: world.admin.id },
    });
    const [listed] = await mentionsOf(world.member);
    expect(listed).toMatchObject({
      conversation_kind: "channel",
      workspace_id: world.workspaceId,
      channel_id: world.channelId,
      thread_id: null,
      via: "user",
      message: { id: message.id, reactions: [] },
    });
    expect(await unreadMentions(world.member, world.channelId)).toBe(1);
    await as(app, world.member).post(`/channels/${world.channelId}/read`, {
      json: { last_read_message_id: message.id },
    });
    expect(await unreadMentions(world.member, world.channelId)).toBe(0);
    expect(await messageIdsMentioning(world.member)).toContain(message.id);
    await feed.close();
  });

  it("matches handles case-insensitively, in replies and DM threads too, and never the author", async () => {
    const root = await postTo(app, world.owner, "channel", world.channelId, "a root");
    const reply = await postTo(
      app,
      world.admin,
      "channel",
      world.channelId,
      `@${world.member.displayName.toUpperCase()} and @${world.admin.displayName}`,
      { parent_id: root.id },
    );
    expect(await messageIdsMentioning(world.member)).toContain(reply.id);
    expect(await messageIdsMentioning(world.admin)).not.toContain(reply.id);
    const dm = await postTo(app, world.owner, "dm", world.threadId, `ping @${world.member.displayName}`);
    const [latest] = await mentionsOf(world.member);
    expect(latest).toMatchObject({
      conversation_kind: "dm",
      thread_id: world.threadId,
      channel_id: null,
      workspace_id: null,
    });
    expect(latest?.message.id).toBe(dm.id);
  });

  it("is not resolved for people who cannot read the conversation", async () => {
    const secret = await newChannel([world.admin]);
    const text = [world.member, world.outsider, world.stranger, world.removed]
      .map((u) => `@${u.displayName}`)
      .join(" ");
    const message = await postTo(app, world.owner, "channel", secret, text);
    const inPublic = await postTo(app, world.owner, "channel", world.channelId, text);
    for (const user of [world.outsider, world.stranger, world.removed]) {
      expect(await mentionsOf(user)).toEqual([]);
    }
    const ids = await messageIdsMentioning(world.member);
    expect(ids).not.toContain(message.id);
    expect(ids).toContain(inPublic.id);
    // A DM thread's readers are its two people only.
    const dm = await postTo(app, world.owner, "dm", world.threadId, `@${world.admin.displayName}`);
    expect(await messageIdsMentioning(world.admin)).not.toContain(dm.id);
  });

  it("disappears from the list when the message is deleted or the reader loses the channel", async () => {
    const gone = await postTo(
      app,
      world.admin,
      "channel",
      world.channelId,
      `bye @${world.member.displayName}`,
    );
    expect(await messageIdsMentioning(world.member)).toContain(gone.id);
    expect(
      (await as(app, world.admin).delete(`/channels/${world.channelId}/messages/${gone.id}`)).status,
    ).toBe(204);
    expect(await messageIdsMentioning(world.member)).not.toContain(gone.id);

    const secret = await newChannel([world.member]);
    const hidden = await postTo(
      app,
      world.owner,
      "channel",
      secret,
      `@${world.member.displayName} in private`,
    );
    expect(await messageIdsMentioning(world.member)).toContain(hidden.id);
    await as(app, world.owner).delete(`/channels/${secret}/members/${world.member.id}`);
    expect(await messageIdsMentioning(world.member)).not.toContain(hidden.id);
  });
});

describe("@channel and @here", () => {
  it("reach everyone who can read a small channel, but not beyond MENTION_EVERYONE_MAX_READERS unless a moderator says it", async () => {
    const small = await newChannel([world.member, world.admin]);
    const everyone = await postTo(app, world.member, "channel", small, "@channel standup!");
    for (const user of [world.owner, world.admin]) {
      const [m] = await mentionsOf(user);
      expect(m).toMatchObject({ via: "channel", message: { id: everyone.id } });
    }
    expect(await messageIdsMentioning(world.member)).not.toContain(everyone.id);

    // The public channel has four readers (owner, admin, member, and a newcomer): above 3.
    const newcomer = await joinWorkspace("Newcomer");
    const big = await postTo(app, world.member, "channel", world.channelId, "@channel hello all");
    for (const user of [world.owner, world.admin, newcomer]) {
      expect(await messageIdsMentioning(user)).not.toContain(big.id);
    }
    const byAdmin = await postTo(app, world.admin, "channel", world.channelId, "@channel from an admin");
    for (const user of [world.owner, world.member, newcomer]) {
      expect(await messageIdsMentioning(user)).toContain(byAdmin.id);
    }
  });

  it("@here reaches only the readers online (a socket on a conversation)", async () => {
    const small = await newChannel([world.member, world.admin]);
    const online = await socketOf(app, { ...world, channelId: small }, "channel", world.member);
    const here = await postTo(app, world.owner, "channel", small, "anyone @here?");
    expect(await messageIdsMentioning(world.member)).toContain(here.id);
    expect(await messageIdsMentioning(world.admin)).not.toContain(here.id);
    await online.close();
  });

  it("names the other participant in a DM thread (@here: while online), and is plain text inside words", async () => {
    const away = await postTo(app, world.member, "dm", world.threadId, "@here you there?");
    expect(await messageIdsMentioning(world.owner)).not.toContain(away.id);
    const dm = await postTo(app, world.member, "dm", world.threadId, "@channel you there?");
    expect((await mentionsOf(world.owner))[0]).toMatchObject({ via: "channel", message: { id: dm.id } });
    const plain = await postTo(app, world.member, "dm", world.threadId, "mail me at team@channel.example");
    expect(await messageIdsMentioning(world.owner)).not.toContain(plain.id);
  });
});

describe("GET /users/me/mentions", () => {
  it("pages newest first by before_id, without gaps or repeats", async () => {
    const reader = await joinWorkspace("Pager");
    const made: number[] = [];
    for (let i = 0; i < 5; i++) {
      made.push(
        (await postTo(app, world.owner, "channel", world.channelId, `#${i} @${reader.displayName}`)).id,
      );
    }
    const seen: number[] = [];
    let before: number | undefined;
    for (;;) {
      const page = await mentionsOf(reader, `?limit=2${before ? `&before_id=${before}` : ""}`);
      if (page.length === 0) break;
      seen.push(...page.map((m) => m.message.id));
      before = page[page.length - 1]?.id;
    }
    expect(seen).toEqual([...made].reverse());
  });

  it("refuses anonymous callers (401) and bad paging (422)", async () => {
    expect((await as(app).get("/users/me/mentions")).status).toBe(401);
    for (const query of ["?limit=abc", "?before_id=-1", "?before_id=1e99"]) {
      const res = await as(app, world.member).get(`/users/me/mentions${query}`);
      expect(res.status, query).toBe(422);
      expect(res.body.detail[0].loc[0]).toBe("query");
    }
  });
});

/**
 * Arranging the people and places tests need: workspaces, invitations, channels, friendships,
 * direct-message threads and their messages. Most go through the public API, as a client would;
 * the few marked "in the database" write rows directly, for tests that must not depend on the
 * routes that would otherwise make them (or need many cheaply).
 */
import { randomBytes } from "node:crypto";
import { expect } from "vitest";
import type { TestApp } from "./app";
import { as, ok } from "./http";
import { registerUser, type TestUser } from "./users";

/** A short random label for names that must not collide within a test file. */
export const label = () => randomBytes(4).toString("hex");

/** Invites `user` to the workspace as its owner, and accepts as `user`. */
export async function invite(app: TestApp, owner: TestUser, workspaceId: number, user: TestUser) {
  const created = await ok(
    as(app, owner).post(`/workspaces/${workspaceId}/invites`, {
      json: { invitee_display_name: user.displayName },
    }),
    "invite",
  );
  await ok(as(app, user).post(`/invites/${created.id}/accept`), "accept invite");
}

/** A workspace created by `owner` through the API, with these users invited and accepted. */
export async function workspaceOf(app: TestApp, owner: TestUser, members: TestUser[] = []): Promise<number> {
  const ws = await ok(as(app, owner).post("/workspaces", { json: { name: `Ws ${label()}` } }), "workspace");
  for (const member of members) await invite(app, owner, ws.id, member);
  return ws.id;
}

/** Makes two users friends through the API: a request by handle, accepted. */
export async function befriend(app: TestApp, a: TestUser, b: TestUser) {
  const request = await ok(
    as(app, a).post("/friends/requests", { json: { addressee_display_name: b.displayName } }),
    "friend request",
  );
  await ok(as(app, b).post(`/friends/requests/${request.id}/accept`), "accept friend request");
}

/** A new user in no workspace. */
export const userInNoWorkspace = (app: TestApp, name: string) => registerUser(app, { displayName: name });

// -- Channels ----------------------------------------------------------------------------------

/**
 * A workspace with an owner, an admin and a member (invited and accepted), a public and a
 * private channel, and a second workspace whose member is a stranger here.
 */
export interface Room {
  owner: TestUser;
  admin: TestUser;
  member: TestUser;
  /** In no workspace of the test's making. */
  outsider: TestUser;
  /** A member of the other workspace only. */
  stranger: TestUser;
  workspaceId: number;
  otherWorkspaceId: number;
  /** Public, in `workspaceId`. */
  channelId: number;
  /** Private, in `workspaceId`; only the owner (its creator) is in it. */
  privateChannelId: number;
  /** Public, in `otherWorkspaceId`. */
  otherChannelId: number;
}

export async function buildRoom(app: TestApp): Promise<Room> {
  const [owner, admin, member, outsider, stranger] = (await Promise.all(
    ["Owner", "Admin", "Member", "Outsider", "Stranger"].map((displayName) =>
      registerUser(app, { displayName }),
    ),
  )) as [TestUser, TestUser, TestUser, TestUser, TestUser];
  const ws = await ok(as(app, owner).post("/workspaces", { json: { name: `Room ${label()}` } }), "workspace");
  const other = await ok(
    as(app, stranger).post("/workspaces", { json: { name: `Other ${label()}` } }),
    "workspace",
  );
  await invite(app, owner, ws.id, admin);
  await invite(app, owner, ws.id, member);
  await ok(
    as(app, owner).patch(`/workspaces/${ws.id}/members/${admin.id}`, { json: { role: "admin" } }),
    "make admin",
  );
  const channel = await ok(
    as(app, owner).post(`/workspaces/${ws.id}/channels`, { json: { name: `general-${label()}` } }),
    "channel",
  );
  const privateChannel = await ok(
    as(app, owner).post(`/workspaces/${ws.id}/channels`, {
      json: { name: `secret-${label()}`, is_private: true },
    }),
    "private channel",
  );
  const otherChannel = await ok(
    as(app, stranger).post(`/workspaces/${other.id}/channels`, { json: { name: `elsewhere-${label()}` } }),
    "other channel",
  );
  return {
    owner,
    admin,
    member,
    outsider,
    stranger,
    workspaceId: ws.id,
    otherWorkspaceId: other.id,
    channelId: channel.id,
    privateChannelId: privateChannel.id,
    otherChannelId: otherChannel.id,
  };
}

/** A new channel of the room's workspace, created by its owner (public unless said otherwise). */
export async function freshChannel(
  app: TestApp,
  room: Pick<Room, "owner" | "workspaceId">,
  options: { name?: string; isPrivate?: boolean } = {},
): Promise<number> {
  const json = { name: options.name ?? `c-${label()}`, ...(options.isPrivate ? { is_private: true } : {}) };
  const res = await as(app, room.owner).post(`/workspaces/${room.workspaceId}/channels`, { json });
  expect(res.status, res.text).toBe(200);
  return res.body.id;
}

/** A message as REST answers it, for both kinds. */
interface MessageFields {
  id: number;
  user_id: number;
  content: string;
  client_id: string | null;
  is_edited: boolean;
  is_deleted: boolean;
  created_at: string;
  updated_at: string | null;
  author: { id: number; display_name: string | null; avatar_url: string | null };
  parent_id: number | null;
  reply_count: number;
  last_reply_at: string | null;
  reply_user_ids: number[];
  reactions: { emoji: string; count: number; me: boolean }[];
}

export interface ChannelMessageBody extends MessageFields {
  channel_id: number;
}

export interface DirectMessageBody extends MessageFields {
  thread_id: number;
}

/** Posts to a message route as `user` and returns the body (fails the test unless 200). */
async function postMessage<T>(
  app: TestApp,
  user: TestUser,
  path: string,
  content: string,
  clientId?: string,
) {
  const res = await as(app, user).post(path, {
    json: clientId === undefined ? { content } : { content, client_id: clientId },
  });
  expect(res.status, res.text).toBe(200);
  return res.body as T;
}

/** Posts a channel message over REST and returns its body (fails the test unless 200). */
export const post = (app: TestApp, user: TestUser, channelId: number, content: string, clientId?: string) =>
  postMessage<ChannelMessageBody>(app, user, `/channels/${channelId}/messages`, content, clientId);

// -- Direct messages ---------------------------------------------------------------------------

/**
 * A workspace shared by Alice, Bob and Carol (Alice owns it; Bob and Carol were invited and
 * accepted), a second workspace whose member Dave shares nothing with them, and Olga, in no
 * workspace at all.
 */
export interface Cast {
  alice: TestUser;
  bob: TestUser;
  /** In the shared workspace, part of no thread of the tests unless a test opens one. */
  carol: TestUser;
  /** A member of the other workspace only. */
  dave: TestUser;
  /** In no workspace. */
  olga: TestUser;
  /** Alice's; Bob and Carol are members. */
  workspaceId: number;
  /** Dave's. */
  otherWorkspaceId: number;
}

/** Registers the cast under names of the given prefix (so `q` searches can tell tests apart). */
export async function buildCast(app: TestApp, prefix = "dm"): Promise<Cast> {
  const [alice, bob, carol, dave, olga] = (await Promise.all(
    ["Alice", "Bob", "Carol", "Dave", "Olga"].map((name) =>
      registerUser(app, { displayName: `${prefix}${name}` }),
    ),
  )) as [TestUser, TestUser, TestUser, TestUser, TestUser];
  const ws = await ok(
    as(app, alice).post("/workspaces", { json: { name: `Shared ${label()}` } }),
    "workspace",
  );
  const other = await ok(
    as(app, dave).post("/workspaces", { json: { name: `Other ${label()}` } }),
    "workspace",
  );
  await invite(app, alice, ws.id, bob);
  await invite(app, alice, ws.id, carol);
  return { alice, bob, carol, dave, olga, workspaceId: ws.id, otherWorkspaceId: other.id };
}

/** A new member of the cast's workspace (a fresh pair for a test of its own). */
export async function newMember(app: TestApp, cast: Cast, name = "Member"): Promise<TestUser> {
  const user = await registerUser(app, { displayName: name });
  await invite(app, cast.alice, cast.workspaceId, user);
  return user;
}

export interface ThreadBody {
  id: number;
  workspace_id: number | null;
  participants: { id: number; display_name: string | null; avatar_url: string | null }[];
  unread_count: number;
  read_only: boolean;
  created_at: string;
  updated_at: string | null;
}

/** Opens (or finds) the thread of two users through POST /dm/threads (fails the test unless 200). */
export async function openThread(app: TestApp, caller: TestUser, other: TestUser, workspaceId: number) {
  const res = await as(app, caller).post("/dm/threads", {
    json: { workspace_id: workspaceId, user_id: other.id },
  });
  expect(res.status, res.text).toBe(200);
  return res.body as ThreadBody;
}

/** Posts a direct message over REST and returns its body (fails the test unless 200). */
export const postDm = (app: TestApp, user: TestUser, threadId: number, content: string, clientId?: string) =>
  postMessage<DirectMessageBody>(app, user, `/dm/threads/${threadId}/messages`, content, clientId);

// -- In the database ---------------------------------------------------------------------------

export type WorkspaceRole = "owner" | "admin" | "member";

/** A workspace, in the database, whose owner is its member with the role "owner" (else its first). */
export async function workspaceWith(
  app: TestApp,
  members: [TestUser, WorkspaceRole][],
  name = `ws-${randomBytes(6).toString("hex")}`,
): Promise<number> {
  const owner = members.find(([, role]) => role === "owner")?.[0] ?? members[0]?.[0];
  if (!owner) throw new Error("a workspace needs a member");
  const slug = `${name}-${randomBytes(6).toString("hex")}`;
  const [row] = await app.sql<{ id: number }[]>`
    insert into workspaces (name, slug, owner_id) values (${name}, ${slug}, ${owner.id}) returning id`;
  const workspaceId = row?.id as number;
  for (const [user, role] of members) {
    await app.sql`insert into workspace_members (workspace_id, user_id, role) values (${workspaceId}, ${user.id}, ${role})`;
  }
  return workspaceId;
}

/** Two users made friends in the database. */
export async function befriendInDatabase(app: TestApp, a: TestUser, b: TestUser): Promise<void> {
  await app.sql`
    insert into friends (user1_id, user2_id) values (${Math.min(a.id, b.id)}, ${Math.max(a.id, b.id)})`;
}

/** The contents of a conversation's stored messages (deleted ones included), oldest first. */
export async function storedContents(app: TestApp, kind: "channel" | "dm", id: number): Promise<string[]> {
  const rows =
    kind === "channel"
      ? await app.sql<
          { content: string }[]
        >`select content from messages where channel_id = ${id} order by id`
      : await app.sql<{ content: string }[]>`
          select content from direct_messages where thread_id = ${id} order by id`;
  return rows.map((r) => r.content);
}

/**
 * Arranging threads, reactions and mentions tests through the public API: test/messages'
 * room (a workspace with an owner, an admin and a member, an outsider, another workspace's
 * member, a public and a private channel), plus a member who was removed from the workspace and
 * a DM thread between the owner and the member. The same helpers address a channel and a DM
 * thread, so each behaviour is tested once for both kinds.
 */
import { expect } from "vitest";
import { as, buildRoom, chatUrl, type Room } from "../messages/room";
import type { TestApp } from "../support/app";
import type { TestUser } from "../support/users";
import { registerUser } from "../support/users";
import { type ConnectOptions, connectSocket, type TestSocket } from "../support/ws";

export { as };

export interface World extends Room {
  /** Was a member of `workspaceId`, then removed. */
  removed: TestUser;
  /** A DM thread of the owner and the member. */
  threadId: number;
}

export type Kind = "channel" | "dm";

/** These tests post more than the default 20 messages per 10 s to one conversation. */
export const MANY_POSTS = {
  RATE_LIMIT_POST_MESSAGE_PER_10_SECONDS: "10000",
  RATE_LIMIT_DM_MESSAGE_PER_10_SECONDS: "10000",
};

async function ok<T = any>(promise: Promise<{ status: number; body: T; text: string }>, what: string) {
  const res = await promise;
  if (res.status !== 200 && res.status !== 204) throw new Error(`${what}: ${res.status} ${res.text}`);
  return res.body;
}

export async function buildWorld(app: TestApp): Promise<World> {
  const room = await buildRoom(app);
  const removed = await registerUser(app, { displayName: "Removed" });
  const created = await ok(
    as(app, room.owner).post(`/workspaces/${room.workspaceId}/invites`, {
      json: { invitee_display_name: removed.displayName },
    }),
    "invite",
  );
  await ok(as(app, removed).post(`/invites/${created.id}/accept`), "accept");
  const thread = await ok(
    as(app, room.owner).post("/dm/threads", {
      json: { workspace_id: room.workspaceId, user_id: room.member.id },
    }),
    "thread",
  );
  await ok(
    as(app, room.owner).delete(`/workspaces/${room.workspaceId}/members/${removed.id}`),
    "remove member",
  );
  return { ...room, removed, threadId: thread.id };
}

/** The messages path of a conversation: `/channels/{id}/messages` or `/dm/threads/{id}/messages`. */
export const messagesPath = (kind: Kind, id: number) =>
  kind === "channel" ? `/channels/${id}/messages` : `/dm/threads/${id}/messages`;

/** The conversation a kind's tests use: the public channel, or the owner's thread with the member. */
export const conversationOf = (world: World, kind: Kind) =>
  kind === "channel" ? world.channelId : world.threadId;

/** Posts (a reply when `parentId` is given) and returns the body; fails the test unless 200. */
export async function postTo(
  app: TestApp,
  user: TestUser,
  kind: Kind,
  id: number,
  content: string,
  extra: { parent_id?: number; client_id?: string } = {},
) {
  const res = await as(app, user).post(messagesPath(kind, id), { json: { content, ...extra } });
  expect(res.status, res.text).toBe(200);
  return res.body as MessageBody;
}

export interface MessageBody {
  id: number;
  content: string;
  parent_id: number | null;
  reply_count: number;
  last_reply_at: string | null;
  reply_user_ids: number[];
  reactions: { emoji: string; count: number; me: boolean }[];
  is_deleted: boolean;
  [key: string]: unknown;
}

/** A socket of the user on the conversation (`/ws/chat/...` or `/ws/dm/...`). */
export function socketOf(
  app: TestApp,
  world: World,
  kind: Kind,
  user: TestUser,
  options: ConnectOptions = {},
): Promise<TestSocket> {
  if (kind === "channel")
    return connectSocket(
      chatUrl(app, world.workspaceId, world.channelId, { token: user.accessToken }),
      options,
    );
  const base = app.url.replace(/^http/, "ws");
  return connectSocket(
    `${base}/ws/dm/${world.threadId}?token=${encodeURIComponent(user.accessToken)}`,
    options,
  );
}

/** The two people of a kind's conversation who can write there: [author, the other reader]. */
export const peopleOf = (world: World, kind: Kind): [TestUser, TestUser] =>
  kind === "channel" ? [world.member, world.admin] : [world.owner, world.member];

/** A /ws/notifications socket of the user. */
export function notificationsOf(app: TestApp, user: TestUser): Promise<TestSocket> {
  return connectSocket(
    `${app.url.replace(/^http/, "ws")}/ws/notifications?token=${encodeURIComponent(user.accessToken)}`,
  );
}

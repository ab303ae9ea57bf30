/**
 * Arranging threads, reactions and mentions tests through the public API: the shared
 * room (test/support/worlds.ts: a workspace with an owner, an admin and a member, an outsider, another workspace's
 * member, a public and a private channel), plus a member who was removed from the workspace and
 * a DM thread between the owner and the member. The same helpers address a channel and a DM
 * thread, so each behaviour is tested once for both kinds.
 */
import { expect } from "vitest";
import type { TestApp } from "../support/app";
import { as, ok } from "../support/http";
import { chatUrl, dmUrl, notificationsOf } from "../support/sockets";
import { registerUser, type TestUser } from "../support/users";
import { buildRoom, type ChannelMessageBody, type Room } from "../support/worlds";
import { type ConnectOptions, connectSocket, type TestSocket } from "../support/ws";

export { as, notificationsOf };

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
  const gone = await as(app, room.owner).delete(`/workspaces/${room.workspaceId}/members/${removed.id}`);
  expect(gone.status, gone.text).toBe(204);
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

/** A message as REST answers it (the channel's shape; a DM's has `thread_id` instead). */
export type MessageBody = ChannelMessageBody;

/** A socket of the user on the conversation (`/ws/chat/...` or `/ws/dm/...`). */
export function socketOf(
  app: TestApp,
  world: World,
  kind: Kind,
  user: TestUser,
  options: ConnectOptions = {},
): Promise<TestSocket> {
  const query = { token: user.accessToken };
  const url =
    kind === "channel"
      ? chatUrl(app, world.workspaceId, world.channelId, query)
      : dmUrl(app, world.threadId, query);
  return connectSocket(url, options);
}

/** The two people of a kind's conversation who can write there: [author, the other reader]. */
export const peopleOf = (world: World, kind: Kind): [TestUser, TestUser] =>
  kind === "channel" ? [world.member, world.admin] : [world.owner, world.member];

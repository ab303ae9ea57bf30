/**
 * What the fuzz tests need so that fuzzed requests reach their handlers: a logged-in owner of a
 * workspace with a public channel, a direct-message thread with a member, a message in each, a
 * pending invite, a pending friend request, and a spare session (for the routes that revoke one).
 * `heal` checks it after each operation's batch and builds a fresh one if a case damaged it.
 */
import { expect } from "vitest";
import type { TestApp } from "../support/app";
import { as } from "../support/http";
import { jwtPayload, login, type TestUser } from "../support/users";
import { buildRoom, openThread, post, postDm, type Room } from "../support/worlds";

export interface World {
  room: Room;
  owner: TestUser;
  threadId: number;
  messageId: number;
  directMessageId: number;
  inviteId: number;
  friendRequestId: number;
  /** A second session of the owner: its id and refresh token, for revocation and refresh routes. */
  spare: { sessionId: string; refreshToken: string };
}

export async function buildWorld(app: TestApp): Promise<World> {
  const room = await buildRoom(app);
  const owner = room.owner;
  const threadId = (await openThread(app, owner, room.member, room.workspaceId)).id;
  const messageId = (await post(app, owner, room.channelId, "fuzz fixture")).id;
  const directMessageId = (await postDm(app, owner, threadId, "fuzz fixture")).id;
  const invite = await as(app, owner).post(`/workspaces/${room.workspaceId}/invites`, {
    json: { invitee_display_name: room.outsider.displayName },
  });
  expect(invite.status, invite.text).toBe(200);
  const friendRequest = await as(app, owner).post("/friends/requests", {
    json: { addressee_display_name: room.stranger.displayName },
  });
  expect(friendRequest.status, friendRequest.text).toBe(200);
  const spare = await login(app, owner.email, owner.password);
  return {
    room,
    owner,
    threadId,
    messageId,
    directMessageId,
    inviteId: invite.body.id,
    friendRequestId: friendRequest.body.id,
    spare: { sessionId: String(jwtPayload(spare.access_token).sid), refreshToken: spare.refresh_token },
  };
}

/**
 * The world as it was built, or a new one when a fuzz case removed or changed something; `broken`
 * names what was missing. The owner's sessions are renewed in place (a case may log out, revoke
 * the other sessions or the spare one).
 */
export async function heal(app: TestApp, world: World): Promise<{ world: World; broken: string[] }> {
  if ((await as(app, world.owner).get("/auth/me")).status !== 200) {
    const tokens = await login(app, world.owner.email, world.owner.password);
    world.owner.accessToken = tokens.access_token;
    world.owner.refreshToken = tokens.refresh_token;
  }
  const owner = as(app, world.owner);
  const { room } = world;
  const names = [
    "workspace",
    "message",
    "direct message",
    "member",
    "invite",
    "friend request",
    "spare session",
  ];
  const checks = await Promise.all([
    owner.get(`/workspaces/${room.workspaceId}`).then((r) => r.status === 200 && r.body.role === "owner"),
    owner
      .get(`/channels/${room.channelId}/messages?limit=100`)
      .then((r) => r.status === 200 && r.body.some((m: { id: number }) => m.id === world.messageId)),
    owner
      .get(`/dm/threads/${world.threadId}/messages?limit=100`)
      .then((r) => r.status === 200 && r.body.some((m: { id: number }) => m.id === world.directMessageId)),
    owner
      .get(`/workspaces/${room.workspaceId}/members`)
      .then(
        (r) =>
          r.status === 200 &&
          r.body.some((m: { user_id?: number; id?: number }) => (m.user_id ?? m.id) === room.member.id),
      ),
    owner
      .get(`/workspaces/${room.workspaceId}/invites`)
      .then((r) => r.status === 200 && r.body.some((i: { id: number }) => i.id === world.inviteId)),
    owner
      .get("/friends/requests/outgoing")
      .then((r) => r.status === 200 && r.body.some((f: { id: number }) => f.id === world.friendRequestId)),
    owner
      .get("/auth/sessions")
      .then(
        (r) =>
          r.status === 200 &&
          r.body.some(
            (s: { session_id: string; revoked_at: string | null }) =>
              s.session_id === world.spare.sessionId && !s.revoked_at,
          ),
      ),
  ]);
  const broken = names.filter((_name, i) => !checks[i]);
  if (broken.length === 1 && broken[0] === "spare session") {
    const spare = await login(app, world.owner.email, world.owner.password);
    world.spare = {
      sessionId: String(jwtPayload(spare.access_token).sid),
      refreshToken: spare.refresh_token,
    };
    return { world, broken };
  }
  return { world: broken.length === 0 ? world : await buildWorld(app), broken };
}

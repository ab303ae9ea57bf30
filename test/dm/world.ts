/**
 * Arranging direct messages for the tests of test/dm, through the public API: a workspace shared
 * by Alice, Bob and Carol (Alice owns it; Bob and Carol were invited and accepted), a second
 * workspace whose member Dave shares nothing with them, and Olga, in no workspace at all; and
 * clients for the thread socket and the notifications socket.
 */
import { randomBytes } from "node:crypto";
import { expect } from "vitest";
import type { TestApp } from "../support/app";
import { api } from "../support/http";
import { registerUser, type TestUser } from "../support/users";
import { type ConnectOptions, connectSocket, type SocketFrame, type TestSocket } from "../support/ws";

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

export const as = (app: TestApp, user?: TestUser) => api(app, { token: user?.accessToken });

async function ok<T = any>(promise: Promise<{ status: number; body: T; text: string }>, what: string) {
  const res = await promise;
  if (res.status !== 200) throw new Error(`${what}: ${res.status} ${res.text}`);
  return res.body;
}

const label = () => randomBytes(4).toString("hex");

export async function invite(app: TestApp, owner: TestUser, workspaceId: number, user: TestUser) {
  const created = await ok(
    as(app, owner).post(`/workspaces/${workspaceId}/invites`, {
      json: { invitee_display_name: user.displayName },
    }),
    "invite",
  );
  await ok(as(app, user).post(`/invites/${created.id}/accept`), "accept invite");
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

/** A new user in no workspace. */
export const stranger = (app: TestApp, name: string) => registerUser(app, { displayName: name });

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

export interface DirectMessageBody {
  id: number;
  thread_id: number;
  user_id: number;
  content: string;
  client_id: string | null;
  is_deleted: boolean;
  is_edited: boolean;
  created_at: string;
  updated_at: string | null;
  author: { id: number; display_name: string | null; avatar_url: string | null };
  parent_id: number | null;
  reply_count: number;
  last_reply_at: string | null;
  reply_user_ids: number[];
  reactions: { emoji: string; count: number; me: boolean }[];
}

/** Posts a message over REST and returns its body (fails the test unless 200). */
export async function postDm(
  app: TestApp,
  user: TestUser,
  threadId: number,
  content: string,
  clientId?: string,
) {
  const res = await as(app, user).post(`/dm/threads/${threadId}/messages`, {
    json: clientId === undefined ? { content } : { content, client_id: clientId },
  });
  expect(res.status, res.text).toBe(200);
  return res.body as DirectMessageBody;
}

export const dmPath = (threadId: number | string, token?: string, extra = "") =>
  `/ws/dm/${threadId}${token === undefined ? "" : `?token=${encodeURIComponent(token)}`}${extra}`;

export function dmUrl(
  app: TestApp,
  threadId: number | string,
  query: Record<string, string | number | undefined> = {},
) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  const qs = params.toString();
  return `${app.url.replace(/^http/, "ws")}/ws/dm/${threadId}${qs ? `?${qs}` : ""}`;
}

/** A thread socket of the user. */
export function joinDm(
  app: TestApp,
  threadId: number,
  user: TestUser,
  options: { since?: number; token?: string } & ConnectOptions = {},
): Promise<TestSocket> {
  const { since, token, ...connect } = options;
  return connectSocket(dmUrl(app, threadId, { token: token ?? user.accessToken, since }), connect);
}

/** A /ws/notifications socket of the user. */
export function notificationsOf(app: TestApp, user: TestUser, token = user.accessToken): Promise<TestSocket> {
  return connectSocket(
    `${app.url.replace(/^http/, "ws")}/ws/notifications?token=${encodeURIComponent(token)}`,
  );
}

/**
 * Proves that no event reached a notifications socket so far: delivers a marker event (through the
 * ENV=test delivery route) and checks it is the next frame. A feed delivers in order, and a REST
 * post answers only once its notifications were delivered.
 */
export async function expectNoNotificationSoFar(app: TestApp, user: TestUser, socket: TestSocket) {
  const marker = `marker.${label()}`;
  const res = await api(app).post(`/__test__/notifications/${user.id}`, { json: { type: marker } });
  expect(res.status, res.text).toBe(200);
  expect(await socket.next()).toEqual({ type: marker, payload: {} });
}

/** The HTTP status of a refused handshake (fails the test if the socket opens). */
export async function refusal(url: string, options: ConnectOptions = {}): Promise<number> {
  try {
    const socket = await connectSocket(url, options);
    await socket.close();
  } catch (error) {
    return (error as { status?: number }).status ?? -1;
  }
  throw new Error("the handshake was accepted");
}

/** The next `count` frames of a type, in arrival order. */
export async function take(socket: TestSocket, type: string, count: number, timeoutMs = 10_000) {
  const frames: SocketFrame[] = [];
  for (let i = 0; i < count; i++) frames.push(await socket.next(type, timeoutMs));
  return frames;
}

/**
 * Proves no frame of `type` arrived so far: sends a typing frame from `via` (broadcast to every
 * socket of the thread, after anything queued before it) and checks it arrives with nothing of
 * that type before it.
 */
export async function expectNothingPending(socket: TestSocket, via: TestSocket, type: string) {
  via.send({ type: "typing", is_typing: false });
  await socket.next("typing");
  expect(socket.pending().filter((f) => f.type === type)).toEqual([]);
}

export const idOf = (frame: SocketFrame) => (frame.payload as { id: number }).id;

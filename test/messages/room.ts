/**
 * Arranging channels for the tests of test/messages, through the public API: a workspace with an
 * owner, an admin and a member (invited and accepted), a public and a private channel, and a
 * second workspace whose member is a stranger here; and clients for the channel socket.
 */
import { randomBytes } from "node:crypto";
import { SignJWT } from "jose";
import { expect } from "vitest";
import { TEST_JWT_SECRET, type TestApp } from "../support/app";
import { api } from "../support/http";
import { jwtPayload, registerUser, type TestUser } from "../support/users";
import { type ConnectOptions, connectSocket, type SocketFrame, type TestSocket } from "../support/ws";

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

export const as = (app: TestApp, user?: TestUser) => api(app, { token: user?.accessToken });

async function ok<T = any>(
  promise: Promise<{ status: number; body: T; text: string }>,
  what: string,
): Promise<T> {
  const res = await promise;
  if (res.status !== 200) throw new Error(`${what}: ${res.status} ${res.text}`);
  return res.body;
}

async function invite(app: TestApp, owner: TestUser, workspaceId: number, user: TestUser) {
  const created = await ok(
    as(app, owner).post(`/workspaces/${workspaceId}/invites`, {
      json: { invitee_display_name: user.displayName },
    }),
    "invite",
  );
  await ok(as(app, user).post(`/invites/${created.id}/accept`), "accept invite");
}

const label = () => randomBytes(4).toString("hex");

export async function buildRoom(app: TestApp): Promise<Room> {
  const [owner, admin, member, outsider, stranger] = await Promise.all(
    ["Owner", "Admin", "Member", "Outsider", "Stranger"].map((displayName) =>
      registerUser(app, { displayName }),
    ),
  );
  const ws = await ok(as(app, owner).post("/workspaces", { json: { name: `Room ${label()}` } }), "workspace");
  const other = await ok(
    as(app, stranger).post("/workspaces", { json: { name: `Other ${label()}` } }),
    "workspace",
  );
  await invite(app, owner as TestUser, ws.id, admin as TestUser);
  await invite(app, owner as TestUser, ws.id, member as TestUser);
  await ok(
    as(app, owner).patch(`/workspaces/${ws.id}/members/${(admin as TestUser).id}`, {
      json: { role: "admin" },
    }),
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
    owner: owner as TestUser,
    admin: admin as TestUser,
    member: member as TestUser,
    outsider: outsider as TestUser,
    stranger: stranger as TestUser,
    workspaceId: ws.id,
    otherWorkspaceId: other.id,
    channelId: channel.id,
    privateChannelId: privateChannel.id,
    otherChannelId: otherChannel.id,
  };
}

export function chatUrl(
  app: TestApp,
  workspaceId: number | string,
  channelId: number | string,
  query: Record<string, string | number | undefined> = {},
): string {
  const base = app.url.replace(/^http/, "ws");
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  const qs = params.toString();
  return `${base}/ws/chat/${workspaceId}/${channelId}${qs ? `?${qs}` : ""}`;
}

/** A chat socket of the user on the room's public channel (or the given one). */
export function joinChat(
  app: TestApp,
  room: Pick<Room, "workspaceId" | "channelId">,
  user: TestUser,
  options: { since?: number; token?: string; channelId?: number } & ConnectOptions = {},
): Promise<TestSocket> {
  const { since, token, channelId, ...connect } = options;
  return connectSocket(
    chatUrl(app, room.workspaceId, channelId ?? room.channelId, { token: token ?? user.accessToken, since }),
    connect,
  );
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

/** Posts a message over REST and returns its body (fails the test unless 200). */
export async function post(
  app: TestApp,
  user: TestUser,
  channelId: number,
  content: string,
  clientId?: string,
) {
  const res = await as(app, user).post(`/channels/${channelId}/messages`, {
    json: clientId === undefined ? { content } : { content, client_id: clientId },
  });
  expect(res.status, res.text).toBe(200);
  return res.body as { id: number; content: string; client_id: string | null; [key: string]: unknown };
}

/** The next `count` frames of a type, in arrival order. */
export async function take(socket: TestSocket, type: string, count: number, timeoutMs = 10_000) {
  const frames: SocketFrame[] = [];
  for (let i = 0; i < count; i++) frames.push(await socket.next(type, timeoutMs));
  return frames;
}

/**
 * Proves no frame of `type` arrived so far: sends a typing frame from `via` (broadcast to every
 * socket of the room, after anything queued before it) and checks it arrives with nothing of
 * that type before it.
 */
export async function expectNothingPending(socket: TestSocket, via: TestSocket, type: string) {
  via.send({ type: "typing", is_typing: false });
  await socket.next("typing");
  expect(socket.pending().filter((f) => f.type === type)).toEqual([]);
}

/**
 * The Close frame the server sent. Waiting for the frame rather than for ws's `close` event:
 * workerd releases the TCP connection of a socket it closed only once the object is idle, and
 * ws emits `close` only then (or after its own 30 s); a browser acts on the frame.
 */
export async function closeFrame(
  socket: TestSocket,
  timeoutMs = 40_000,
): Promise<{ code: number; reason: string }> {
  await expect
    .poll(() => socket.socket.readyState, { timeout: timeoutMs, interval: 50 })
    .toBeGreaterThanOrEqual(socket.socket.CLOSING);
  // ws keeps the received code and reason on these fields (it has no event for the frame itself).
  const internals = socket.socket as unknown as { _closeCode: number; _closeMessage: Buffer };
  return { code: internals._closeCode, reason: internals._closeMessage.toString("utf8") };
}

/** An access token for an existing session, signed as the app signs them, with a chosen expiry. */
export async function accessTokenExpiringIn(user: TestUser, seconds: number, withSession = true) {
  const claims = jwtPayload(user.accessToken);
  const now = Math.floor(Date.now() / 1000);
  const body: Record<string, string> = { sub: String(user.id), typ: "access" };
  if (withSession) body.sid = String(claims.sid);
  return new SignJWT(body)
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt(now)
    .setExpirationTime(now + seconds)
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));
}

/**
 * The project's sockets as tests use them: the URLs of /ws/chat, /ws/dm and /ws/notifications,
 * joining them as a user, reading refusals and Close frames, and proving that nothing arrived.
 * (ws.ts is the WebSocket client itself.)
 */
import { randomBytes } from "node:crypto";
import { expect } from "vitest";
import type { TestApp } from "./app";
import { api } from "./http";
import type { TestUser } from "./users";
import { type ConnectOptions, connectSocket, type SocketFrame, type TestSocket } from "./ws";

type Query = Record<string, string | number | undefined>;

/** The ws:// URL of a path of the app, with the query's defined parameters. */
export function wsUrl(app: Pick<TestApp, "url">, path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  const qs = params.toString();
  return `${app.url.replace(/^http/, "ws")}${path}${qs ? `?${qs}` : ""}`;
}

/** The path of a channel socket, with a token when one is given and `extra` query text after it. */
export const chatPath = (
  workspaceId: number | string,
  channelId: number | string,
  token?: string,
  extra = "",
) =>
  `/ws/chat/${workspaceId}/${channelId}${token === undefined ? "" : `?token=${encodeURIComponent(token)}`}${extra}`;

/** The path of a thread socket, with a token when one is given and `extra` query text after it. */
export const dmPath = (threadId: number | string, token?: string, extra = "") =>
  `/ws/dm/${threadId}${token === undefined ? "" : `?token=${encodeURIComponent(token)}`}${extra}`;

export const chatUrl = (
  app: Pick<TestApp, "url">,
  workspaceId: number | string,
  channelId: number | string,
  query: Query = {},
) => wsUrl(app, `/ws/chat/${workspaceId}/${channelId}`, query);

export const dmUrl = (app: Pick<TestApp, "url">, threadId: number | string, query: Query = {}) =>
  wsUrl(app, `/ws/dm/${threadId}`, query);

/** The notifications socket's URL, with the token when one is given. */
export const feedUrl = (app: Pick<TestApp, "url">, token?: string) =>
  wsUrl(app, "/ws/notifications", { token });

/** A channel socket of the user on the room's public channel (or the given one). */
export function joinChat(
  app: TestApp,
  room: { workspaceId: number; channelId: number },
  user: TestUser,
  options: { since?: number; token?: string; channelId?: number } & ConnectOptions = {},
): Promise<TestSocket> {
  const { since, token, channelId, ...connect } = options;
  return connectSocket(
    chatUrl(app, room.workspaceId, channelId ?? room.channelId, { token: token ?? user.accessToken, since }),
    connect,
  );
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

/** A /ws/notifications socket of the user (with another of their tokens when given). */
export function notificationsOf(app: TestApp, user: TestUser, token = user.accessToken): Promise<TestSocket> {
  return connectSocket(feedUrl(app, token));
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

export const idOf = (frame: SocketFrame) => (frame.payload as { id: number }).id;

/**
 * Proves no frame of `type` arrived so far: sends a typing frame from `via` (broadcast to every
 * socket of the conversation, after anything queued before it) and checks it arrives with
 * nothing of that type before it.
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

/**
 * Delivers an event to a user's notification feed through the ENV=test route, as a service's
 * notify() would; returns to how many sockets.
 */
export async function deliver(
  app: TestApp,
  userId: number,
  event: { type: string; payload?: unknown; unencodable?: boolean },
): Promise<number> {
  const res = await api(app).post(`/__test__/notifications/${userId}`, { json: event });
  expect(res.status, res.text).toBe(200);
  return res.body.delivered as number;
}

/**
 * Proves that no event reached the user's notifications socket so far: delivers a marker event
 * and checks it is the next frame. A feed delivers in order, and every route has delivered its
 * events before it answers.
 */
export async function expectNoEventSoFar(app: TestApp, user: TestUser, socket: TestSocket) {
  const marker = `marker.${randomBytes(4).toString("hex")}`;
  await deliver(app, user.id, { type: marker });
  expect(await socket.next()).toEqual({ type: marker, payload: {} });
}

/**
 * Which instance of a conversation's object answers, and how many open sockets it holds (an
 * ENV=test route). Asking wakes the object.
 */
export async function probe(
  app: TestApp,
  kind: "channel" | "dm",
  id: number,
): Promise<{ instanceId: string; sockets: number }> {
  const res = await api(app).get(`/__test__/${kind === "channel" ? "channel-rooms" : "dm-threads"}/${id}`);
  expect(res.status, res.text).toBe(200);
  return res.body;
}

/**
 * PostgreSQL goes away and comes back (issue 12 item 3), with a server this test starts, stops and
 * starts again itself (the embedded PostgreSQL of `npm run dev`): while it is down REST answers
 * 503 Database unavailable with Retry-After and nothing else (no 500, no hang), the channel's
 * object holds the messages its sockets send and stores them in order once it is back, and
 * afterwards nothing acknowledged is missing, nothing is stored twice, and every socket saw the
 * channel's messages in id order.
 */

import { randomBytes, randomUUID } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedPostgres, startEmbeddedPostgres } from "../../scripts/lib/embedded-postgres";
import { migrateDatabase } from "../../scripts/lib/migrate";
import { startApp, type TestApp } from "../support/app";
import { joinChat } from "../support/sockets";
import { freePort } from "../support/store";
import { buildRoom, type Room } from "../support/worlds";
import type { SocketFrame, TestSocket } from "../support/ws";

let folder: string;
let server: EmbeddedPostgres;
let port: number;
const password = randomBytes(12).toString("hex");
let app: TestApp;
let room: Room;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function startServer() {
  server = await startEmbeddedPostgres({ dataDir: join(folder, "data"), port, password, durable: false });
}

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), "braumchat-fault-pg-"));
  chmodSync(folder, 0o755);
  port = await freePort();
  await startServer();
  await migrateDatabase(server.url, { log: () => {} });
  app = await startApp({
    database: { url: server.url, kind: "postgres", drop: async () => {} },
    // Quick to notice a dead connection: the fault is the subject here.
    env: { DB_CONNECT_TIMEOUT_SECONDS: "2", RATE_LIMIT_POST_MESSAGE_PER_10_SECONDS: "10000" },
  });
  room = await buildRoom(app);
}, 120_000);

afterAll(async () => {
  await app?.close();
  await server?.stop();
  rmSync(folder, { recursive: true, force: true });
});

/** A REST call that records its status; it must answer (a hang fails the test through its timeout). */
async function call(path: string, init: RequestInit, token: string) {
  const res = await app.fetch(path, {
    ...init,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    signal: AbortSignal.timeout(20_000),
  });
  const body = await res.text();
  return { status: res.status, retryAfter: res.headers.get("Retry-After"), body };
}

describe("a PostgreSQL restart", () => {
  it("answers 503 while it is down, holds socket messages, and afterwards has lost and doubled nothing", async () => {
    const sender = await joinChat(app, room, room.member);
    const watcher = await joinChat(app, room, room.owner);
    const token = room.owner.accessToken;

    // Socket messages, sent one every 150 ms (within the frame budget) before, during and after
    // the outage.
    const sent: string[] = [];
    let sending = true;
    const sendLoop = (async () => {
      for (let i = 0; sending; i++) {
        const clientId = `fault-${i}-${randomUUID()}`;
        sent.push(clientId);
        sender.send({ type: "message", content: `message ${i}`, client_id: clientId });
        await sleep(150);
      }
    })();

    // REST traffic meanwhile: reads and writes of three kinds.
    const statuses: { status: number; retryAfter: string | null; body: string }[] = [];
    let calling = true;
    const restLoop = (async () => {
      for (let i = 0; calling; i++) {
        const requests = [
          call("/auth/me", {}, token),
          call(`/channels/${room.channelId}/messages?limit=5`, {}, token),
          call("/workspaces", {}, token),
          call(
            `/channels/${room.channelId}/messages`,
            { method: "POST", body: JSON.stringify({ content: `rest ${i}` }) },
            token,
          ),
        ];
        statuses.push(...(await Promise.all(requests)));
        await sleep(100);
      }
    })();

    await sleep(1_000);
    await server.stop();
    // While it is down, each kind of request answers 503 with Retry-After (never a 500, never a hang).
    const whileDown = await Promise.all([
      call("/auth/me", {}, token),
      call("/workspaces", {}, token),
      call(`/channels/${room.channelId}/messages?limit=5`, {}, token),
      call(
        `/channels/${room.channelId}/messages`,
        { method: "POST", body: JSON.stringify({ content: "refused" }) },
        token,
      ),
      call(
        `/channels/${room.channelId}/read`,
        { method: "POST", body: JSON.stringify({ last_read_message_id: 1 }) },
        token,
      ),
    ]);
    expect(whileDown.map((s) => s.status)).toEqual([503, 503, 503, 503, 503]);
    statuses.push(...whileDown);
    await sleep(2_000);
    await startServer();
    // Until the API answers again, then a little more traffic on the recovered path.
    for (let i = 0; i < 100; i++) {
      if ((await call("/auth/me", {}, token)).status === 200) break;
      await sleep(200);
    }
    await sleep(1_500);
    sending = false;
    calling = false;
    await Promise.all([sendLoop, restLoop]);

    // REST: only successes and 503s with Retry-After, and some of each.
    const unexpected = statuses.filter((s) => s.status !== 200 && s.status !== 503);
    expect(unexpected).toEqual([]);
    const unavailable = statuses.filter((s) => s.status === 503);
    expect(unavailable.length).toBeGreaterThan(0);
    for (const s of unavailable) {
      expect(JSON.parse(s.body)).toEqual({ detail: "Database unavailable" });
      expect(s.retryAfter).toMatch(/^\d+$/);
    }

    // Every socket message the sender sent got its echo (held through the outage, 3 s < 30 s),
    // and is stored exactly once.
    const echoes = await framesUntil(sender, "message", (frames) => countOwn(frames, sent) === sent.length);
    const echoed = new Set(echoes.map((f) => (f.payload as { client_id: string | null }).client_id));
    expect(sent.filter((id) => !echoed.has(id))).toEqual([]);
    const sql = postgres(server.url, { max: 1, onnotice: () => {} });
    try {
      const stored = await sql<{ id: number; content: string }[]>`
        select id, content from messages where channel_id = ${room.channelId} order by id`;
      const contents = stored.map((row) => row.content);
      const socketMessages = contents.filter((c) => c.startsWith("message "));
      expect(socketMessages.length).toBe(sent.length);
      expect(new Set(socketMessages).size).toBe(socketMessages.length);
      // The socket's messages were stored in the order they were sent.
      expect(socketMessages).toEqual(sent.map((_, i) => `message ${i}`));
      // The watcher saw every stored message, once, in id order.
      const seen = await framesUntil(watcher, "message", (frames) => frames.length >= stored.length);
      expect(seen.map((f) => (f.payload as { id: number }).id)).toEqual(stored.map((row) => row.id));
      console.info(
        `database restart: ${statuses.length} REST answers (${unavailable.length} were 503), ` +
          `${sent.length} socket messages sent, all echoed and stored once, in order; ` +
          `${stored.length} messages in all, seen in id order by the watcher`,
      );
    } finally {
      await sql.end({ timeout: 1 });
    }
    await sender.close();
    await watcher.close();
  }, 120_000);
});

function countOwn(frames: SocketFrame[], sent: string[]) {
  const mine = new Set(sent);
  return frames.filter((f) => mine.has((f.payload as { client_id: string }).client_id)).length;
}

/** Takes frames of a type until `done` says enough (or 30 s pass). */
async function framesUntil(socket: TestSocket, type: string, done: (frames: SocketFrame[]) => boolean) {
  const frames: SocketFrame[] = [];
  const deadline = Date.now() + 30_000;
  while (!done(frames) && Date.now() < deadline) {
    try {
      frames.push(await socket.next(type, Math.max(1, deadline - Date.now())));
    } catch {
      break;
    }
  }
  return frames;
}

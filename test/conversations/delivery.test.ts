/**
 * Delivery guarantees of a conversation's single writer, for channels and threads alike (issue 5,
 * items 3 and 4): with concurrent senders over REST and sockets every subscriber receives the
 * same messages, in id order, exactly once; a client reconnecting with `since` receives what it
 * missed, then live messages, with nothing lost or repeated; past the catch-up cap it is told to
 * re-fetch through REST.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { as } from "../support/http";
import { idOf, take } from "../support/sockets";
import type { SocketFrame, TestSocket } from "../support/ws";
import { type Conversation, type ConversationKind, KINDS } from "./kinds";

let app: TestApp;

/** What a reconnect replays at most; past it the socket is sent `resync` (src/realtime/conversation-room.ts). */
const CATCH_UP_MAX = 200;

beforeAll(async () => {
  // Neither the post limit nor the frame budget is under test here: these tests send fast on purpose.
  app = await startApp({
    env: { RATE_LIMIT_POST_MESSAGE_PER_10_SECONDS: "10000", WS_FRAMES_PER_SECOND: "10000" },
  });
});
afterAll(async () => {
  await app?.close();
});

/** Collects every `message` event of a socket as it arrives. */
function collect(socket: TestSocket): { ids: number[]; frames: SocketFrame[] } {
  const seen = { ids: [] as number[], frames: [] as SocketFrame[] };
  socket.socket.on("message", (data) => {
    const frame = JSON.parse(data.toString()) as SocketFrame;
    if (frame.type !== "message") return;
    seen.frames.push(frame);
    seen.ids.push(idOf(frame));
  });
  return seen;
}

/** The ids of the `message` events a socket received so far, in order (none taken by next()). */
const messageIds = (socket: TestSocket) =>
  socket
    .pending()
    .filter((f) => f.type === "message")
    .map(idOf);

const hasResync = (socket: TestSocket) => socket.pending().some((f) => f.type === "resync");

const isStrictlyIncreasing = (ids: number[]) => ids.every((id, i) => i === 0 || id > (ids[i - 1] as number));

describe.each(KINDS)("$kind", ({ build }) => {
  let kind: ConversationKind;

  beforeAll(async () => {
    kind = await build(app);
  });

  /** Message ids above `after` and below `before`, read through REST as a client re-fetches them. */
  async function idsBetween(c: Conversation, after: number, before: number): Promise<number[]> {
    const ids: number[] = [];
    for (let cursor = after; ; ) {
      const page = await as(app, c.b).get(`${kind.messagesPath(c)}?after_id=${cursor}&limit=100`);
      expect(page.status, page.text).toBe(200);
      const pageIds = (page.body as { id: number }[]).map((m) => m.id);
      ids.push(...pageIds.filter((id) => id < before));
      if (pageIds.length < 100 || (pageIds.at(-1) as number) >= before) return ids;
      cursor = pageIds.at(-1) as number;
    }
  }

  describe("ordering with concurrent senders (issue 5, item 3)", () => {
    it("delivers every message to every subscriber once, in id order, from REST and sockets alike", async () => {
      const c = await kind.fresh();
      const subscribers = [await kind.join(c, c.a), await kind.join(c, c.b), await kind.join(c, c.a)];
      const seen = subscribers.map(collect);
      // Two socket senders (which also subscribe) and two REST senders, all at once.
      const socketSenders = [await kind.join(c, c.a), await kind.join(c, c.b)];
      const senderSeen = socketSenders.map(collect);
      const perSender = 40;

      await Promise.all([
        ...socketSenders.map(async (socket, s) => {
          for (let i = 0; i < perSender; i++) {
            socket.send({ type: "message", content: `socket ${s} #${i}`, client_id: `s${s}-${i}` });
            if (i % 8 === 0) await new Promise((r) => setImmediate(r));
          }
        }),
        // Each REST sender keeps 4 requests in flight (every request holds a database connection).
        ...[c.a, c.b].map(async (user, u) => {
          await Promise.all(
            [0, 1, 2, 3].map(async (lane) => {
              for (let i = lane; i < perSender; i += 4) await kind.post(c, user, `rest ${u} #${i}`);
            }),
          );
        }),
      ]);

      const total = 4 * perSender;
      await expect.poll(() => kind.storedIds(c).then((ids) => ids.length), { timeout: 15_000 }).toBe(total);
      const stored = await kind.storedIds(c);
      for (const observed of [...seen, ...senderSeen]) {
        await expect.poll(() => observed.ids.length, { timeout: 15_000 }).toBe(total);
      }
      // Let any stray duplicate arrive before judging.
      await kind.post(c, c.a, "marker");
      for (const observed of [...seen, ...senderSeen]) {
        await expect.poll(() => observed.ids.length, { timeout: 10_000 }).toBe(total + 1);
        expect(isStrictlyIncreasing(observed.ids)).toBe(true);
        expect(observed.ids.slice(0, total)).toEqual(stored);
      }
      // Each socket sender's messages carry its client_ids, in the order it sent them.
      for (const [s, observed] of senderSeen.entries()) {
        const mine = observed.frames
          .map((f) => f.payload as { client_id: string | null })
          .filter((p) => p.client_id?.startsWith(`s${s}-`))
          .map((p) => p.client_id);
        expect(mine).toEqual(Array.from({ length: perSender }, (_, i) => `s${s}-${i}`));
      }
      for (const socket of [...subscribers, ...socketSenders]) await socket.close();
    }, 60_000);
  });

  describe("reconnecting with since (issue 5, item 4)", () => {
    it("replays what was missed, in order, then live messages, with client_ids echoed", async () => {
      const c = await kind.fresh();
      const first = await kind.join(c, c.b);
      const m1 = await kind.post(c, c.a, "a");
      expect(idOf(await first.next("message"))).toBe(m1.id);
      await first.close();

      const m2 = await kind.post(c, c.a, "b", "client:b");
      const m3 = await kind.post(c, c.b, "c");
      const deleted = await kind.post(c, c.a, "deleted while away");
      expect((await as(app, c.a).delete(`${kind.messagesPath(c)}/${deleted.id}`)).status).toBe(204);

      const again = await kind.join(c, c.b, { since: m1.id });
      const replayed = await take(again, "message", 2);
      expect(replayed.map((f) => f.payload)).toMatchObject([
        { id: m2.id, content: "b", client_id: "client:b" },
        { id: m3.id, content: "c", client_id: null },
      ]);
      const live = await kind.post(c, c.a, "d");
      expect(idOf(await again.next("message"))).toBe(live.id);
      expect(again.pending().filter((f) => f.type === "message")).toEqual([]);
      await again.close();
    });

    it("sends nothing to catch up when nothing was missed, and everything after since=0", async () => {
      const c = await kind.fresh();
      const m = await kind.post(c, c.a, "only");
      const upToDate = await kind.join(c, c.b, { since: m.id });
      const fromStart = await kind.join(c, c.a, { since: 0 });
      expect(idOf(await fromStart.next("message"))).toBe(m.id);
      const next = await kind.post(c, c.a, "next");
      expect(idOf(await upToDate.next("message"))).toBe(next.id);
      expect(idOf(await fromStart.next("message"))).toBe(next.id);
      // A since beyond the newest message replays nothing.
      const ahead = await kind.join(c, c.a, { since: 2_000_000_000 });
      const later = await kind.post(c, c.b, "later");
      expect(idOf(await ahead.next("message"))).toBe(later.id);
      for (const socket of [upToDate, fromStart, ahead]) await socket.close();
    });

    it("replays up to 200 missed messages, and past that sends one resync event, then live messages", async () => {
      const c = await kind.fresh();
      const [since] = (await kind.insert(c, c.a, 1, { prefix: "before " })) as [number];
      await kind.insert(c, c.a, CATCH_UP_MAX, { prefix: "missed " });

      const exactly = await kind.join(c, c.b, { since });
      const replayed = await take(exactly, "message", CATCH_UP_MAX);
      expect(replayed.map(idOf)).toEqual((await kind.storedIds(c)).slice(1));
      expect(exactly.pending().filter((f) => f.type === "resync")).toEqual([]);

      await kind.insert(c, c.a, 1, { prefix: "one too many " });
      const behind = await kind.join(c, c.a, { since });
      expect(await behind.next("resync")).toEqual({
        type: "resync",
        payload: { reason: "too_many_missed", since, max_catch_up: CATCH_UP_MAX, detail: expect.any(String) },
      });
      const live = await kind.post(c, c.b, "live");
      expect(idOf(await behind.next("message"))).toBe(live.id);
      expect(behind.pending().filter((f) => f.type === "message")).toEqual([]);
      for (const socket of [exactly, behind]) await socket.close();
    });

    it("loses and repeats nothing while messages keep arriving during the reconnect", async () => {
      const c = await kind.fresh();
      // Writers over sockets and REST keep several posts in flight at every moment, so joins land
      // between a post's INSERT and its broadcast. Each socket writer keeps at most WINDOW posts
      // unanswered (it waits for its own broadcasts), so the object's queue never grows beyond what
      // it writes, however loaded the machine, and handshakes do not wait behind a backlog.
      const WINDOW = 4;
      const writers = [await kind.join(c, c.a), await kind.join(c, c.b)];
      let writing = true;
      const socketWriting = writers.map(async (socket, w) => {
        let answered = -1;
        socket.socket.on("message", (data) => {
          const frame = JSON.parse(data.toString()) as SocketFrame;
          const clientId = (frame.payload as { client_id?: unknown } | undefined)?.client_id;
          if (frame.type === "message" && typeof clientId === "string" && clientId.startsWith(`ws${w}-`)) {
            answered = Math.max(answered, Number(clientId.slice(`ws${w}-`.length)));
          }
        });
        for (let i = 0; writing; i++) {
          socket.send({ type: "message", content: `ws${w}-${i}`, client_id: `ws${w}-${i}` });
          while (writing && i - answered >= WINDOW) await new Promise((r) => setTimeout(r, 2));
        }
      });
      const restWriting = [0, 1].map(async (w) => {
        for (let i = 0; writing; i++) await kind.post(c, c.a, `rest${w}-${i}`);
      });
      const stopWriting = async () => {
        writing = false;
        await Promise.all([...socketWriting, ...restWriting]);
      };

      const received: number[] = [];
      let last = 0;
      let resyncs = 0;
      try {
        for (let round = 0; round < 12; round++) {
          // One round waits until more than CATCH_UP_MAX messages were missed, so the client is sent
          // `resync` (on a loaded machine any round may be); the others reconnect at once.
          if (round === 6) {
            await expect
              .poll(() => kind.storedIds(c).then((ids) => ids.filter((id) => id > last).length), {
                timeout: 30_000,
              })
              .toBeGreaterThan(CATCH_UP_MAX);
          }
          const socket = await kind.join(c, c.b, { since: last });
          // Let some messages arrive live, then drop the connection mid-stream.
          await expect.poll(() => messageIds(socket).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
          socket.socket.terminate();
          await socket.closed;
          const live = messageIds(socket);
          if (hasResync(socket)) {
            // What the web app does: re-fetch through REST what lies before the first live message.
            resyncs += 1;
            received.push(...(await idsBetween(c, last, live[0] as number)));
          }
          received.push(...live);
          last = received[received.length - 1] ?? last;
        }
      } finally {
        await stopWriting();
      }
      // Wait for the writers' last frames to be stored, then catch up on the tail and compare.
      const marker = await kind.post(c, c.b, "end");
      const stored = (await kind.storedIds(c)).filter((id) => id <= marker.id);
      const tail = await kind.join(c, c.b, { since: last });
      const missing = stored.filter((id) => id > last).length;
      await expect
        .poll(() => hasResync(tail) || messageIds(tail).length >= missing, { timeout: 10_000 })
        .toBe(true);
      if (hasResync(tail)) {
        resyncs += 1;
        received.push(...(await idsBetween(c, last, marker.id + 1)));
      } else {
        received.push(...messageIds(tail));
      }
      expect(resyncs).toBeGreaterThanOrEqual(1);
      expect(isStrictlyIncreasing(received)).toBe(true);
      expect(received).toEqual(stored);
      for (const socket of [tail, ...writers]) await socket.close();
    }, 90_000);
  });
});

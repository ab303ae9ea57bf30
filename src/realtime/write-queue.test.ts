import { afterEach, describe, expect, it, vi } from "vitest";
import { CLIENT_ID_TTL_MS } from "../services/message-rules";
import { memoryClientIds } from "./client-ids";
import type { Post, Refusal, WritePorts } from "./write-ports";
import { BATCH_MAX, HOLD_MS, WriteQueue } from "./write-queue";

interface Msg {
  id: number;
  userId: number;
  content: string;
}

class DatabaseDown extends Error {}
class ConnectionRefused extends Error {}
class Gone extends Error {}

/**
 * A stand-in for the object's ports over an in-memory table, with the faults the queue must
 * survive: the database going away, and answers lost after a commit.
 */
function world() {
  const rows: Msg[] = [];
  let nextId = 1;
  const state = {
    down: false,
    /** Connections refused: statements are never sent. */
    refusing: false,
    /** Store this many more statements, then lose the connection before answering any of them. */
    commitThenLose: undefined as number | undefined,
    now: 1_000_000,
    rateRefused: new Set<number>(),
    accessRefused: new Set<number>(),
    goneAfterCommit: false,
  };
  const published: Msg[] = [];
  const replayed: { origin: string; message: Msg }[] = [];
  const inserts: number[] = [];
  /** The senders whose rate was checked, in order. */
  const rateChecks: number[] = [];
  /** The read-backs made (ids they started after). */
  const reads: number[] = [];
  const ports: WritePorts<Msg, string> = {
    now: () => state.now,
    clientIds: memoryClientIds(),
    rateRefusal: async (userId) => {
      rateChecks.push(userId);
      return state.rateRefused.has(userId)
        ? ({ code: "rate_limited", detail: "Too many requests" } as Refusal)
        : null;
    },
    accessRefusals: async (userIds) => {
      if (state.down) throw new DatabaseDown();
      return new Map(
        userIds
          .filter((id) => state.accessRefused.has(id))
          .map((id) => [id, { code: "forbidden", detail: "Forbidden" } as Refusal]),
      );
    },
    insert: async (posts) => {
      inserts.push(posts.length);
      return Promise.allSettled(
        posts.map(async (post) => {
          if (state.refusing) throw new ConnectionRefused();
          if (state.down) throw new DatabaseDown();
          if (post.content === "gone") throw new Gone();
          const row = { id: nextId++, userId: post.userId, content: post.content };
          rows.push(row);
          if (state.commitThenLose !== undefined) {
            state.commitThenLose--;
            if (state.commitThenLose <= 0) state.down = true;
            throw new DatabaseDown();
          }
          return row;
        }),
      );
    },
    newestId: async () => {
      if (state.refusing) throw new ConnectionRefused();
      if (state.down) throw new DatabaseDown();
      return rows.at(-1)?.id ?? 0;
    },
    storedAfter: async (id) => {
      reads.push(id);
      if (state.refusing) throw new ConnectionRefused();
      if (state.down) throw new DatabaseDown();
      return rows.filter((row) => row.id > id);
    },
    load: async (id) => rows.find((row) => row.id === id),
    classify: (error) =>
      error instanceof ConnectionRefused
        ? "unreachable"
        : error instanceof DatabaseDown
          ? "unavailable"
          : error instanceof Gone
            ? "gone"
            : "other",
    publish: (created) => published.push(...created.map((c) => c.message)),
    replay: (origin, _post, message) => replayed.push({ origin, message }),
    afterPublish: async () => {},
    logError: () => {},
  };
  const queue = new WriteQueue<Msg, string>(ports);
  const post = (userId: number, content: string, options: Partial<Omit<Post<string>, "parentId">> = {}) =>
    queue.submit({ userId, content, clientId: null, parentId: null, origin: "socket", ...options });
  return { rows, state, published, replayed, inserts, rateChecks, reads, queue, post };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("the write queue", () => {
  it("publishes posts in id order and writes the ones waiting together as one batch", async () => {
    const w = world();
    const outcomes = await Promise.all([1, 2, 3, 4].map((n) => w.post(1, `m${n}`)));
    expect(outcomes.map((o) => o.kind)).toEqual(["created", "created", "created", "created"]);
    expect(w.published.map((m) => m.content)).toEqual(["m1", "m2", "m3", "m4"]);
    expect(w.published.map((m) => m.id)).toEqual([1, 2, 3, 4]);
    // The first post starts a batch of its own; the three queued behind it go as one.
    expect(w.inserts).toEqual([1, 3]);
  });

  it("answers a repeated client_id with the first message, storing and charging nothing more", async () => {
    const w = world();
    const first = await w.post(1, "hello", { clientId: "c1", origin: "tab-a" });
    const again = await w.post(1, "hello", { clientId: "c1", origin: "tab-b" });
    expect(first.kind).toBe("created");
    expect(again).toMatchObject({ kind: "replayed", clientId: "c1" });
    expect(w.rows).toHaveLength(1);
    expect(w.replayed).toEqual([{ origin: "tab-b", message: w.rows[0] }]);
  });

  it("stores one message when a client_id arrives twice in one batch", async () => {
    const w = world();
    const [a, b, c] = await Promise.all([
      w.post(2, "x"),
      w.post(1, "dup", { clientId: "k" }),
      w.post(1, "dup", { clientId: "k" }),
    ]);
    expect([a.kind, b.kind, c.kind]).toEqual(["created", "created", "replayed"]);
    expect(w.rows.map((r) => r.content)).toEqual(["x", "dup"]);
  });

  it("refuses a sender over their limit or without access, and still writes the others", async () => {
    const w = world();
    w.state.rateRefused.add(2);
    w.state.accessRefused.add(3);
    const outcomes = await Promise.all([w.post(1, "a"), w.post(2, "b"), w.post(3, "c")]);
    expect(outcomes.map((o) => (o.kind === "refused" ? o.refusal.code : o.kind))).toEqual([
      "created",
      "rate_limited",
      "forbidden",
    ]);
    expect(w.rows.map((r) => r.content)).toEqual(["a"]);
  });

  it("writes at most BATCH_MAX posts in one batch, in order", async () => {
    const w = world();
    const count = BATCH_MAX + 20;
    const outcomes = await Promise.all(Array.from({ length: count }, (_, i) => w.post(1, `m${i}`)));
    expect(outcomes.every((o) => o.kind === "created")).toBe(true);
    expect(w.inserts).toEqual([1, BATCH_MAX, count - 1 - BATCH_MAX]);
    expect(w.published.map((m) => m.content)).toEqual(Array.from({ length: count }, (_, i) => `m${i}`));
  });

  it("keeps client_ids per user: another user's same client_id is another message", async () => {
    const w = world();
    const [mine, theirs] = await Promise.all([
      w.post(1, "mine", { clientId: "same" }),
      w.post(2, "theirs", { clientId: "same" }),
    ]);
    expect([mine.kind, theirs.kind]).toEqual(["created", "created"]);
    expect(w.rows.map((r) => r.content)).toEqual(["mine", "theirs"]);
  });

  it("checks the rate of a new post but not of a retry of a stored client_id", async () => {
    const w = world();
    await w.post(1, "hello", { clientId: "c1" });
    expect(w.rateChecks).toEqual([1]);
    w.state.rateRefused.add(1);
    expect(await w.post(1, "hello", { clientId: "c1" })).toMatchObject({ kind: "replayed" });
    expect(w.rateChecks).toEqual([1]);
    expect(await w.post(1, "new")).toMatchObject({ kind: "refused", refusal: { code: "rate_limited" } });
  });

  it("remembers no client_id for a refused post, so the retry once allowed is stored", async () => {
    const w = world();
    w.state.rateRefused.add(1);
    expect(await w.post(1, "hi", { clientId: "c1" })).toMatchObject({ kind: "refused" });
    w.state.rateRefused.delete(1);
    expect(await w.post(1, "hi", { clientId: "c1" })).toMatchObject({ kind: "created" });
    expect(w.rows.map((r) => r.content)).toEqual(["hi"]);
  });

  it("forgets a client_id after a day: the same one then creates a new message", async () => {
    const w = world();
    await w.post(1, "monday", { clientId: "c1" });
    w.state.now += CLIENT_ID_TTL_MS - 1;
    expect(await w.post(1, "monday", { clientId: "c1" })).toMatchObject({ kind: "replayed" });
    w.state.now += 1;
    expect(await w.post(1, "tuesday", { clientId: "c1" })).toMatchObject({ kind: "created" });
    expect(w.rows.map((r) => r.content)).toEqual(["monday", "tuesday"]);
  });

  it("says not_found for a post into a conversation deleted meanwhile", async () => {
    const w = world();
    expect(await w.post(1, "gone")).toMatchObject({ kind: "refused", refusal: { code: "not_found" } });
  });

  it("runs tasks in their place among the posts", async () => {
    const w = world();
    const p1 = w.post(1, "before");
    const seen = w.queue.enqueueTask(async () => w.published.map((m) => m.content));
    const p2 = w.post(1, "after");
    await Promise.all([p1, p2]);
    expect(await seen).toEqual(["before"]);
  });
});

describe("the write queue while PostgreSQL cannot be reached", () => {
  it("holds socket posts and stores them in order when the database is back; REST posts and tasks fail at once", async () => {
    vi.useFakeTimers();
    const w = world();
    w.state.down = true;
    const held = [w.post(1, "s1"), w.post(1, "s2")];
    await vi.advanceTimersByTimeAsync(10);
    expect(w.queue.isHolding).toBe(true);
    expect(await w.post(1, "rest", { origin: null })).toMatchObject({ refusal: { code: "unavailable" } });
    await expect(w.queue.enqueueTask(async () => 1)).rejects.toThrow("Database unavailable");
    const later = w.post(2, "s3");
    w.state.down = false;
    await vi.advanceTimersByTimeAsync(5_000);
    const outcomes = await Promise.all([...held, later]);
    expect(outcomes.map((o) => o.kind)).toEqual(["created", "created", "created"]);
    expect(w.published.map((m) => m.content)).toEqual(["s1", "s2", "s3"]);
    expect(w.queue.isHolding).toBe(false);
  });

  it("refuses a held post once it has waited HOLD_MS", async () => {
    vi.useFakeTimers();
    const w = world();
    w.state.down = true;
    const held = w.post(1, "s1");
    await vi.advanceTimersByTimeAsync(10);
    w.state.now += HOLD_MS;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(await held).toMatchObject({ kind: "refused", refusal: { code: "unavailable" } });
    expect(w.rows).toHaveLength(0);
  });

  it("stores nothing twice when a batch was committed in part and its answers were lost", async () => {
    vi.useFakeTimers();
    const w = world();
    await w.post(9, "warm"); // the queue learns the newest id
    w.state.commitThenLose = 2; // the first two of the next batch commit, then the connection drops
    const blocker = w.post(1, "first");
    const batch = [w.post(1, "a"), w.post(1, "b"), w.post(1, "c")];
    await vi.advanceTimersByTimeAsync(10);
    w.state.down = false;
    w.state.commitThenLose = undefined;
    await vi.advanceTimersByTimeAsync(5_000);
    const outcomes = await Promise.all([blocker, ...batch]);
    expect(outcomes.every((o) => o.kind === "created")).toBe(true);
    expect(w.rows.map((r) => r.content)).toEqual(["warm", "first", "a", "b", "c"]);
    expect(w.published.map((m) => m.content)).toEqual(["warm", "first", "a", "b", "c"]);
  });

  it("keeps a lost batch's posts until the read-back says what was stored, even past HOLD_MS", async () => {
    vi.useFakeTimers();
    const w = world();
    await w.post(9, "warm");
    w.state.commitThenLose = 1;
    const lost = w.post(1, "maybe stored");
    await vi.advanceTimersByTimeAsync(10);
    w.state.now += HOLD_MS * 2;
    await vi.advanceTimersByTimeAsync(5_000);
    w.state.down = false;
    w.state.commitThenLose = undefined;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(await lost).toMatchObject({ kind: "created", message: { content: "maybe stored" } });
    expect(w.rows.map((r) => r.content)).toEqual(["warm", "maybe stored"]);
  });

  it("answers a REST post whose answer was lost at once, and publishes it only if it was stored", async () => {
    vi.useFakeTimers();
    const w = world();
    await w.post(9, "warm");
    w.state.commitThenLose = 1; // the first statement commits, then the connection drops
    const blocker = w.post(1, "socket first");
    const rest = [w.post(2, "rest stored", { origin: null }), w.post(2, "rest lost", { origin: null })];
    await vi.advanceTimersByTimeAsync(10);
    // Told at once, whatever happened to them: a REST client must not hang.
    expect(await Promise.all(rest)).toMatchObject([
      { kind: "refused", refusal: { code: "unavailable" } },
      { kind: "refused", refusal: { code: "unavailable" } },
    ]);
    w.state.down = false;
    w.state.commitThenLose = undefined;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(await blocker).toMatchObject({ kind: "created" });
    // The one that was stored is published; the other one was never stored and is not now.
    expect(w.rows.map((r) => r.content)).toEqual(["warm", "socket first"]);
    expect(w.published.map((m) => m.content)).toEqual(["warm", "socket first"]);
  });

  it("holds posts whose statements never left (connection refused) without reading anything back", async () => {
    vi.useFakeTimers();
    const w = world();
    await w.post(9, "warm");
    w.state.refusing = true;
    const held = w.post(1, "held");
    await vi.advanceTimersByTimeAsync(1_000);
    w.state.refusing = false;
    await vi.advanceTimersByTimeAsync(5_000);
    const outcome = await held;
    expect(outcome, JSON.stringify(outcome)).toMatchObject({ kind: "created" });
    expect(w.reads).toEqual([]);
    expect(w.rows.map((r) => r.content)).toEqual(["warm", "held"]);
  });
});

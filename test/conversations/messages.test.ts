/**
 * The message routes' contract, for channels (/channels/{id}/messages) and threads
 * (/dm/threads/{id}/messages) alike (docs/original-defects.md#d13-paging,
 * docs/original-defects.md#d14-rate-limit-bypass, docs/original-defects.md#d17-missing-features): the answer
 * to a post, content rules, idempotent client_id, keyset pagination and its edges, edit and delete by the
 * author. Who may do what, and what only one kind has (archived channels, moderators, read state, the
 * threads' offset paging), is in test/messages/rest.test.ts and test/dm/messages.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { as } from "../support/http";
import type { TestUser } from "../support/users";
import { type Conversation, type ConversationKind, KINDS } from "./kinds";

let app: TestApp;

beforeAll(async () => {
  // The post limit is not under test here (test/messages/rest.test.ts and test/dm/limits.test.ts).
  app = await startApp({ env: { RATE_LIMIT_POST_MESSAGE_PER_10_SECONDS: "10000" } });
});
afterAll(async () => {
  await app?.close();
});

describe.each(KINDS)("$kind", ({ build }) => {
  let kind: ConversationKind;

  beforeAll(async () => {
    kind = await build(app);
  });

  const messageOf = (c: Conversation, id: number | string) => `${kind.messagesPath(c)}/${id}`;

  describe("posting", () => {
    it("answers the message with the caller's client_id, which listings leave null", async () => {
      const c = await kind.fresh();
      const res = await as(app, c.a).post(kind.messagesPath(c), {
        json: { content: "first!", client_id: "client:abc" },
      });
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual(kind.restShape(c, c.a, "first!", "client:abc"));
      const list = await as(app, c.b).get(kind.messagesPath(c));
      expect(list.body).toEqual([{ ...res.body, client_id: null }]);
    });

    it("refuses empty, blank, too long and non-string content with 422 and stores nothing", async () => {
      const c = await kind.fresh();
      const cases: [unknown, Record<string, unknown>][] = [
        [{ content: "" }, { loc: ["body", "content"], type: "value_error.any_str.min_length" }],
        [
          { content: "  \n\t " },
          { loc: ["body", "content"], msg: "content must not be blank", type: "value_error" },
        ],
        [
          { content: "x".repeat(4001) },
          {
            loc: ["body", "content"],
            msg: "ensure this value has at most 4000 characters",
            type: "value_error.any_str.max_length",
          },
        ],
        [{ content: 42 }, { loc: ["body", "content"], msg: "str type expected" }],
        [{}, { loc: ["body", "content"], msg: "field required", type: "value_error.missing" }],
        [{ content: "ok", client_id: "c".repeat(129) }, { loc: ["body", "client_id"] }],
        [{ content: "ok", client_id: 7 }, { loc: ["body", "client_id"] }],
        [[], { loc: ["body"], msg: "value is not a valid dict" }],
      ];
      for (const [body, issue] of cases) {
        const res = await as(app, c.a).post(kind.messagesPath(c), { json: body });
        expect(res.status, JSON.stringify(body).slice(0, 40)).toBe(422);
        expect(res.body.detail[0]).toMatchObject(issue);
      }
      const missing = await as(app, c.a).post(kind.messagesPath(c));
      expect(missing.status).toBe(422);
      expect(missing.body.detail).toEqual([
        { loc: ["body"], msg: "field required", type: "value_error.missing" },
      ]);
      const malformed = await as(app, c.a).post(kind.messagesPath(c), {
        raw: "{not json",
        headers: { "Content-Type": "application/json" },
      });
      expect(malformed.status).toBe(422);
      expect(await kind.stored(c)).toEqual([]);
    });

    it("counts content in code points: 4000 emoji are accepted, and text is stored verbatim", async () => {
      const c = await kind.fresh();
      const emoji = "😀".repeat(4000); // 8000 UTF-16 units
      expect((await kind.post(c, c.a, emoji)).content).toBe(emoji);
      const padded = "  indented\nsecond line  ";
      expect((await kind.post(c, c.a, padded)).content).toBe(padded);
      const tooLong = await as(app, c.a).post(kind.messagesPath(c), { json: { content: `${emoji}a` } });
      expect(tooLong.status).toBe(422);
      expect(await kind.stored(c)).toEqual([emoji, padded]);
    });

    it("returns the first message again for a repeated client_id, per user and conversation", async () => {
      const c = await kind.fresh();
      const first = await kind.post(c, c.a, "once", "client:dup");
      expect(await kind.post(c, c.a, "once (retried)", "client:dup")).toEqual(first);
      expect(await kind.stored(c)).toEqual(["once"]);
      // Another user, or another conversation, with the same client_id is another message.
      const byOther = await kind.post(c, c.b, "mine", "client:dup");
      expect(byOther.id).not.toBe(first.id);
      const elsewhere = await kind.post(await kind.another(c.a), c.a, "there", "client:dup");
      expect(elsewhere.id).not.toBe(first.id);
      // No client_id, or an empty one, is never deduplicated.
      await kind.post(c, c.a, "once");
      await kind.post(c, c.a, "once");
      await kind.post(c, c.a, "once", "");
      expect(await kind.stored(c)).toEqual(["once", "mine", "once", "once", "once"]);
    });

    it("stores one message when the same client_id is posted concurrently", async () => {
      const c = await kind.fresh();
      const results = await Promise.all(
        Array.from({ length: 8 }, () =>
          as(app, c.a).post(kind.messagesPath(c), { json: { content: "race", client_id: "client:race" } }),
        ),
      );
      expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
      expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
      expect(await kind.stored(c)).toEqual(["race"]);
    });
  });

  describe("pagination", () => {
    let c: Conversation;
    let ids: number[];
    let reader: TestUser;

    beforeAll(async () => {
      c = await kind.fresh();
      reader = c.b;
      // 120 messages straight into the table (they predate this test's object), same timestamp:
      // only the id orders them.
      ids = await kind.insert(c, c.a, 120, { createdAt: "2026-01-01T00:00:00Z" });
    });

    const page = async (query: string) => {
      const res = await as(app, reader).get(`${kind.messagesPath(c)}?${query}`);
      expect(res.status, `${query}: ${res.text}`).toBe(200);
      return (res.body as { id: number }[]).map((m) => m.id);
    };
    const newest = (n: number, below = Number.POSITIVE_INFINITY) =>
      ids
        .filter((id) => id < below)
        .slice(-n)
        .reverse();

    it("defaults to the newest 50, newest first, ordered by id although timestamps are equal", async () => {
      expect(await page("")).toEqual(newest(50));
    });

    it("clamps limit to 1..100", async () => {
      expect(await page("limit=0")).toEqual(newest(1));
      expect(await page("limit=-5")).toEqual(newest(1));
      expect(await page("limit=1")).toEqual(newest(1));
      expect(await page("limit=100")).toEqual(newest(100));
      expect(await page("limit=101")).toEqual(newest(100));
      expect(await page("limit=100000")).toEqual(newest(100));
      expect(await page("limit=%2B7")).toEqual(newest(7));
    });

    it("refuses a limit or cursor that is not an integer with 422", async () => {
      for (const [query, field] of [
        ["limit=abc", "limit"],
        ["limit=1.5", "limit"],
        ["limit=", "limit"],
        ["before_id=x", "before_id"],
        ["after_id=2.0", "after_id"],
        ["before_id=-1", "before_id"],
        ["after_id=-3", "after_id"],
        ["before_id=99999999999", "before_id"],
      ]) {
        const res = await as(app, reader).get(`${kind.messagesPath(c)}?${query}`);
        expect(res.status, query).toBe(422);
        expect(res.body.detail[0].loc, query).toEqual(["query", field]);
      }
    });

    it("pages backwards with before_id without gaps or repeats", async () => {
      const seen: number[] = [];
      let cursor: number | undefined;
      for (;;) {
        const batch = await page(`limit=33${cursor === undefined ? "" : `&before_id=${cursor}`}`);
        if (batch.length === 0) break;
        seen.push(...batch);
        cursor = batch[batch.length - 1];
      }
      expect(seen).toEqual([...ids].reverse());
      expect(await page(`before_id=${ids[0]}`)).toEqual([]);
      expect(await page("before_id=0")).toEqual([]);
    });

    it("pages forwards with after_id, oldest first, without gaps or repeats", async () => {
      const seen: number[] = [];
      let cursor = 0;
      for (;;) {
        const batch = await page(`limit=45&after_id=${cursor}`);
        if (batch.length === 0) break;
        seen.push(...batch);
        cursor = batch[batch.length - 1] as number;
      }
      expect(seen).toEqual(ids);
      expect(await page(`after_id=${ids[ids.length - 1]}`)).toEqual([]);
    });

    it("with both cursors, returns the messages between them, oldest first", async () => {
      const a = ids[10] as number;
      const b = ids[16] as number;
      expect(await page(`after_id=${a}&before_id=${b}`)).toEqual(ids.slice(11, 16));
      expect(await page(`after_id=${a}&before_id=${b}&limit=2`)).toEqual(ids.slice(11, 13));
      expect(await page(`after_id=${b}&before_id=${a}`)).toEqual([]);
    });

    it("skips deleted messages", async () => {
      const victim = ids[ids.length - 1] as number;
      const res = await as(app, c.a).delete(messageOf(c, victim));
      expect(res.status).toBe(204);
      expect(await page("limit=2")).toEqual(newest(2, victim));
      ids = ids.slice(0, -1);
    });
  });

  describe("edit and delete", () => {
    it("lets the author edit: content, is_edited and updated_at change; the other participant may not (403)", async () => {
      const c = await kind.fresh();
      const message = await kind.post(c, c.a, "typo", "client:e");
      const refused = await as(app, c.b).patch(messageOf(c, message.id), { json: { content: "no" } });
      expect(refused).toMatchObject({ status: 403, body: { detail: "Forbidden" } });
      const res = await as(app, c.a).patch(messageOf(c, message.id), { json: { content: "fixed" } });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        id: message.id,
        content: "fixed",
        is_edited: true,
        is_deleted: false,
        client_id: null,
        created_at: message.created_at,
      });
      expect(typeof res.body.updated_at).toBe("string");
      expect((await as(app, c.b).get(kind.messagesPath(c))).body).toEqual([res.body]);
    });

    it("validates edited content like new content", async () => {
      const c = await kind.fresh();
      const message = await kind.post(c, c.a, "ok");
      for (const content of ["", "   ", "x".repeat(4001)]) {
        const res = await as(app, c.a).patch(messageOf(c, message.id), { json: { content } });
        expect(res.status, JSON.stringify(content).slice(0, 10)).toBe(422);
      }
      expect(await kind.stored(c)).toEqual(["ok"]);
    });

    it("answers 404 for a missing message, one of another conversation, or a deleted one", async () => {
      const c = await kind.fresh();
      const other = await kind.another(c.a);
      const elsewhere = await kind.post(other, c.a, "elsewhere");
      const deleted = await kind.post(c, c.a, "gone soon");
      expect((await as(app, c.a).delete(messageOf(c, deleted.id))).status).toBe(204);
      for (const id of [2_000_000_000, elsewhere.id, deleted.id]) {
        const edit = await as(app, c.a).patch(messageOf(c, id), { json: { content: "x" } });
        expect(edit).toMatchObject({ status: 404, body: { detail: "Message not found" } });
        const del = await as(app, c.a).delete(messageOf(c, id));
        expect(del).toMatchObject({ status: 404, body: { detail: "Message not found" } });
      }
      expect(await kind.stored(other)).toEqual(["elsewhere"]);
    });

    it("lets the author delete (soft: the row stays, flagged), and no longer serves the content, even to its client_id", async () => {
      const c = await kind.fresh();
      const kept = await kind.post(c, c.b, "kept");
      const message = await kind.post(c, c.a, "regrettable", "client:regret");
      expect((await as(app, c.a).delete(messageOf(c, message.id))).status).toBe(204);
      expect((await as(app, c.b).get(kind.messagesPath(c))).body.map((m: { id: number }) => m.id)).toEqual([
        kept.id,
      ]);
      expect(await kind.storedDeletedFlags(c)).toEqual([false, true]);
      const replay = await kind.post(c, c.a, "regrettable", "client:regret");
      expect(replay).toMatchObject({ id: message.id, content: "", is_deleted: true });
    });
  });
});

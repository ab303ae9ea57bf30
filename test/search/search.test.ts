/**
 * GET /search/messages on the real stack: what it finds (channels and DM threads, replies, never a
 * deleted message), the filters, both orders, keyset pages without duplicates or gaps, snippets,
 * the rate limit and bad input (4xx with a detail).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { as } from "../support/http";
import { registerUser } from "../support/users";
import { MANY_POSTS, postTo } from "../threads/world";
import { allHits, buildWorld, type Hit, search, searchPage, type World } from "./world";

let app: TestApp;
let world: World;
const ids: Record<string, number> = {};

beforeAll(async () => {
  app = await startApp({ env: { ...MANY_POSTS, RATE_LIMIT_SEARCH_PER_MINUTE: "1000" } });
  world = await buildWorld(app, await registerUser(app, { displayName: "Leaver" }));
  const channel = (who: keyof World, content: string) =>
    postTo(app, world[who] as never, "channel", world.channelId, content);
  ids.once = (await channel("member", "the kiwi harvest starts on monday with everyone")).id;
  ids.thrice = (await channel("admin", "kiwi kiwi kiwi")).id;
  ids.twice = (await channel("member", "kiwi season, kiwi jam")).id;
  ids.phrase = (await channel("owner", "green apple pie")).id;
  ids.reversed = (await channel("owner", "an apple pie, green and warm")).id;
  ids.reply = (
    await postTo(app, world.admin, "channel", world.channelId, "a kiwi reply", { parent_id: ids.once })
  ).id;
  ids.deleted = (await channel("member", "kiwi to delete")).id;
  const gone = await as(app, world.member).delete(`/channels/${world.channelId}/messages/${ids.deleted}`);
  expect(gone.status).toBe(204);
  ids.markup = (await channel("member", "<b>kiwi</b> & <i>lime</i>")).id;
  ids.dm = (await postTo(app, world.owner, "dm", world.threadId, "kiwi between us")).id;
  ids.private = (await postTo(app, world.owner, "channel", world.privateChannelId, "private kiwi")).id;
  ids.other = (await postTo(app, world.stranger, "channel", world.otherChannelId, "kiwi elsewhere")).id;
});
afterAll(async () => {
  await app?.close();
});

const idsOf = (hits: Hit[]) => hits.map((hit) => hit.message_id);

describe("what a search finds", () => {
  it("finds the channel and DM messages the caller can read, replies too, never a deleted one", async () => {
    const hits = await allHits(app, world.owner, { q: "kiwi" });
    const found = hits.map((h) => `${h.conversation_kind}:${h.message_id}`).sort();
    const channel = (id: number) => `channel:${id}`;
    expect(found).toEqual(
      [
        channel(ids.once as number),
        channel(ids.thrice as number),
        channel(ids.twice as number),
        channel(ids.reply as number),
        channel(ids.markup as number),
        channel(ids.private as number),
        `dm:${ids.dm}`,
      ].sort(),
    );
  });

  it("answers what is needed to open the message", async () => {
    const [hit] = (await searchPage(app, world.member, { q: "between" })).results;
    expect(hit).toMatchObject({
      conversation_kind: "dm",
      conversation_id: world.threadId,
      workspace_id: null,
      message_id: ids.dm,
      parent_id: null,
      sender: { id: world.owner.id, display_name: world.owner.displayName },
    });
    expect(Date.parse(hit?.created_at ?? "")).not.toBeNaN();
    const [reply] = (await searchPage(app, world.member, { q: "reply" })).results;
    expect(reply).toMatchObject({
      conversation_kind: "channel",
      conversation_id: world.channelId,
      workspace_id: world.workspaceId,
      message_id: ids.reply,
      parent_id: ids.once,
    });
  });

  it("reads the query as a search box: every word, a phrase, an excluded word, or", async () => {
    const q = async (query: string) =>
      idsOf((await searchPage(app, world.owner, { q: query })).results).sort();
    expect(await q("green apple")).toEqual([ids.phrase, ids.reversed].sort());
    expect(await q('"green apple"')).toEqual([ids.phrase].sort());
    expect(await q("kiwi -jam -between -private -reply -harvest -lime")).toEqual([ids.thrice]);
    expect(await q("jam or harvest")).toEqual([ids.once, ids.twice].sort());
    expect(await q("KIWI JAM")).toEqual([ids.twice]);
    // Nothing but punctuation or stop characters: no words, no hits (not an error).
    expect(await q("!!! &&")).toEqual([]);
  });

  it("highlights the matched words in snippets that are safe HTML", async () => {
    const [hit] = (await searchPage(app, world.owner, { q: "lime" })).results;
    expect(hit?.message_id).toBe(ids.markup);
    // The only markup is <mark>: the message's own is left out or escaped.
    expect(hit?.snippet.replace(/<\/?mark>/g, "")).not.toMatch(/[<>]/);
    expect(hit?.snippet).toContain("&amp;");
    expect(hit?.snippet).toContain("<mark>lime</mark>");
    const [jam] = (await searchPage(app, world.owner, { q: "jam" })).results;
    expect(jam?.snippet).toBe("kiwi season, kiwi <mark>jam</mark>");
  });
});

describe("order and pages", () => {
  it("ranks by relevance (ts_rank), ties by newest id; newest orders by time", async () => {
    const relevance = (await searchPage(app, world.owner, { q: "kiwi", limit: 50 })).results;
    expect(relevance[0]?.message_id).toBe(ids.thrice);
    for (let i = 1; i < relevance.length; i += 1) {
      const [a, b] = [relevance[i - 1] as Hit, relevance[i] as Hit];
      expect(a.rank).toBeGreaterThanOrEqual(b.rank);
    }
    const newest = (await searchPage(app, world.owner, { q: "kiwi", sort: "newest", limit: 50 })).results;
    const times = newest.map((hit) => Date.parse(hit.created_at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect(newest[0]?.message_id).toBe(ids.private);
  });

  it.each(["relevance", "newest"])("pages by %s without duplicates or gaps", async (sort) => {
    const whole = idsOf((await searchPage(app, world.owner, { q: "kiwi", sort, limit: 50 })).results);
    for (const limit of [1, 2, 3]) {
      const paged = await allHits(app, world.owner, { q: "kiwi", sort, limit });
      expect(idsOf(paged), `limit ${limit}`).toEqual(whole);
    }
    const last = await searchPage(app, world.owner, { q: "kiwi", sort, limit: 50 });
    expect(last.next_cursor).toBeNull();
  });

  it("clamps limit to 1..50", async () => {
    expect((await searchPage(app, world.owner, { q: "kiwi", limit: 0 })).results).toHaveLength(1);
    expect(
      (await searchPage(app, world.owner, { q: "kiwi", limit: 1000 })).results.length,
    ).toBeLessThanOrEqual(50);
  });
});

describe("filters", () => {
  const found = async (params: Record<string, string | number>) =>
    idsOf(await allHits(app, world.owner, { q: "kiwi", ...params })).sort();

  it("narrows to a workspace's channels, a channel, a thread, or both", async () => {
    const publicOnes = [ids.once, ids.thrice, ids.twice, ids.reply, ids.markup];
    expect(await found({ workspace_id: world.workspaceId })).toEqual([...publicOnes, ids.private].sort());
    expect(await found({ channel_id: world.channelId })).toEqual([...publicOnes].sort());
    expect(await found({ thread_id: world.threadId })).toEqual([ids.dm]);
    expect(await found({ channel_id: world.privateChannelId, thread_id: world.threadId })).toEqual(
      [ids.private, ids.dm].sort(),
    );
  });

  it("narrows to an author and to a time window", async () => {
    expect(await found({ from: world.admin.id })).toEqual([ids.thrice, ids.reply].sort());
    const keys = (hits: Hit[]) => hits.map((h) => `${h.conversation_kind}:${h.message_id}`).sort();
    const all = await allHits(app, world.owner, { q: "kiwi", sort: "newest" });
    const middle = all[2] as Hit;
    const before = await allHits(app, world.owner, { q: "kiwi", before: middle.created_at });
    const after = await allHits(app, world.owner, { q: "kiwi", after: middle.created_at });
    // created_at has microseconds, the bound milliseconds: the middle one is just after its bound.
    expect(keys([...before, ...after])).toEqual(keys(all));
    expect(keys(before)).not.toContain(`${middle.conversation_kind}:${middle.message_id}`);
    expect(await found({ before: "1999-01-01" })).toEqual([]);
    expect(await found({ after: "2000-01-01T00:00:00Z" })).toHaveLength(all.length);
  });

  it("answers a filter the caller cannot read as the messages routes do (404, 403)", async () => {
    const cases: [Record<string, number>, number][] = [
      [{ workspace_id: 999_999 }, 404],
      [{ workspace_id: world.otherWorkspaceId }, 403],
      [{ channel_id: 999_999 }, 404],
      [{ channel_id: world.otherChannelId }, 403],
      [{ thread_id: 999_999 }, 404],
      [{ from: 999_999 }, 404],
    ];
    for (const [params, status] of cases) {
      const res = await search(app, world.owner, { q: "kiwi", ...params });
      expect(res.status, JSON.stringify(params)).toBe(status);
      expect(typeof res.body.detail).toBe("string");
    }
    const notTheirs = await search(app, world.admin, { q: "kiwi", thread_id: world.threadId });
    expect(notTheirs.status).toBe(403);
  });
});

describe("bad input", () => {
  const cursor = Buffer.from(JSON.stringify(["r", 0.5, 1, 10])).toString("base64url");
  it.each([
    ["no q", {}],
    ["an empty q", { q: "" }],
    ["a blank q", { q: "   " }],
    ["a q too long", { q: "k".repeat(257) }],
    ["a NUL in q", { q: "ki\u0000wi" }],
    ["a bad date", { q: "kiwi", before: "yesterday" }],
    ["an impossible date", { q: "kiwi", after: "2026-13-45" }],
    ["a date before 1970", { q: "kiwi", after: "0000-01-01" }],
    ["a bad sort", { q: "kiwi", sort: "oldest" }],
    ["a bad id", { q: "kiwi", channel_id: "abc" }],
    ["an id beyond int4", { q: "kiwi", channel_id: "99999999999" }],
    ["a cursor that is not one", { q: "kiwi", cursor: "nope" }],
    ["a cursor of the other sort", { q: "kiwi", sort: "newest", cursor }],
  ])("answers %s with 422 and a detail", async (_name, params) => {
    const res = await search(app, world.owner, params as Record<string, string>);
    expect(res.status, res.text).toBe(422);
    expect(Array.isArray(res.body.detail)).toBe(true);
  });

  it("refuses anonymous callers", async () => {
    const res = await search(app, undefined, { q: "kiwi" });
    expect(res.status).toBe(401);
  });
});

describe("the rate limit", () => {
  it("counts searches per user (RATE_LIMIT_SEARCH_PER_MINUTE)", async () => {
    const limited = await startApp({ env: { RATE_LIMIT_SEARCH_PER_MINUTE: "2" } });
    try {
      const user = await registerUser(limited, { displayName: "Searcher" });
      const other = await registerUser(limited, { displayName: "Other" });
      const statuses = [];
      for (let i = 0; i < 3; i += 1) statuses.push((await search(limited, user, { q: "kiwi" })).status);
      expect(statuses).toEqual([200, 200, 429]);
      expect((await search(limited, other, { q: "kiwi" })).status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});

/**
 * Search never returns a message its caller cannot open, and finds every one they can: a property
 * over generated worlds (fast-check). Each run builds, through the API, fresh users in workspaces
 * (some removed again), public and private channels (some members removed, some leaving), DM
 * threads, and messages made of a few shared words (some deleted). Then, for every user and every
 * word, the hits of all pages of GET /search/messages must be exactly the messages that the
 * messages routes give that user (history of every conversation of the run) and that hold the word.
 * Runs: SEARCH_PROPERTY_RUNS (default 4); the seed is printed, replay with SEARCH_PROPERTY_SEED.
 */
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { as } from "../support/http";
import { registerUser, type TestUser } from "../support/users";
import { invite, label } from "../support/worlds";
import { MANY_POSTS } from "../threads/world";
import { allHits, openHit } from "./world";

const RUNS = Number(process.env.SEARCH_PROPERTY_RUNS ?? 4);
const SEED = Number(process.env.SEARCH_PROPERTY_SEED ?? Math.floor(Math.random() * 2 ** 31));
const WORDS = ["amber", "basil", "cedar", "delta"] as const;
const PEOPLE = 5;

let app: TestApp;
beforeAll(async () => {
  console.info(`search property: seed ${SEED}, ${RUNS} runs; replay with SEARCH_PROPERTY_SEED=${SEED}`);
  app = await startApp({ env: MANY_POSTS });
});
afterAll(async () => {
  await app?.close();
});

const person = fc.integer({ min: 0, max: PEOPLE - 1 });
const spec = fc.record({
  workspaces: fc.array(fc.record({ owner: person, members: fc.uniqueArray(person, { maxLength: PEOPLE }) }), {
    minLength: 1,
    maxLength: 2,
  }),
  channels: fc.array(
    fc.record({
      workspace: fc.nat(),
      isPrivate: fc.boolean(),
      members: fc.uniqueArray(person, { maxLength: 3 }),
    }),
    { minLength: 1, maxLength: 4 },
  ),
  threads: fc.array(fc.tuple(person, person), { maxLength: 3 }),
  messages: fc.array(
    fc.record({
      place: fc.nat(),
      author: person,
      words: fc.uniqueArray(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 3 }),
      deleted: fc.integer({ min: 0, max: 9 }).map((n) => n < 3),
    }),
    { minLength: 8, maxLength: 24 },
  ),
  removals: fc.array(fc.record({ channel: fc.nat(), who: person, selfLeave: fc.boolean() }), {
    maxLength: 3,
  }),
  expulsions: fc.array(fc.record({ workspace: fc.nat(), who: person }), { maxLength: 2 }),
});
type Spec = typeof spec extends fc.Arbitrary<infer T> ? T : never;

interface Place {
  kind: "channel" | "dm";
  id: number;
  path: string;
}

/** Builds the world through the API; requests a rule refuses (a 403 for a non-member) are skipped. */
async function build(world: Spec): Promise<{ users: TestUser[]; places: Place[] }> {
  const users = await Promise.all(
    Array.from({ length: PEOPLE }, (_, i) => registerUser(app, { displayName: `P${i} ${label()}` })),
  );
  const workspaceIds: number[] = [];
  for (const ws of world.workspaces) {
    const owner = users[ws.owner] as TestUser;
    const created = await as(app, owner).post("/workspaces", { json: { name: `W ${label()}` } });
    workspaceIds.push(created.body.id);
    for (const m of ws.members)
      if (m !== ws.owner) await invite(app, owner, created.body.id, users[m] as TestUser);
  }
  const places: Place[] = [];
  const channelOwners: TestUser[] = [];
  for (const ch of world.channels) {
    const index = ch.workspace % workspaceIds.length;
    const owner = users[(world.workspaces[index] as Spec["workspaces"][number]).owner] as TestUser;
    const created = await as(app, owner).post(`/workspaces/${workspaceIds[index]}/channels`, {
      json: { name: `c-${label()}`, is_private: ch.isPrivate },
    });
    expect(created.status, created.text).toBe(200);
    for (const m of ch.members) {
      await as(app, owner).post(`/channels/${created.body.id}/members`, { json: { user_id: users[m]?.id } });
    }
    places.push({ kind: "channel", id: created.body.id, path: `/channels/${created.body.id}/messages` });
    channelOwners.push(owner);
  }
  for (const [a, b] of world.threads) {
    if (a === b) continue;
    const res = await as(app, users[a]).post("/dm/threads", {
      json: { workspace_id: workspaceIds[0], user_id: users[b]?.id },
    });
    if (res.status === 200)
      places.push({ kind: "dm", id: res.body.id, path: `/dm/threads/${res.body.id}/messages` });
  }
  for (const message of world.messages) {
    const place = places[message.place % places.length] as Place;
    const author = users[message.author] as TestUser;
    const res = await as(app, author).post(place.path, {
      json: { content: `${message.words.join(" ")} ${label()}` },
    });
    if (res.status === 200 && message.deleted) await as(app, author).delete(`${place.path}/${res.body.id}`);
  }
  for (const removal of world.removals) {
    const index = removal.channel % channelOwners.length;
    const channelId = (places[index] as Place).id;
    const who = users[removal.who] as TestUser;
    const by = removal.selfLeave ? who : (channelOwners[index] as TestUser);
    await as(app, by).delete(`/channels/${channelId}/members/${who.id}`);
  }
  for (const expulsion of world.expulsions) {
    const index = expulsion.workspace % workspaceIds.length;
    const owner = users[(world.workspaces[index] as Spec["workspaces"][number]).owner] as TestUser;
    await as(app, owner).delete(`/workspaces/${workspaceIds[index]}/members/${users[expulsion.who]?.id}`);
  }
  return { users, places };
}

/** What the messages routes let `user` open: `kind:id` -> content, over every place of the run. */
async function openable(user: TestUser, places: Place[]): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const place of places) {
    const res = await as(app, user).get(`${place.path}?limit=100`);
    if (res.status !== 200) continue;
    for (const m of res.body as { id: number; content: string; is_deleted: boolean }[]) {
      if (!m.is_deleted) found.set(`${place.kind}:${m.id}`, m.content);
    }
  }
  return found;
}

it("finds for every user and word exactly the messages the messages routes let them open", async () => {
  let checked = 0;
  let found = 0;
  await fc.assert(
    fc.asyncProperty(spec, async (world) => {
      const { users, places } = await build(world);
      for (const [index, user] of users.entries()) {
        const readable = await openable(user, places);
        for (const [w, word] of WORDS.entries()) {
          const sort = (index + w) % 2 === 0 ? "relevance" : "newest";
          const hits = await allHits(app, user, { q: word, sort, limit: 3 });
          const keys = hits.map((hit) => `${hit.conversation_kind}:${hit.message_id}`);
          expect(new Set(keys).size, "no hit twice").toBe(keys.length);
          const expected = [...readable].filter(([, content]) => content.split(" ").includes(word));
          expect(keys.sort(), `user ${index}, "${word}"`).toEqual(expected.map(([key]) => key).sort());
          checked += 1;
          found += hits.length;
          const [first] = hits;
          if (first) expect((await openHit(app, user, first)).status).toBe(200);
        }
      }
    }),
    { numRuns: RUNS, seed: SEED, endOnFailure: true },
  );
  console.info(`search property: ${checked} searches compared, ${found} hits in all`);
  expect(found, "the worlds produced something to find").toBeGreaterThan(0);
}, 600_000);

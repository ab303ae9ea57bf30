/**
 * Search benchmark: GET /search/messages's SQL (services/search.ts, called as the route calls it)
 * over at least a million channel messages and 100,000 direct messages, in a database of its own
 * (BENCH_SEARCH_DATABASE, default braumchat_bench_search, on BENCH_PG_URL or the local server),
 * seeded inside PostgreSQL (bench/lib/search-seed.ts) and kept for the next run unless
 * BENCH_SEARCH_RESEED=1. The searcher is an ordinary member of two of the 50 workspaces (40 of the
 * 1,000 channels, minus the private ones they are not in) with about 150 DM threads. Prints p50
 * and p99 per kind of query (sequential, after a warm-up), the hits, and the sizes of the tables
 * and GIN indexes; BENCH_EXPLAIN=1 adds each query's plan. Asserts nothing.
 *
 *   npm run bench:search
 */

import { type SQL, sql } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { migrateDatabase } from "../scripts/lib/migrate";
import type { Queryable } from "../src/services/access";
import { type SearchRequest, searchMessages } from "../src/services/search";
import { decodeCursor } from "../src/services/search-cursor";
import { seed, wordOf } from "./lib/search-seed";
import { fmt, percentile, setting } from "./lib/stats";

const SERVER = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const NAME = process.env.BENCH_SEARCH_DATABASE ?? "braumchat_bench_search";
const SIZE = {
  users: 2000,
  workspaces: 50,
  channelsPerWorkspace: 20,
  messages: setting("BENCH_SEARCH_MESSAGES", 1_000_000, 20_000),
  directMessages: setting("BENCH_SEARCH_DIRECT_MESSAGES", 100_000, 2_000),
};
const RUNS = setting("BENCH_RUNS", 100, 5);
/** A member of workspaces 1 and 4 (bench/lib/search-seed.ts), not an owner. */
const SEARCHER = 100;
const log = (line: string) => console.log(line);

const databaseUrl = (() => {
  const url = new URL(SERVER);
  url.pathname = `/${NAME}`;
  return url.toString();
})();

async function prepareDatabase() {
  const admin = postgres(SERVER, { max: 1, onnotice: () => {} });
  try {
    const [found] = await admin`select 1 as found from pg_database where datname = ${NAME}`;
    if (found && process.env.BENCH_SEARCH_RESEED !== "1") {
      const check = postgres(databaseUrl, { max: 1, onnotice: () => {} });
      const [row] = await check`select count(*)::int as n from messages`.catch(() => [{ n: -1 }]);
      await check.end();
      if (row?.n === SIZE.messages)
        return log(`reusing ${NAME} (${row.n.toLocaleString("en")} channel messages)`);
    }
    await admin.unsafe(`drop database if exists ${NAME}`);
    await admin.unsafe(`create database ${NAME}`);
  } finally {
    await admin.end();
  }
  log(
    `seeding ${NAME}: ${SIZE.messages.toLocaleString("en")} channel and ${SIZE.directMessages.toLocaleString("en")} direct messages`,
  );
  const started = performance.now();
  await migrateDatabase(databaseUrl);
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    await seed(sql, SIZE, log);
  } finally {
    await sql.end();
  }
  log(`seeded in ${fmt((performance.now() - started) / 1000, 0)} s`);
}

await prepareDatabase();
const client = postgres(databaseUrl, { max: 2, onnotice: () => {} });
const db = drizzle({ client }) as unknown as Queryable;

const [common, frequent, medium, rare] = [wordOf(1), wordOf(10), wordOf(100), wordOf(5000)];
const [readable] = await client`
  select count(*)::int as channels, (select count(*)::int from messages m where m.channel_id = any(array_agg(c.id))) as messages
  from channels c where c.workspace_id in (1, 4) and (not c.is_private or exists (
    select 1 from channel_members cm where cm.channel_id = c.id and cm.user_id = ${SEARCHER}))`;
const [oneChannel] = await client`select id from channels where workspace_id = 4 and not is_private limit 1`;
const [author] = await client`select user_id from messages where channel_id = ${oneChannel?.id} limit 1`;
log(
  `searcher: user ${SEARCHER}, ${readable?.channels} readable channels holding ${readable?.messages.toLocaleString("en")} messages`,
);

const base = { sort: "relevance", limit: 20 } as const;
const cases: { name: string; request: SearchRequest }[] = [
  { name: `common word (${common}, ~half the messages)`, request: { ...base, q: common } },
  { name: "common word, newest first", request: { ...base, q: common, sort: "newest" } },
  { name: `frequent word (${frequent})`, request: { ...base, q: frequent } },
  { name: `medium word (${medium})`, request: { ...base, q: medium } },
  { name: `rare word (${rare})`, request: { ...base, q: rare } },
  { name: "two words (all must match)", request: { ...base, q: `${frequent} ${medium}` } },
  { name: "phrase", request: { ...base, q: `"${common} ${frequent}"` } },
  { name: "common word in one channel", request: { ...base, q: common, channelId: oneChannel?.id } },
  { name: "common word from one author", request: { ...base, q: common, fromUserId: author?.user_id } },
  { name: "common word, last 30 days", request: { ...base, q: common, after: new Date("2025-10-01") } },
  { name: "frequent word, newest first", request: { ...base, q: frequent, sort: "newest" } },
];

/** The database handle of searchMessages, which with BENCH_EXPLAIN=1 prints the plan of the search statement. */
function explaining(): Queryable {
  return new Proxy(db, {
    get(target, property, receiver) {
      if (property !== "execute") return Reflect.get(target, property, receiver);
      return async (query: SQL) => {
        const text = new PgDialect().sqlToQuery(query).sql;
        if (!text.includes("ts_headline")) return target.execute(query);
        const plan = await target.execute<{ "QUERY PLAN": string }>(sql`explain (analyze, buffers) ${query}`);
        for (const row of plan) log(`    ${row["QUERY PLAN"]}`);
        return target.execute(query);
      };
    },
  });
}

const sizes = await client`
  select relname, pg_size_pretty(pg_relation_size(oid)) as size, pg_size_pretty(pg_total_relation_size(oid)) as total
  from pg_class where relname in ('messages', 'direct_messages', 'ix_messages_search_vector', 'ix_direct_messages_search_vector')
  order by relname`;

try {
  log(`\n${RUNS} runs per query after 3 of warm-up, one at a time (page of 20, page 2 by cursor)\n`);
  log(`${"query".padEnd(44)} ${"p50 ms".padStart(8)} ${"p99 ms".padStart(8)} ${"p2 p50".padStart(8)}   hits`);
  for (const { name, request } of cases) {
    for (let i = 0; i < 3; i += 1) await searchMessages(db, SEARCHER, "simple", request);
    if (process.env.BENCH_EXPLAIN === "1") {
      log(`${name}:`);
      await searchMessages(explaining(), SEARCHER, "simple", request);
    }
    const durations: number[] = [];
    const second: number[] = [];
    let hits = 0;
    for (let i = 0; i < RUNS; i += 1) {
      const t0 = performance.now();
      const page = await searchMessages(db, SEARCHER, "simple", request);
      durations.push(performance.now() - t0);
      hits = page.hits.length;
      if (page.nextCursor) {
        const t1 = performance.now();
        await searchMessages(db, SEARCHER, "simple", {
          ...request,
          cursor: decodeCursor(page.nextCursor) ?? undefined,
        });
        second.push(performance.now() - t1);
      }
    }
    log(
      `${name.padEnd(44)} ${fmt(percentile(durations, 50)).padStart(8)} ${fmt(percentile(durations, 99)).padStart(8)} ${fmt(percentile(second, 50)).padStart(8)}   ${hits}`,
    );
  }
  log("\nsizes (table: heap / with indexes and TOAST)");
  for (const row of sizes) log(`  ${String(row.relname).padEnd(34)} ${row.size} / ${row.total}`);
} finally {
  await client.end();
}

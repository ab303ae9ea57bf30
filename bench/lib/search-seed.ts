/**
 * The world of bench:search, made by SQL inside PostgreSQL (generate_series; no rows cross the
 * wire): users, workspaces with members, public and private channels with their members, DM
 * threads, and channel and direct messages whose words follow Zipf's law over a vocabulary of
 * made-up words (`wordOf(rank)`), so one word is in about half the messages and most are rare.
 */
import type postgres from "postgres";

export interface SeedSize {
  users: number;
  workspaces: number;
  channelsPerWorkspace: number;
  messages: number;
  directMessages: number;
}

/** Distinct words; rank r is drawn with probability proportional to 1/r. */
export const VOCABULARY = 8000;
const SYLLABLES = "ka,lo,mi,ne,ru,sa,to,vi,ze,po,da,fe,gu,hi,jo,ku,la,me,no,pi";

/** The word of a rank (1-based), as the SQL below spells it. */
export function wordOf(rank: number): string {
  const s = SYLLABLES.split(",");
  return `${s[rank % 20]}${s[Math.floor(rank / 20) % 20]}${s[Math.floor(rank / 400) % 20]}`;
}

/** SQL for the word of rank `r` (an expression). */
const wordSql = (r: string) =>
  `(('{${SYLLABLES}}'::text[])[1 + (${r}) % 20] || ('{${SYLLABLES}}'::text[])[1 + ((${r}) / 20) % 20] || ('{${SYLLABLES}}'::text[])[1 + ((${r}) / 400) % 20])`;

/** 4..16 words, each of Zipf-distributed rank; `g` is the row's number (it makes the subquery per row). */
const contentSql = (g: string) =>
  `(select string_agg(${wordSql(`floor(exp(random() * ln(${VOCABULARY})))::int`)}, ' ')
    from generate_series(1, 4 + (${g}) % 13))`;

export async function seed(sql: postgres.Sql, size: SeedSize, log: (line: string) => void): Promise<void> {
  const { users, workspaces, channelsPerWorkspace } = size;
  const channels = workspaces * channelsPerWorkspace;
  await sql.unsafe("set maintenance_work_mem = '512MB'");
  await sql.unsafe(`
    insert into users (email, hashed_password, display_name, is_active, is_superuser)
    select 'bench' || i || '@example.com', null, 'Bench' || i || '#0001', true, false
    from generate_series(1, ${users}) i`);
  await sql.unsafe(`
    insert into workspaces (name, slug, owner_id)
    select 'Workspace ' || i, 'ws-' || i, i from generate_series(1, ${workspaces}) i`);
  // Everyone is in two workspaces; owners in their own too.
  await sql.unsafe(`
    insert into workspace_members (workspace_id, user_id, role)
    select w, u, case when w = u then 'owner' else 'member' end from (
      select u, 1 + u % ${workspaces} as w from generate_series(1, ${users}) u
      union select u, 1 + (u * 7 + 3) % ${workspaces} from generate_series(1, ${users}) u
      union select i, i from generate_series(1, ${workspaces}) i) as m`);
  // A quarter of the channels are private, with about a third of their workspace in them.
  await sql.unsafe(`
    insert into channels (workspace_id, name, is_private, is_archived)
    select w, 'ch-' || w || '-' || k, k % 4 = 0, false
    from generate_series(1, ${workspaces}) w, generate_series(1, ${channelsPerWorkspace}) k`);
  await sql.unsafe(`
    insert into channel_members (channel_id, user_id)
    select c.id, wm.user_id from channels c join workspace_members wm on wm.workspace_id = c.workspace_id
    where c.is_private and (wm.user_id + c.id) % 3 = 0`);
  // Each of the first 200 users has a thread with the next 100.
  await sql.unsafe(`
    insert into direct_message_threads (workspace_id, user1_id, user2_id)
    select null, a, a + k from generate_series(1, 200) a, generate_series(1, 100) k`);

  // Inserted without the GIN indexes, which are built once at the end (much faster).
  await sql.unsafe("drop index if exists ix_messages_search_vector");
  await sql.unsafe("drop index if exists ix_direct_messages_search_vector");
  const batch = 100_000;
  for (let from = 1; from <= size.messages; from += batch) {
    const to = Math.min(size.messages, from + batch - 1);
    // One message a minute from 2024 on, so ids and times go up together as in a real history.
    await sql.unsafe(`
      insert into messages (channel_id, user_id, content, is_edited, is_deleted, created_at)
      select 1 + (g::bigint * 7919) % ${channels}, 1 + (g::bigint * 104729) % ${users}, ${contentSql("g")}, false,
             random() < 0.02, timestamptz '2024-01-01' + g * interval '1 minute'
      from generate_series(${from}, ${to}) g`);
    log(`  channel messages: ${to.toLocaleString("en")}`);
  }
  await sql.unsafe(`
    insert into direct_messages (thread_id, sender_id, content, is_deleted, is_edited, created_at)
    select t.id, case when g % 2 = 0 then t.user1_id else t.user2_id end, ${contentSql("g")}, false, false,
           timestamptz '2024-01-01' + g * interval '10 minutes'
    from generate_series(1, ${size.directMessages}) g
    join direct_message_threads t on t.id = 1 + (g::bigint * 31) % 20000`);
  log(`  direct messages: ${size.directMessages.toLocaleString("en")}`);
  log("  building the GIN indexes");
  await sql.unsafe('create index "ix_messages_search_vector" on "messages" using gin ("search_vector")');
  await sql.unsafe(
    'create index "ix_direct_messages_search_vector" on "direct_messages" using gin ("search_vector")',
  );
  await sql.unsafe("vacuum analyze");
}

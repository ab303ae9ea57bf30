/**
 * Migration 0004 (docs/original-defects.md#d15-store-expiry-and-outages,
 * docs/original-defects.md#d22-schema-constraints) on a database of the original that holds what the original
 * allowed: several threads for one pair of users (one per workspace, and pairs stored in either order) are
 * folded into the one the original itself returned for the pair, with all their messages; every pair is
 * stored in order; the new keys then refuse duplicates; and the history present at the migration counts as
 * read (the original's read state was in Redis, which a migration cannot read). The adopted threads then work
 * through the API. Migration 0005 then lets them outlive the workspace they were started from: the original's
 * foreign key refused to delete a workspace with threads, and deleting them would take two people's history.
 */
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrateDatabase } from "../../scripts/lib/migrate";
import { startApp, type TestApp } from "../support/app";
import { createTestDatabase, loadSqlFile, originalFixture, type TestDatabase } from "../support/database";
import { api } from "../support/http";
import { login } from "../support/users";

let database: TestDatabase;
let sql: postgres.Sql;

beforeAll(async () => {
  database = await createTestDatabase({ migrate: false });
  await loadSqlFile(database.url, originalFixture("original-schema.sql"));
  await loadSqlFile(database.url, originalFixture("original-data.sql"));
  sql = postgres(database.url, { max: 1, onnotice: () => {} });
  // The fixture has thread 1 (Acme, Alice and Bob) with messages 1 and 2. Add what the original
  // could produce: the same pair again from another workspace (the latest: the original's pick),
  // and stored reversed; and a pair stored reversed with no duplicate.
  await sql`insert into workspaces (id, name, slug, owner_id) values (2, 'Beta', 'beta', 2)`;
  await sql`insert into workspace_members (workspace_id, user_id, role) values (2, 2, 'owner'), (2, 1, 'member')`;
  await sql`insert into direct_message_threads (id, workspace_id, user1_id, user2_id, created_at, updated_at) values
              (10, 2, 1, 2, '2026-01-10 14:00:00+00', null),
              (11, 1, 2, 1, '2026-01-10 13:30:00+00', '2026-01-10 13:45:00+00'),
              (12, 1, 3, 1, '2026-01-10 15:00:00+00', null)`;
  await sql`insert into direct_messages (id, thread_id, sender_id, content, created_at) values
              (10, 11, 2, 'from the reversed duplicate', '2026-01-10 13:31:00+00'),
              (11, 10, 1, 'from the Beta duplicate', '2026-01-10 14:01:00+00'),
              (12, 12, 3, 'Carol here', '2026-01-10 15:01:00+00')`;
  await sql`select setval('direct_message_threads_id_seq', 12), setval('direct_messages_id_seq', 12),
                    setval('workspaces_id_seq', 2)`;
  const result = await migrateDatabase(database.url);
  expect(result.adopted).toBe(true);
});
afterAll(async () => {
  await sql?.end({ timeout: 5 });
  await database?.drop();
});

describe("migration 0004 on an adopted database with duplicate threads", () => {
  it("keeps one thread per pair, the original's pick, stored in order", async () => {
    const threads =
      await sql`select id, workspace_id, user1_id, user2_id from direct_message_threads order by id`;
    expect(threads.map((t) => [t.id, t.workspace_id, t.user1_id, t.user2_id])).toEqual([
      [10, 2, 1, 2],
      [12, 1, 1, 3],
    ]);
  });

  it("moves every message of the folded threads into the kept one, in id order", async () => {
    const rows = await sql`select id, thread_id, content from direct_messages order by id`;
    expect(rows.map((r) => [r.id, r.thread_id])).toEqual([
      [1, 10],
      [2, 10],
      [10, 10],
      [11, 10],
      [12, 12],
    ]);
  });

  it("counts the existing history as read by both participants", async () => {
    const reads = await sql`select user_id, thread_id, last_read_message_id from direct_message_reads
                            order by thread_id, user_id`;
    expect(reads.map((r) => [r.user_id, r.thread_id, r.last_read_message_id])).toEqual([
      [1, 10, 11],
      [2, 10, 11],
      [1, 12, 12],
      [3, 12, 12],
    ]);
  });

  it("then refuses a second thread for a pair, in either order", async () => {
    await expect(
      sql`insert into direct_message_threads (workspace_id, user1_id, user2_id) values (1, 1, 2)`,
    ).rejects.toMatchObject({ code: "23505", constraint_name: "uq_direct_message_threads_users" });
    await expect(
      sql`insert into direct_message_threads (workspace_id, user1_id, user2_id) values (1, 2, 1)`,
    ).rejects.toMatchObject({ code: "23514", constraint_name: "ck_direct_message_threads_user_order" });
  });

  it("serves the adopted threads through the API", async () => {
    const app: TestApp = await startApp({ database });
    try {
      const alice = await login(app, "alice@example.com", "alice-password-1");
      const asAlice = api(app, { token: alice.access_token });
      const list = await asAlice.get("/dm/threads");
      expect(list.body.map((t: { id: number; unread_count: number }) => [t.id, t.unread_count])).toEqual([
        [12, 0],
        [10, 0],
      ]);
      const opened = await asAlice.post("/dm/threads", { json: { workspace_id: 1, user_id: 2 } });
      expect(opened.body).toMatchObject({ id: 10, workspace_id: 2 });
      const messages = await asAlice.get("/dm/threads/10/messages");
      expect(messages.body.map((m: { id: number }) => m.id)).toEqual([11, 10, 2, 1]);
      const bob = await login(app, "bob@example.com", "bob-password-2");
      const sent = await api(app, { token: bob.access_token }).post("/dm/threads/10/messages", {
        json: { content: "after the migration" },
      });
      expect(sent.status).toBe(200);
      expect((await asAlice.get("/dm/threads/10/read-status")).body).toEqual({
        thread_id: 10,
        self_last_read_message_id: 11,
        other_last_read_message_id: 11,
        unread_count: 1,
      });
    } finally {
      await app.close();
    }
  });
});

describe("migration 0005 on the adopted database", () => {
  it("keeps an adopted thread when its workspace is deleted, read-only when its people no longer meet", async () => {
    const app: TestApp = await startApp({ database });
    try {
      const alice = await login(app, "alice@example.com", "alice-password-1");
      const asAlice = api(app, { token: alice.access_token });
      // Acme (1) holds thread 12, Alice and Carol's; Carol is in no other workspace of Alice's and
      // not her friend. Thread 10 (Alice and Bob, friends) was started in Beta (2).
      expect((await asAlice.delete("/workspaces/1")).status).toBe(204);
      const threads = await sql`select id, workspace_id from direct_message_threads order by id`;
      expect(threads.map((t) => [t.id, t.workspace_id])).toEqual([
        [10, 2],
        [12, null],
      ]);
      const list = await asAlice.get("/dm/threads");
      expect(list.body.map((t: { id: number; read_only: boolean }) => [t.id, t.read_only])).toEqual([
        [10, false],
        [12, true],
      ]);
      const history = await asAlice.get("/dm/threads/12/messages");
      expect(history.body.map((m: { content: string }) => m.content)).toEqual(["Carol here"]);
    } finally {
      await app.close();
    }
  });
});

/**
 * Migration 0002 (docs/original-defects.md#d22-schema-constraints) on a database of the original that holds
 * what the original allowed: duplicate memberships are folded into one row each (the strongest role, then the
 * oldest row), after which the new keys hold; re-answered invites no longer collide; and
 * friend_requests.status has its default.
 */
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrateDatabase } from "../../scripts/lib/migrate";
import { createTestDatabase, loadSqlFile, originalFixture, type TestDatabase } from "../support/database";

let database: TestDatabase;
let sql: postgres.Sql;

beforeAll(async () => {
  database = await createTestDatabase({ migrate: false });
  await loadSqlFile(database.url, originalFixture("original-schema.sql"));
  await loadSqlFile(database.url, originalFixture("original-data.sql"));
  sql = postgres(database.url, { max: 1, onnotice: () => {} });
  // The original fixture: workspace 1 has owner 1 (row 1), member 2 (row 2), admin 3 (row 3);
  // private channel 2 has members 1 and 3. Add the duplicates the original could produce.
  await sql`insert into workspace_members (id, workspace_id, user_id, role) values
              (10, 1, 2, 'admin'), (11, 1, 3, 'member'), (12, 1, 3, 'admin'), (13, 1, 1, 'member')`;
  await sql`insert into channel_members (id, channel_id, user_id) values (10, 2, 1), (11, 2, 3), (12, 2, 3)`;
  const result = await migrateDatabase(database.url);
  expect(result.adopted).toBe(true);
});
afterAll(async () => {
  await sql?.end({ timeout: 5 });
  await database?.drop();
});

describe("migration 0002 on an adopted database with duplicates", () => {
  it("keeps one membership per user, with the strongest role, the oldest first", async () => {
    const rows =
      await sql`select id, user_id, role from workspace_members where workspace_id = 1 order by user_id`;
    expect(rows.map((r) => [r.id, r.user_id, r.role])).toEqual([
      [1, 1, "owner"],
      [10, 2, "admin"],
      [3, 3, "admin"],
    ]);
    const channel = await sql`select id, user_id from channel_members where channel_id = 2 order by user_id`;
    expect(channel.map((r) => [r.id, r.user_id])).toEqual([
      [1, 1],
      [2, 3],
    ]);
  });

  it("then refuses duplicate memberships", async () => {
    await expect(
      sql`insert into workspace_members (workspace_id, user_id, role) values (1, 2, 'member')`,
    ).rejects.toMatchObject({ code: "23505", constraint_name: "uq_workspace_members_workspace_user" });
    await expect(sql`insert into channel_members (channel_id, user_id) values (2, 1)`).rejects.toMatchObject({
      code: "23505",
      constraint_name: "uq_channel_members_channel_user",
    });
  });

  it("allows any number of answered invites per person, but one pending", async () => {
    await sql`insert into workspace_invites (workspace_id, inviter_user_id, invitee_user_id, status)
              values (1, 1, 2, 'accepted'), (1, 1, 2, 'declined'), (1, 1, 2, 'declined'), (1, 1, 2, 'pending')`;
    await expect(
      sql`insert into workspace_invites (workspace_id, inviter_user_id, invitee_user_id) values (1, 1, 2)`,
    ).rejects.toMatchObject({ code: "23505", constraint_name: "uq_workspace_invites_pending_invitee" });
  });

  it("gives friend_requests.status the default 'pending'", async () => {
    const [row] =
      await sql`insert into friend_requests (requester_id, addressee_id) values (1, 3) returning status`;
    expect(row?.status).toBe("pending");
  });

  it("adds the history indexes", async () => {
    const indexes = await sql`select indexname from pg_indexes where schemaname = 'public'
                              and indexname in ('ix_messages_channel_id_id', 'ix_direct_messages_thread_id_id',
                                                'ix_audit_logs_workspace_id_id', 'ix_channels_workspace_id',
                                                'ix_workspace_members_user_id')
                              order by indexname`;
    expect(indexes.map((r) => r.indexname)).toEqual([
      "ix_audit_logs_workspace_id_id",
      "ix_channels_workspace_id",
      "ix_direct_messages_thread_id_id",
      "ix_messages_channel_id_id",
      "ix_workspace_members_user_id",
    ]);
  });

  it("keeps the original's channels, with the new columns defaulted", async () => {
    const rows = await sql`select id, name, topic, is_archived from channels order by id`;
    expect(rows.map((r) => [r.id, r.name, r.topic, r.is_archived])).toEqual([
      [1, "general", null, false],
      [2, "founders", null, false],
    ]);
  });
});

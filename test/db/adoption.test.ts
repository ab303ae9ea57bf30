/**
 * scripts/lib/migrate.ts: adopting a database of the original service, refusing what it must not touch,
 * migrating fresh databases, re-runs and concurrent runs.
 */
import { asc, eq } from "drizzle-orm";
import { readMigrationFiles } from "drizzle-orm/migrator";
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { afterEach, describe, expect, it } from "vitest";
import {
  AdoptionRefusedError,
  MIGRATIONS_FOLDER,
  migrateDatabase,
  ORIGINAL_HEAD_REVISION,
  ORIGINAL_TABLES,
} from "../../scripts/lib/migrate";
import * as schema from "../../src/db/schema";
import { createTestDatabase, loadSqlFile, originalFixture, type TestDatabase } from "../support/database";

const migrations = readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER });

const databases: TestDatabase[] = [];
afterEach(async () => {
  await Promise.all(databases.splice(0).map((db) => db.drop()));
});

async function emptyDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase({ migrate: false });
  databases.push(db);
  return db;
}

/** Runs `fn` with a short-lived connection to `url`. */
async function withSql<T>(url: string, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

const journalRows = (url: string) =>
  withSql(
    url,
    (sql) => sql<{ hash: string; created_at: string }[]>`
    select hash, created_at::text from drizzle.__drizzle_migrations order by id`,
  );

const publicTables = (url: string) =>
  withSql(url, async (sql) =>
    (await sql<{ name: string }[]>`select tablename as name from pg_tables where schemaname = 'public'`)
      .map((row) => row.name)
      .sort(),
  );

describe("adopting a database of the original service", () => {
  it("records the baseline, keeps every row readable, and is a no-op the second time", async () => {
    const db = await emptyDatabase();
    await loadSqlFile(db.url, originalFixture("original-schema.sql"));
    await loadSqlFile(db.url, originalFixture("original-data.sql"));

    const messages: string[] = [];
    const first = await migrateDatabase(db.url, { log: (msg) => messages.push(msg) });
    expect(first).toEqual({ adopted: true, applied: migrations.length - 1 });
    expect(messages.join("\n")).toContain("adopted");

    // The journal row is the one drizzle's migrator would have written for the baseline.
    const journal = await journalRows(db.url);
    expect(journal).toHaveLength(migrations.length);
    expect(journal[0]).toEqual({
      hash: migrations[0]?.hash,
      created_at: String(migrations[0]?.folderMillis),
    });

    expect(await migrateDatabase(db.url)).toEqual({ adopted: false, applied: 0 });
    expect(await journalRows(db.url)).toEqual(journal);
    // alembic_version stays, with its revision.
    expect(
      await withSql(db.url, (sql) => sql`select version_num from public.alembic_version`).then((rows) => [
        ...rows,
      ]),
    ).toEqual([{ version_num: ORIGINAL_HEAD_REVISION }]);

    const client = postgres(db.url, { max: 2, onnotice: () => {} });
    try {
      const orm = drizzle(client, { schema });

      const users = await orm.select().from(schema.users).orderBy(asc(schema.users.id));
      expect(
        users.map(({ id, email, hashedPassword, displayName, username, isActive, isSuperuser }) => ({
          id,
          email,
          hashedPassword,
          displayName,
          username,
          isActive,
          isSuperuser,
        })),
      ).toEqual([
        {
          id: 1,
          email: "alice@example.com",
          hashedPassword: "$2b$12$L.z9pAGwJM5OEOom8MVTtO2zrczGN7Ks6lDoWJjqq3DpIW795JPtO",
          displayName: "Alice#1234",
          username: "alice",
          isActive: true,
          isSuperuser: false,
        },
        {
          id: 2,
          email: "bob@example.com",
          hashedPassword: "$2b$12$X7Po/FQQjpauzkyfM1aW9u4F7xmuHWpPRhsxN8JQLJbmtWS00UKVW",
          displayName: "Bob#0042",
          username: "bob",
          isActive: true,
          isSuperuser: false,
        },
        {
          id: 3,
          email: "carol@example.com",
          hashedPassword: "$2b$12$MbFlgRH5UIv.hzVCJqCoZOOwZFwFDueEIZHXZhgiGmsbGWs.NlST6",
          displayName: "Carol Q#7777",
          username: "carolq",
          isActive: true,
          isSuperuser: false,
        },
      ]);
      expect(users[0]?.createdAt).toEqual(new Date("2026-01-10T10:01:00Z"));
      expect(users[0]?.updatedAt).toBeNull();

      const [workspace] = await orm.select().from(schema.workspaces).where(eq(schema.workspaces.id, 1));
      expect(workspace).toMatchObject({ name: "Acme", slug: "acme", ownerId: 1 });
      const members = await orm
        .select({ userId: schema.workspaceMembers.userId, role: schema.workspaceMembers.role })
        .from(schema.workspaceMembers)
        .where(eq(schema.workspaceMembers.workspaceId, 1))
        .orderBy(asc(schema.workspaceMembers.userId));
      expect(members).toEqual([
        { userId: 1, role: "owner" },
        { userId: 2, role: "member" },
        { userId: 3, role: "admin" },
      ]);

      const channels = await orm
        .select({
          id: schema.channels.id,
          workspaceId: schema.channels.workspaceId,
          name: schema.channels.name,
          isPrivate: schema.channels.isPrivate,
        })
        .from(schema.channels)
        .orderBy(asc(schema.channels.id));
      expect(channels).toEqual([
        { id: 1, workspaceId: 1, name: "general", isPrivate: false },
        { id: 2, workspaceId: 1, name: "founders", isPrivate: true },
      ]);
      const channelMembers = await orm
        .select({ channelId: schema.channelMembers.channelId, userId: schema.channelMembers.userId })
        .from(schema.channelMembers)
        .orderBy(asc(schema.channelMembers.id));
      expect(channelMembers).toEqual([
        { channelId: 2, userId: 1 },
        { channelId: 2, userId: 3 },
      ]);

      const channelMessages = await orm.select().from(schema.messages).orderBy(asc(schema.messages.id));
      expect(
        channelMessages.map(({ id, channelId, userId, content }) => ({ id, channelId, userId, content })),
      ).toEqual([
        { id: 1, channelId: 1, userId: 1, content: "Welcome to Acme!" },
        { id: 2, channelId: 1, userId: 2, content: "Hi all 👋" },
        { id: 3, channelId: 1, userId: 3, content: "Same second as the next one" },
        { id: 4, channelId: 1, userId: 1, content: "Same second as the previous one" },
        { id: 5, channelId: 2, userId: 1, content: "Private plans" },
      ]);
      // JS dates keep milliseconds of the stored microseconds (12:00:00.123456).
      expect(channelMessages[0]?.createdAt).toEqual(new Date("2026-01-10T12:00:00.123Z"));
      expect(channelMessages[2]?.createdAt).toEqual(channelMessages[3]?.createdAt);
      expect(channelMessages.every((m) => !m.isEdited && !m.isDeleted)).toBe(true);

      const [thread] = await orm.select().from(schema.directMessageThreads);
      expect(thread).toMatchObject({ id: 1, workspaceId: 1, user1Id: 1, user2Id: 2 });
      const dms = await orm
        .select({ senderId: schema.directMessages.senderId, content: schema.directMessages.content })
        .from(schema.directMessages)
        .where(eq(schema.directMessages.threadId, 1))
        .orderBy(asc(schema.directMessages.id));
      expect(dms).toEqual([
        { senderId: 1, content: "Hey Bob" },
        { senderId: 2, content: "Hey Alice" },
      ]);

      const friends = await orm
        .select({ user1Id: schema.friends.user1Id, user2Id: schema.friends.user2Id })
        .from(schema.friends);
      expect(friends).toEqual([{ user1Id: 1, user2Id: 2 }]);
      const requests = await orm
        .select({
          requesterId: schema.friendRequests.requesterId,
          addresseeId: schema.friendRequests.addresseeId,
          status: schema.friendRequests.status,
        })
        .from(schema.friendRequests)
        .orderBy(asc(schema.friendRequests.id));
      expect(requests).toEqual([
        { requesterId: 2, addresseeId: 1, status: "accepted" },
        { requesterId: 3, addresseeId: 2, status: "pending" },
      ]);

      const invites = await orm
        .select({
          inviteeUserId: schema.workspaceInvites.inviteeUserId,
          status: schema.workspaceInvites.status,
        })
        .from(schema.workspaceInvites)
        .orderBy(asc(schema.workspaceInvites.id));
      expect(invites).toEqual([
        { inviteeUserId: 2, status: "accepted" },
        { inviteeUserId: 3, status: "accepted" },
      ]);

      const sessions = await orm.select().from(schema.userSessions).orderBy(asc(schema.userSessions.id));
      expect(
        sessions.map(({ userId, sessionId, userAgent, ipAddress, revokedAt }) => ({
          userId,
          sessionId,
          userAgent,
          ipAddress,
          revokedAt,
        })),
      ).toEqual([
        {
          userId: 1,
          sessionId: "6f1c2d3e-0000-4000-8000-000000000001",
          userAgent: "Mozilla/5.0",
          ipAddress: "203.0.113.5",
          revokedAt: null,
        },
        {
          userId: 1,
          sessionId: "6f1c2d3e-0000-4000-8000-000000000002",
          userAgent: "curl/8",
          ipAddress: "203.0.113.6",
          revokedAt: new Date("2026-01-10T10:45:00Z"),
        },
      ]);

      // New rows continue the original's sequences, with the app defaults filled in by drizzle, and
      // updated_at stays NULL until an UPDATE sets it.
      const [dave] = await orm
        .insert(schema.users)
        .values({ email: "dave@example.com", displayName: "Dave#0001" })
        .returning();
      expect(dave).toMatchObject({
        id: 4,
        isActive: true,
        isSuperuser: false,
        updatedAt: null,
        username: null,
      });
      const [renamed] = await orm
        .update(schema.users)
        .set({ displayName: "Dave#0002" })
        .where(eq(schema.users.id, 4))
        .returning();
      expect(renamed?.updatedAt).toBeInstanceOf(Date);
      const [message] = await orm
        .insert(schema.messages)
        .values({ channelId: 1, userId: 4, content: "hi" })
        .returning();
      expect(message).toMatchObject({ id: 6, isEdited: false, isDeleted: false });
    } finally {
      await client.end({ timeout: 5 });
    }
  });

  it("refuses a database of the original at another revision, and changes nothing", async () => {
    const db = await emptyDatabase();
    await loadSqlFile(db.url, originalFixture("original-schema.sql"));
    await withSql(db.url, (sql) => sql`insert into public.alembic_version values ('5a4f3d2b1c11')`);

    const error = await migrateDatabase(db.url).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AdoptionRefusedError);
    expect((error as Error).message).toMatch(/revision 5a4f3d2b1c11/);
    expect((error as Error).message).toMatch(new RegExp(`last revision ${ORIGINAL_HEAD_REVISION}`));
    expect((error as Error).message).toMatch(/Upgrade it with the original service first/);
    // No journal was recorded.
    expect(
      await withSql(db.url, (sql) => sql`select to_regclass('drizzle.__drizzle_migrations') as t`),
    ).toMatchObject([{ t: null }]);
  });

  it("refuses an alembic_version at the head revision without the original's tables", async () => {
    const db = await emptyDatabase();
    await withSql(db.url, async (sql) => {
      await sql`create table public.alembic_version (version_num varchar(32) primary key)`;
      await sql`insert into public.alembic_version values (${ORIGINAL_HEAD_REVISION})`;
    });
    const error = await migrateDatabase(db.url).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AdoptionRefusedError);
    expect((error as Error).message).toMatch(/tables of the original are missing: users, user_sessions/);
  });

  it("refuses Braumchat tables without any migration record", async () => {
    const db = await emptyDatabase();
    await loadSqlFile(db.url, originalFixture("original-schema.sql"));
    await withSql(db.url, (sql) => sql`drop table public.alembic_version`);
    const error = await migrateDatabase(db.url).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AdoptionRefusedError);
    expect((error as Error).message).toMatch(/no record of their migrations/);
  });
});

describe("migrating a fresh database", () => {
  it("applies every migration once; re-running is a no-op", async () => {
    const db = await emptyDatabase();
    expect(await migrateDatabase(db.url)).toEqual({ adopted: false, applied: migrations.length });
    expect(await migrateDatabase(db.url)).toEqual({ adopted: false, applied: 0 });
    expect(await journalRows(db.url)).toHaveLength(migrations.length);
    const tables = await publicTables(db.url);
    for (const table of ORIGINAL_TABLES) expect(tables).toContain(table);
    expect(tables).not.toContain("alembic_version");
  });

  it("lets two concurrent runs both succeed, applying each migration once", async () => {
    const db = await emptyDatabase();
    const results = await Promise.all([migrateDatabase(db.url), migrateDatabase(db.url)]);
    expect(results.map((r) => r.adopted)).toEqual([false, false]);
    expect(results.map((r) => r.applied).sort()).toEqual([0, migrations.length]);
    expect(await journalRows(db.url)).toHaveLength(migrations.length);
  });

  it("gives test databases with the migrations applied by default", async () => {
    const db = await createTestDatabase();
    databases.push(db);
    expect(await migrateDatabase(db.url)).toEqual({ adopted: false, applied: 0 });
    expect(await journalRows(db.url)).toHaveLength(migrations.length);
  });
});

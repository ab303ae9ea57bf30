/**
 * Applies ./migrations to a PostgreSQL database, and adopts databases of the original BraumChat service.
 *
 * Adoption: the original managed its schema with Alembic. Our baseline migration (0000_baseline) creates
 * exactly the schema of the original's last revision (test/db/schema-parity.test.ts proves it), so a database
 * of the original at that revision already *is* at our baseline. On such a database (public.alembic_version
 * present, drizzle's journal empty) we record the baseline as applied, the way drizzle's migrator would
 * have, and let the migrator apply only the migrations after it. alembic_version is left in place: it tells
 * an operator where the data came from and costs nothing.
 *
 * Concurrency: the whole run holds a session-level advisory lock, so several instances starting at once
 * (replicas, a deploy hook next to `npm run dev`) apply each migration exactly once.
 */
import { fileURLToPath } from "node:url";
import { readMigrationFiles } from "drizzle-orm/migrator";
import { drizzle } from "drizzle-orm/postgres-js";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";

/** ./migrations of this repository, wherever the process was started from. */
export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../../migrations", import.meta.url));

/** Where drizzle's migrator keeps its journal (its defaults; we pass them explicitly so they cannot drift). */
export const MIGRATIONS_SCHEMA = "drizzle";
export const MIGRATIONS_TABLE = "__drizzle_migrations";

/** The original's last Alembic revision; our baseline equals the schema it leaves. */
export const ORIGINAL_HEAD_REVISION = "c3d2e1f0a9b8";

/** The original's tables (besides alembic_version); all must exist for a database to be adopted. */
export const ORIGINAL_TABLES = [
  "users",
  "user_sessions",
  "workspaces",
  "workspace_members",
  "workspace_invites",
  "channels",
  "channel_members",
  "messages",
  "direct_message_threads",
  "direct_messages",
  "friends",
  "friend_requests",
] as const;

/** pg_advisory_lock key of migration runs: "BraumMig" in ASCII, to stay clear of other users of the server. */
const MIGRATION_LOCK_KEY = "4788413621317986663";

/** Seconds to wait for the TCP connection and the server's startup reply. */
const CONNECT_TIMEOUT_SECONDS = 5;

export interface MigrateOptions {
  /** Progress lines (nothing is printed without it). */
  log?: (msg: string) => void;
}

export interface MigrateResult {
  /** True only on the run that recorded the baseline on a database of the original. */
  adopted: boolean;
  /** Migrations applied by this run (the adopted baseline is not counted: it was not run). */
  applied: number;
}

/** The database cannot be reached (refused, unknown host, timeout); the message names host:port. */
export class DatabaseUnreachableError extends Error {
  override name = "DatabaseUnreachableError";
}

/** The database holds something this project must not migrate (e.g. the original at an older revision). */
export class AdoptionRefusedError extends Error {
  override name = "AdoptionRefusedError";
}

export async function migrateDatabase(
  databaseUrl: string,
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const log = options.log ?? (() => {});
  const target = describeTarget(databaseUrl);
  const sql = postgres(databaseUrl, {
    // One connection: the advisory lock is held by a session, and drizzle's migrator must run on it.
    max: 1,
    connect_timeout: CONNECT_TIMEOUT_SECONDS,
    // "schema already exists, skipping" and similar notices are noise here.
    onnotice: () => {},
    connection: { application_name: "braumchat-migrate" },
  });
  let connected = false;
  try {
    await firstQuery(sql, target);
    connected = true;

    const [free] = await sql<
      { locked: boolean }[]
    >`select pg_try_advisory_lock(${MIGRATION_LOCK_KEY}::bigint) as locked`;
    if (!free?.locked) {
      log("another migration run holds the lock; waiting for it to finish");
      await sql`select pg_advisory_lock(${MIGRATION_LOCK_KEY}::bigint)`;
    }

    const adopted = await adoptOriginalIfNeeded(sql, log);
    const before = await countJournal(sql);
    await migrate(drizzle(sql), {
      migrationsFolder: MIGRATIONS_FOLDER,
      migrationsSchema: MIGRATIONS_SCHEMA,
      migrationsTable: MIGRATIONS_TABLE,
    });
    const applied = (await countJournal(sql)) - before;

    await sql`select pg_advisory_unlock(${MIGRATION_LOCK_KEY}::bigint)`;
    return { adopted, applied };
  } finally {
    // Ending the session also releases the advisory lock if we got here by an error. A connection that
    // never opened is dropped at once.
    await sql.end({ timeout: connected ? 5 : 0 });
  }
}

/**
 * Records the baseline as applied on a database of the original, after checking that it is one we can take
 * over. Returns true if it did so. Runs under the migration lock.
 */
async function adoptOriginalIfNeeded(sql: postgres.Sql, log: (msg: string) => void): Promise<boolean> {
  const journal = `${MIGRATIONS_SCHEMA}.${MIGRATIONS_TABLE}`;
  const [state] = await sql<{ alembic: boolean; journal: boolean }[]>`
    select to_regclass('public.alembic_version') is not null as alembic,
           to_regclass(${journal}) is not null as journal`;
  if (state?.journal && (await countJournal(sql)) > 0) return false; // ours already

  const present = await sql<{ name: string }[]>`
    select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind in ('r', 'p') and c.relname = any(${sql.array([...ORIGINAL_TABLES])})`;
  const presentNames = new Set(present.map((row) => row.name));

  if (!state?.alembic) {
    if (presentNames.size === 0) return false; // an empty database: the baseline will create everything
    throw new AdoptionRefusedError(
      `The database already has Braumchat tables (${[...presentNames].sort().join(", ")}) but no record of ` +
        `their migrations (neither ${journal} rows nor public.alembic_version). Refusing to guess its state: ` +
        "migrate a database of the original service with its own migrations to its last revision first, or " +
        "start from an empty database.",
    );
  }

  const versions = (await sql<{ v: string }[]>`select version_num as v from public.alembic_version`).map(
    (row) => row.v,
  );
  if (versions.length !== 1 || versions[0] !== ORIGINAL_HEAD_REVISION) {
    const found = versions.length === 0 ? "no revision" : `revision ${versions.join(", ")}`;
    throw new AdoptionRefusedError(
      `This is a database of the original BraumChat service at ${found}; it can only be adopted at the ` +
        `original's last revision ${ORIGINAL_HEAD_REVISION}. Upgrade it with the original service first ` +
        "(`alembic upgrade head` in the original's deployment), then run this migration again.",
    );
  }
  const missing = ORIGINAL_TABLES.filter((name) => !presentNames.has(name));
  if (missing.length > 0) {
    throw new AdoptionRefusedError(
      `public.alembic_version says ${ORIGINAL_HEAD_REVISION}, but tables of the original are missing: ` +
        `${missing.join(", ")}. This does not look like a complete database of the original; not adopting it.`,
    );
  }

  // Exactly what drizzle's migrator computes (sha256 of the file, created_at = the journal's `when`), so
  // that it treats the baseline as applied and the journal looks as if it had run it.
  const baseline = readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER })[0];
  if (!baseline) throw new Error(`No migrations found in ${MIGRATIONS_FOLDER}`);
  await sql.begin(async (tx) => {
    // The same DDL as drizzle's migrator, which runs it again (IF NOT EXISTS) right after.
    await tx`create schema if not exists ${tx(MIGRATIONS_SCHEMA)}`;
    await tx`create table if not exists ${tx(MIGRATIONS_SCHEMA)}.${tx(MIGRATIONS_TABLE)} (
      id SERIAL PRIMARY KEY,
      hash text NOT NULL,
      created_at bigint
    )`;
    await tx`insert into ${tx(MIGRATIONS_SCHEMA)}.${tx(MIGRATIONS_TABLE)} ("hash", "created_at")
      values (${baseline.hash}, ${baseline.folderMillis})`;
  });
  log(
    `adopted a database of the original service (Alembic ${ORIGINAL_HEAD_REVISION}): baseline recorded as applied`,
  );
  return true;
}

async function countJournal(sql: postgres.Sql): Promise<number> {
  const journal = `${MIGRATIONS_SCHEMA}.${MIGRATIONS_TABLE}`;
  const [exists] = await sql<{ ok: boolean }[]>`select to_regclass(${journal}) is not null as ok`;
  if (!exists?.ok) return 0;
  const [row] = await sql<
    { n: number }[]
  >`select count(*)::int as n from ${sql(MIGRATIONS_SCHEMA)}.${sql(MIGRATIONS_TABLE)}`;
  return row?.n ?? 0;
}

/** `host:port` (or the socket directory) of a connection URL, for messages; never includes credentials. */
export function describeTarget(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    const socketHost = url.searchParams.get("host");
    if (socketHost) return socketHost;
    return `${url.hostname || "localhost"}:${url.port || "5432"}`;
  } catch {
    return "(unparsable DATABASE_URL)";
  }
}

/** The URL with its password masked, for logs. */
export function redactUrl(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    if (url.password) url.password = "***";
    return url.toString();
  } catch {
    return "(unparsable DATABASE_URL)";
  }
}

const CONNECTION_ERROR_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
]);

/**
 * The first query, which opens the connection, with a hard deadline: when connecting times out while the
 * query waits in postgres.js's queue, postgres.js reconnects again and again instead of failing the query
 * (seen with a host that drops packets), so connect_timeout alone does not stop a hang.
 */
async function firstQuery(sql: postgres.Sql, target: string): Promise<{ version: string }[]> {
  const query = sql<{ version: string }[]>`select version() as version`;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error("connect timeout"), { code: "CONNECT_TIMEOUT" })),
      CONNECT_TIMEOUT_SECONDS * 1000 + 500,
    );
  });
  try {
    return await Promise.race([query, deadline]);
  } catch (error) {
    query.catch(() => {}); // rejected by sql.end() later; already reported
    throw toConnectionError(error, target);
  } finally {
    clearTimeout(timer);
  }
}

/** Turns the failure of the first query into an error naming host:port when the server was not reached. */
function toConnectionError(error: unknown, target: string): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && CONNECTION_ERROR_CODES.has(code)) {
    const reason = code === "CONNECT_TIMEOUT" ? `no answer within ${CONNECT_TIMEOUT_SECONDS} s` : code;
    return new DatabaseUnreachableError(`Cannot reach PostgreSQL at ${target} (${reason})`, { cause: error });
  }
  return error;
}

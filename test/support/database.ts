/**
 * Database provisioning of the test rig: every test file gets databases of its own from here.
 *
 * With a PostgreSQL server (DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres) each database is
 * a clone of a template that has the migrations applied. The template is built once per set of migration
 * files (its name carries a hash of ./migrations) under an advisory lock, so parallel vitest workers build it
 * once; cloning a small database takes tens of milliseconds where migrating one takes far longer.
 *
 * Without a server (local machines only; in CI that is an error) each database is an in-memory PGlite
 * (PostgreSQL 18 in WASM) served on a free local port by pglite-socket, so the code under test talks to it
 * over the wire like to a real server. That costs seconds and a few hundred MB per database: install
 * PostgreSQL for a fast suite.
 */
import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import postgres from "postgres";
import { describeTarget, MIGRATIONS_FOLDER, migrateDatabase, redactUrl } from "../../scripts/lib/migrate";

export interface TestDatabase {
  /** Connection URL of this database (no password unless DATABASE_URL has one). */
  url: string;
  kind: "postgres" | "pglite";
  /** Drops the database (PostgreSQL, terminating its sessions) or stops the PGlite server. Idempotent. */
  drop(): Promise<void>;
}

const DEFAULT_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres";
const PROBE_TIMEOUT_SECONDS = 3;
/** Test databases are named `braumchat_test_<random>`; a leftover one can be dropped safely. */
export const TEST_DATABASE_PREFIX = "braumchat_test_";
/** Templates are named `braumchat_tpl_<hash of ./migrations>`. */
export const TEMPLATE_PREFIX = "braumchat_tpl_";
/** pg_advisory_lock key guarding template builds: "BraumTpl" in ASCII. */
const TEMPLATE_LOCK_KEY = "4788413621318921324";
/** SQLSTATE object_in_use: "source database ... is being accessed by other users" and the like. */
const OBJECT_IN_USE = "55006";

function adminUrl(): string {
  return process.env.DATABASE_URL || DEFAULT_ADMIN_URL;
}

function databaseUrl(name: string): string {
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

function adminClient(options: postgres.Options<Record<string, postgres.PostgresType>> = {}) {
  return postgres(adminUrl(), { max: 1, connect_timeout: 10, onnotice: () => {}, ...options });
}

// ---------------------------------------------------------------------------------------------------------
// Which server: probed once per process
// ---------------------------------------------------------------------------------------------------------

type Probe = { ok: true; version: string } | { ok: false; reason: string };

let probePromise: Promise<Probe> | undefined;

function probe(): Promise<Probe> {
  probePromise ??= (async () => {
    const sql = adminClient({ connect_timeout: PROBE_TIMEOUT_SECONDS });
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const answer = sql<{ version: string }[]>`select current_setting('server_version') as version`;
      answer.catch(() => {}); // when the timeout wins, sql.end() rejects it later; nobody waits for that
      // connect_timeout covers connect and startup; this also covers a hanging name lookup.
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(Object.assign(new Error("timeout"), { code: "CONNECT_TIMEOUT" })),
          (PROBE_TIMEOUT_SECONDS + 0.5) * 1000,
        );
      });
      const [row] = await Promise.race([answer, timeout]);
      return { ok: true, version: row?.version ?? "?" };
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (error instanceof postgres.PostgresError && !code?.startsWith("08") && code !== "57P03") {
        // The server answered but refused us (auth, missing database...): that is a setup error, not an
        // absent server, so do not hide it behind the PGlite fallback.
        throw new Error(
          `PostgreSQL at ${describeTarget(adminUrl())} answered but refused the test rig: ${(error as Error).message}. ` +
            "Set DATABASE_URL to a role that may CREATE DATABASE (e.g. postgres://postgres@127.0.0.1:5432/postgres).",
          { cause: error },
        );
      }
      return {
        ok: false,
        reason:
          code === "CONNECT_TIMEOUT"
            ? `no answer within ${PROBE_TIMEOUT_SECONDS} s`
            : (code ?? String(error)),
      };
    } finally {
      clearTimeout(timer);
      sql.end({ timeout: 1 }).catch(() => {});
    }
  })();
  return probePromise;
}

function requiredInCiMessage(reason: string): string {
  return (
    `PostgreSQL is required in CI (CI=true), but none answered at ${describeTarget(adminUrl())} (${reason}). ` +
    "Provide one: install and start it in the job (e.g. `apt-get install -y postgresql` and `pg_ctlcluster ... start`, " +
    "or a `postgres` service container) and set DATABASE_URL to a role that may CREATE DATABASE, e.g. " +
    "postgres://postgres:postgres@127.0.0.1:5432/postgres. The in-memory PGlite fallback is for local runs only."
  );
}

let announced = false;

function announce(line: string): void {
  if (announced) return;
  announced = true;
  console.info(`test databases: ${line}`);
}

/** One line saying what createTestDatabase() will use, for the global setup banner. */
export async function describePostgres(): Promise<string> {
  let result: Probe;
  try {
    result = await probe();
  } catch (error) {
    return `PostgreSQL unusable: ${(error as Error).message}`;
  }
  const target = describeTarget(adminUrl());
  if (result.ok) {
    const source = process.env.DATABASE_URL ? "DATABASE_URL" : "default URL";
    return `PostgreSQL ${result.version} at ${target} (${source}); test databases are clones of ${templateName()}`;
  }
  if (process.env.CI === "true")
    return `no PostgreSQL at ${target} (${result.reason}): required in CI, tests will fail`;
  return `no PostgreSQL at ${target} (${result.reason}); each test database is an in-memory PGlite (PostgreSQL 18)`;
}

// ---------------------------------------------------------------------------------------------------------
// createTestDatabase
// ---------------------------------------------------------------------------------------------------------

/**
 * A new, empty-of-data database of its own: with the migrations applied (default), or with nothing in it at
 * all (`migrate: false`, e.g. to load the original service's dump). Call drop() when done.
 */
export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const migrate = options.migrate ?? true;
  const result = await probe();
  if (result.ok) {
    announce(`PostgreSQL ${result.version} at ${describeTarget(adminUrl())}`);
    return createPostgresDatabase(migrate);
  }
  if (process.env.CI === "true") throw new Error(requiredInCiMessage(result.reason));
  announce(
    `no PostgreSQL at ${describeTarget(adminUrl())} (${result.reason}); using in-memory PGlite (slow: install PostgreSQL or set DATABASE_URL)`,
  );
  return createPgliteDatabase(migrate);
}

async function createPostgresDatabase(migrate: boolean): Promise<TestDatabase> {
  const name = `${TEST_DATABASE_PREFIX}${randomBytes(6).toString("hex")}`;
  const template = migrate ? await ensureTemplate() : undefined;
  const sql = adminClient();
  try {
    const ddl = template
      ? `create database ${quoteIdent(name)} template ${quoteIdent(template)}`
      : `create database ${quoteIdent(name)}`;
    await retryWhileInUse(() => sql.unsafe(ddl));
  } finally {
    await sql.end({ timeout: 5 });
  }
  let dropped = false;
  return {
    url: databaseUrl(name),
    kind: "postgres",
    async drop() {
      if (dropped) return;
      dropped = true;
      const admin = adminClient();
      try {
        await admin.unsafe(`drop database if exists ${quoteIdent(name)} with (force)`);
      } finally {
        await admin.end({ timeout: 5 });
      }
    },
  };
}

/** Name of the template for the current ./migrations: a short hash of every file in it. */
function templateName(): string {
  const hash = createHash("sha256");
  const walk = (dir: string): string[] =>
    readdirSync(dir)
      .sort()
      .flatMap((entry) => {
        const path = join(dir, entry);
        return statSync(path).isDirectory() ? walk(path) : [path];
      });
  for (const file of walk(MIGRATIONS_FOLDER)) {
    hash.update(relative(MIGRATIONS_FOLDER, file)).update("\0").update(readFileSync(file)).update("\0");
  }
  return `${TEMPLATE_PREFIX}${hash.digest("hex").slice(0, 12)}`;
}

let templatePromise: Promise<string> | undefined;

/**
 * Makes sure the migrated template exists and returns its name. Built under an advisory lock into a scratch
 * database that is renamed when complete, so no one ever clones a half-built template (even after a crash).
 * Nothing may stay connected to the template: CREATE DATABASE ... TEMPLATE refuses while anyone is.
 */
function ensureTemplate(): Promise<string> {
  templatePromise ??= (async () => {
    const template = templateName();
    const sql = adminClient();
    try {
      await sql`select pg_advisory_lock(${TEMPLATE_LOCK_KEY}::bigint)`;
      const [exists] = await sql`select 1 from pg_database where datname = ${template}`;
      if (!exists) {
        const scratch = `${template}_build`;
        await sql.unsafe(`drop database if exists ${quoteIdent(scratch)} with (force)`);
        await sql.unsafe(`create database ${quoteIdent(scratch)}`);
        await migrateDatabase(databaseUrl(scratch));
        await retryWhileInUse(() =>
          sql.unsafe(`alter database ${quoteIdent(scratch)} rename to ${quoteIdent(template)}`),
        );
      }
      return template;
    } catch (error) {
      templatePromise = undefined; // let a later call try again
      throw error;
    } finally {
      // Ending the session releases the advisory lock.
      await sql.end({ timeout: 5 });
    }
  })();
  return templatePromise;
}

/** Runs `fn` again while PostgreSQL says an object is in use (a session still on the template), up to ~10 s. */
async function retryWhileInUse<T>(fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (let delay = 20; ; delay = Math.min(delay * 2, 500)) {
    try {
      return await fn();
    } catch (error) {
      if ((error as { code?: string }).code !== OBJECT_IN_USE || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// PGlite fallback
// ---------------------------------------------------------------------------------------------------------

const pgliteDataDirs = new Map<boolean, Promise<Blob>>();

/**
 * A PGlite data directory, made once per process (without and with the migrations applied): loading one is
 * faster than PGlite's own initialisation of a new database (about 1 s against 3 s here), and skips migrating.
 */
function pgliteDataDir(migrated: boolean): Promise<Blob> {
  let dataDir = pgliteDataDirs.get(migrated);
  if (!dataDir) {
    dataDir = (async () => {
      const db = migrated
        ? await PGlite.create({ loadDataDir: await pgliteDataDir(false) })
        : await PGlite.create();
      try {
        if (migrated) {
          const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 20 });
          await server.start();
          try {
            await migrateDatabase(`postgres://postgres@${server.getServerConn()}/postgres`);
          } finally {
            await server.stop();
          }
        }
        return await db.dumpDataDir("none");
      } finally {
        await db.close();
      }
    })();
    dataDir.catch(() => pgliteDataDirs.delete(migrated)); // let a later call try again
    pgliteDataDirs.set(migrated, dataDir);
  }
  return dataDir;
}

async function createPgliteDatabase(migrate: boolean): Promise<TestDatabase> {
  const db = await PGlite.create({ loadDataDir: await pgliteDataDir(migrate) });
  const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 20 });
  await server.start();
  let dropped = false;
  return {
    url: `postgres://postgres@${server.getServerConn()}/postgres`,
    kind: "pglite",
    async drop() {
      if (dropped) return;
      dropped = true;
      await server.stop();
      await db.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Loading SQL files
// ---------------------------------------------------------------------------------------------------------

/**
 * Runs a SQL script (e.g. a pg_dump file) against a database. psql meta-commands, lines starting with a
 * backslash (pg_dump writes `\restrict`/`\unrestrict`), are dropped; the rest goes as one simple-protocol
 * query, so it runs as an implicit transaction and stops at the first error.
 */
export async function loadSqlFile(url: string, path: string): Promise<void> {
  const script = readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => !line.startsWith("\\"))
    .join("\n");
  const sql = postgres(url, { max: 1, connect_timeout: 10, onnotice: () => {} });
  try {
    await sql.unsafe(script).simple();
    // pg_dump files change session settings (search_path = ''). A PGlite server has one session for all
    // its connections, so they would stick for everyone; on PostgreSQL this is a no-op before we disconnect.
    await sql`reset all`;
  } catch (error) {
    throw new Error(`Loading ${path} into ${redactUrl(url)} failed: ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Path of a dump of the original service's database (test/fixtures/README.md describes them). */
export function originalFixture(file: "original-schema.sql" | "original-data.sql"): string {
  return fileURLToPath(new URL(`../fixtures/${file}`, import.meta.url));
}

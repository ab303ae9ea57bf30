/**
 * `npm run dev` (scripts/dev.ts) as a new user meets it: no DATABASE_URL, no store, no JWT_SECRET.
 * It must serve /health and /readyz, keep data across a restart, release its ports when stopped
 * with Ctrl+C, and pass settings to the Worker unchanged through its generated env file.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatEnvLine, parseDevVars } from "../../scripts/dev";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 20_000;

/** A port nobody listens on right now. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A process started in its own group, with its output kept for failure messages. */
interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function startGroup(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Started {
  const child = spawn(command, args, { ...options, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** Sends `signal` to the whole group and waits for its leader; SIGKILL if it does not go in time. */
async function stopGroup(
  started: Started | undefined,
  signal: NodeJS.Signals = "SIGINT",
): Promise<number | null> {
  if (!started?.child.pid || started.child.exitCode !== null || started.child.signalCode !== null) {
    return started?.child.exitCode ?? null;
  }
  const pid = started.child.pid;
  const kill = (s: NodeJS.Signals) => {
    try {
      process.kill(-pid, s);
    } catch {
      // already gone
    }
  };
  kill(signal);
  const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), STOP_TIMEOUT_MS));
  const result = await Promise.race([started.exited, timeout]);
  if (result === "timeout") {
    kill("SIGKILL");
    throw new Error(`process group ${pid} did not stop within ${STOP_TIMEOUT_MS} ms:\n${started.output()}`);
  }
  return result;
}

/** Polls `url` until it answers 200 (returning the body), the process exits, or the time is up. */
async function waitFor200(url: string, started: Started, timeoutMs = START_TIMEOUT_MS): Promise<unknown> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < deadline) {
    if (started.child.exitCode !== null) {
      throw new Error(
        `exited with code ${started.child.exitCode} before ${url} answered:\n${started.output()}`,
      );
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
      const body = await response.text();
      if (response.status === 200) return JSON.parse(body);
      last = `${response.status} ${body}`;
    } catch (error) {
      last = String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (last: ${last}):\n${started.output()}`);
}

describe("npm run dev with nothing configured", () => {
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  let apiPort: number;
  let pgPort: number;
  let current: Started | undefined;

  const base = () => `http://127.0.0.1:${apiPort}`;
  const secretFile = () => path.join(dataDir, "dev-jwt-secret");
  const startDev = () => {
    // tsx itself rather than npx, whose own exit on SIGINT would hide the script's exit code.
    current = startGroup(path.join(ROOT, "node_modules", ".bin", "tsx"), ["scripts/dev.ts"], {
      cwd: ROOT,
      env,
    });
    return current;
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), "braumchat-dev-"));
    apiPort = await freePort();
    pgPort = await freePort();
    env = { ...process.env };
    // A new user's machine: none of the settings, whatever the developer running the tests has.
    for (const key of [
      "DATABASE_URL",
      "JWT_SECRET",
      "UPSTASH_REDIS_REST_URL",
      "UPSTASH_REDIS_REST_TOKEN",
      "ENV",
    ]) {
      delete env[key];
    }
    Object.assign(env, {
      DATA_DIR: dataDir,
      PORT: String(apiPort),
      EMBEDDED_PG_PORT: String(pgPort),
      // Not the developer's .dev.vars.
      DEV_VARS_FILE: path.join(dataDir, "absent.dev.vars"),
    });
  });

  afterAll(async () => {
    await stopGroup(current).catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("serves the API, keeps data across a restart and releases its ports on Ctrl+C", async () => {
    const email = `dev-${Date.now()}@example.com`;

    // First start: creates the database and the secret.
    const first = startDev();
    expect(await waitFor200(`${base()}/health`, first)).toEqual({ status: "ok" });
    expect(await waitFor200(`${base()}/readyz`, first)).toEqual({ status: "ok", db: "ok", redis: "ok" });
    expect(first.output()).toContain("embedded PostgreSQL");
    expect(first.output()).toMatch(/generated one and saved it in .*dev-jwt-secret/);

    const secret = readFileSync(secretFile(), "utf8").trim();
    expect(Buffer.from(secret, "base64url")).toHaveLength(48);
    expect(statSync(secretFile()).mode & 0o777).toBe(0o600);
    expect(first.output()).not.toContain(secret);

    const sql = postgres(`postgres://postgres@127.0.0.1:${pgPort}/postgres`, { max: 1, onnotice: () => {} });
    try {
      await sql`insert into users (email, is_active, is_superuser) values (${email}, true, false)`;
    } finally {
      await sql.end();
    }

    // Like Ctrl+C in a terminal: the signal reaches tsx and the script; 128 + SIGINT once all is stopped.
    expect(await stopGroup(first, "SIGINT")).toBe(130);
    expect(await portIsFree(apiPort)).toBe(true);
    expect(await portIsFree(pgPort)).toBe(true);

    // Second start: same database, same secret, nothing generated again.
    const second = startDev();
    expect(await waitFor200(`${base()}/health`, second)).toEqual({ status: "ok" });
    const reader = postgres(`postgres://postgres@127.0.0.1:${pgPort}/postgres`, {
      max: 1,
      onnotice: () => {},
    });
    try {
      const rows = await reader<{ email: string; is_active: boolean }[]>`
        select email, is_active from users where email = ${email}`;
      expect(rows).toEqual([{ email, is_active: true }]);
    } finally {
      await reader.end();
    }
    expect(await waitFor200(`${base()}/readyz`, second)).toEqual({ status: "ok", db: "ok", redis: "ok" });
    expect(second.output()).not.toContain("generated one");
    expect(readFileSync(secretFile(), "utf8").trim()).toBe(secret);

    expect(await stopGroup(second, "SIGINT")).toBe(130);
    expect(await portIsFree(apiPort)).toBe(true);
    expect(await portIsFree(pgPort)).toBe(true);
  }, 180_000);

  it("says which port is taken and how to change it", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(apiPort, "127.0.0.1", resolve));
    try {
      const run = startDev();
      const code = await run.exited;
      expect(code).toBe(1);
      expect(run.output()).toContain(`[dev] error: port ${apiPort} on 127.0.0.1 is already in use`);
      expect(run.output()).toContain("set PORT to another port");
      expect(run.output()).not.toMatch(/\n\s+at /); // no stack trace
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
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

/**
 * Running `npm run dev` (scripts/dev.ts) from tests as a user would: in its own process group, with a
 * data folder, ports and settings of the test's choosing, stopped with the signal a terminal sends.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 45_000;

/** The dev server's settings a test must never inherit from the developer running it. */
export const WORKER_SETTINGS_TO_CLEAR = [
  "DATABASE_URL",
  "JWT_SECRET",
  "UPSTASH_REDIS_REST_URL",
  "UPSTASH_REDIS_REST_TOKEN",
  "ENV",
  "CORS_ORIGINS",
  "RATE_LIMITS_ENABLED",
  "LOG_LEVEL",
];

/** A port nobody listens on right now. */
export { freePort } from "../support/store";

export async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/**
 * A data folder like a project's .data: readable by other users, because as root the embedded
 * PostgreSQL runs as the user postgres, who must reach it (mkdtemp makes it private).
 */
export function makeDataDir(label: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `braumchat-${label}-`));
  chmodSync(dir, 0o755);
  return dir;
}

/** A process started in its own group, with its output kept for failure messages. */
export interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

export function startGroup(
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

/** `npm run dev` as tsx itself runs it (npx's own exit on SIGINT would hide the script's exit code). */
export function startDev(env: NodeJS.ProcessEnv): Started {
  return startGroup(path.join(ROOT, "node_modules", ".bin", "tsx"), ["scripts/dev.ts"], { cwd: ROOT, env });
}

/** Sends `signal` to the whole group and waits for its leader; SIGKILL if it does not go in time. */
export async function stopGroup(
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
export async function waitFor200(
  url: string,
  started: Started,
  timeoutMs = START_TIMEOUT_MS,
): Promise<unknown> {
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

/** The URL of the dev server's embedded database, with the password it keeps in the data folder. */
export function embeddedDatabaseUrl(dataDir: string, pgPort: number): string {
  const password = readFileSync(path.join(dataDir, "postgres-password"), "utf8").trim();
  return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${pgPort}/postgres`;
}

/** The pid in the embedded database's postmaster.pid, or undefined when there is none. */
export function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path.join(dataDir, "postgres", "postmaster.pid"), "utf8"), 10);
    return Number.isInteger(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Processes whose command line names `needle` (e.g. servers still running on a data folder). */
export function processesMentioning(needle: string): { pid: number; command: string }[] {
  return execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" })
    .split("\n")
    .map((line) => /^\s*(\d+)\s+(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null && (m[2] as string).includes(needle))
    .map((m) => ({ pid: Number(m[1]), command: m[2] as string }))
    .filter((p) => p.pid !== process.pid && !p.command.startsWith("ps "));
}

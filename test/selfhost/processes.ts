/**
 * The processes the self-hosting smoke suite starts: each one's output is kept (the tail) for the
 * failure report, and each is stopped by its own id (nginx by its own process group, which holds
 * its workers), SIGTERM first and SIGKILL after a grace period, and killed if the test process
 * exits before stopping it. A group is only ever signalled while its leader runs, so its id is
 * still ours (nginx's master stops its workers before it exits).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";

const KEEP_OUTPUT_CHARS = 64 * 1024;

export interface ProcessOptions {
  cwd?: string;
  env: Record<string, string>;
  /** Start in a process group of its own and signal the whole group (nginx: master and workers). */
  group?: boolean;
}

export class ManagedProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private output = "";
  private readonly killOnExit = () => this.signal("SIGKILL");

  constructor(
    readonly name: string,
    command: string,
    args: string[],
    private readonly options: ProcessOptions,
  ) {
    this.child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      detached: options.group ?? false,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString("utf8")).slice(-KEEP_OUTPUT_CHARS);
    };
    this.child.stdout?.on("data", keep);
    this.child.stderr?.on("data", keep);
    this.exited = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => resolve({ code, signal }));
      this.child.once("error", (error) => {
        keep(Buffer.from(`\n[spawn error] ${error.message}\n`));
        resolve({ code: -1, signal: null });
      });
    });
    process.once("exit", this.killOnExit);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** What the process wrote to stdout and stderr (the last 64 KiB). */
  get log(): string {
    return this.output;
  }

  private signal(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined || !this.running) return;
    try {
      if (this.options.group) process.kill(-pid, signal);
      else this.child.kill(signal);
    } catch {
      // already gone
    }
  }

  /**
   * SIGTERM, then SIGKILL after `graceMs` (as `docker stop` does); resolves when the process has
   * exited, with the signal that ended it.
   */
  async stop(graceMs = 5000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    process.off("exit", this.killOnExit);
    if (this.child.pid !== undefined && this.running) {
      this.signal("SIGTERM");
      const timer = setTimeout(() => this.signal("SIGKILL"), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    return this.exited;
  }
}

/** Polls `check` until it returns a value (not undefined), or throws with `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  options: { timeoutMs?: number; intervalMs?: number; process?: ManagedProcess } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (options.process && !options.process.running) {
      throw new Error(`${options.process.name} exited while waiting for ${what}:\n${options.process.log}`);
    }
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
  const reason = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
  const log = options.process ? `\n${options.process.name}'s output:\n${options.process.log}` : "";
  throw new Error(`timed out waiting for ${what}${reason}${log}`);
}

/** Resident memory (VmRSS) of a running process, in KiB (Linux /proc). */
export function residentKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]);
}

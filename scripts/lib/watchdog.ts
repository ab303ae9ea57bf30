/**
 * Clean-up that happens even when this process is killed with SIGKILL.
 *
 * A small shell process waits for the end of a pipe from this process. The kernel closes that pipe
 * however this process ends, so the shell then runs its command: stop the database server, stop
 * wrangler's process group. Without it, `kill -9` of the dev server (or a crash of Node) leaves
 * PostgreSQL and workerd running and holding their ports and data.
 *
 * The shell runs in a session of its own (no terminal signals reach it) and as this process's user.
 */
import { spawn } from "node:child_process";

export interface Watchdog {
  /** The clean-up is no longer wanted (it was done in order): ends the watchdog without running it. */
  disarm(): void;
}

/** Runs `command` (a shell command; `$1`, `$2`... are `args`) once this process is gone. */
export function runAfterExit(command: string, args: readonly string[]): Watchdog {
  const child = spawn("/bin/sh", ["-c", `read _ignored; ${command}`, "watchdog", ...args], {
    stdio: ["pipe", "ignore", "ignore"],
    detached: true,
  });
  // Neither the child nor its pipe may keep this process alive.
  child.unref();
  const pipe = child.stdin as (NodeJS.WritableStream & { unref?: () => void }) | null;
  pipe?.unref?.();
  child.on("error", () => {}); // no /bin/sh: nothing to guard with; the ordered shutdown still works
  let disarmed = false;
  return {
    disarm() {
      if (disarmed) return;
      disarmed = true;
      // Kill the shell before closing the pipe: end of input is what makes it run the command.
      if (child.pid !== undefined && child.exitCode === null) {
        try {
          process.kill(child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      child.stdin?.destroy();
    },
  };
}

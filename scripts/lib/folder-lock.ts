/**
 * A lock file that keeps two processes off one data folder: it holds the owner's pid. A lock left
 * by a process that no longer runs (killed with SIGKILL, machine crash) is taken over.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";

/** Another live process holds the lock. */
export class FolderInUseError extends Error {
  override name = "FolderInUseError";
  constructor(
    message: string,
    readonly owner: number,
  ) {
    super(message);
  }
}

/**
 * Takes the lock at `lockPath` for `folder` (named in the message); returns its release function.
 * `lockedBy` says what the owner probably is, for the message ("another npm run dev").
 */
export function lockFolder(lockPath: string, folder: string, lockedBy: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, "wx", 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        rmSync(lockPath, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = Number.parseInt(safeRead(lockPath), 10);
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isRunning(owner)) {
        throw new FolderInUseError(
          `${folder} is already in use by process ${owner} (${lockedBy}?); stop it, ` +
            `or delete ${lockPath} if that process is not one`,
          owner,
        );
      }
      rmSync(lockPath, { force: true });
    }
  }
  throw new Error(`could not lock ${folder} (${lockPath})`);
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

/**
 * True while a process with this pid runs (also when it belongs to another user). A zombie, a process
 * that has ended but not yet been reaped by its parent (after a SIGKILL its parent may be gone too, and
 * init reaps when it gets to it), does not run: it holds no lock and no port.
 */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  return !isZombie(pid);
}

function isZombie(pid: number): boolean {
  // /proc/<pid>/stat: "pid (command) state ...", where the command may itself contain ") ".
  const stat = safeRead(`/proc/${pid}/stat`);
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
}

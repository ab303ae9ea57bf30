/**
 * Stopping a helper process the rig started (a throwaway redis-server, a bridge process):
 * SIGTERM, then SIGKILL after 3 s, and SIGKILL too if the test process exits first, so no
 * helper outlives the run.
 */
import type { ChildProcess } from "node:child_process";

export function stopperFor(child: ChildProcess): () => Promise<void> {
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  return async () => {
    process.off("exit", killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(timer);
    }
  };
}

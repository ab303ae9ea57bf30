/**
 * Reading processes from Linux /proc: resident memory and CPU time of a pid (the benchmarks know
 * their processes' ids, so another run's workerd on the machine is never measured by mistake),
 * and the machine's busy time.
 */
import { readFileSync } from "node:fs";

/** utime + stime of a process (all its threads), in clock ticks, or null when it is gone. */
function cpuTicks(pid: number): number | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 2 (comm) is in parentheses and may contain spaces; fields 3 on follow its ")".
    const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
    // rest[0] is field 3 (state); utime is field 14, stime 15.
    return Number(rest[11]) + Number(rest[12]);
  } catch {
    return null;
  }
}

/** VmRSS of a process, in KiB (the same reading as the selfhost suite's memory test). */
export { residentKiB as rssKiB } from "../../test/selfhost/processes";

/** User plus system CPU seconds a process has used so far. */
export function cpuSeconds(pid: number): number {
  const ticks = cpuTicks(pid);
  return ticks === null ? Number.NaN : ticks / 100; // USER_HZ is 100 on Linux
}

/** Busy CPU seconds of the whole machine so far (all cores; /proc/stat minus idle and iowait). */
export function machineBusySeconds(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.slice(0, 8).reduce((sum, n) => sum + n, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return (total - idle) / 100;
}

/**
 * The user and system CPU seconds of a shell's children, from bash's `times` output (two lines:
 * the shell's own, then its children's, each "0m1.234s 0m0.056s").
 */
export function parseChildTimes(timesOutput: string): number {
  const lines = timesOutput.trim().split("\n");
  const children = lines.at(-1) ?? "";
  const seconds = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  if (seconds.length !== 2) throw new Error(`unexpected output of bash's times: ${timesOutput}`);
  return (seconds[0] as number) + (seconds[1] as number);
}

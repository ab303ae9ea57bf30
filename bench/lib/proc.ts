/**
 * Reading the workerd process that Miniflare spawned for this benchmark (Linux /proc): its pid,
 * resident memory and CPU time. Only descendants of this process are considered, so a workerd of
 * another run on the machine is never measured by mistake.
 */
import { readdirSync, readFileSync } from "node:fs";

function stat(pid: number): { comm: string; ppid: number; cpuTicks: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm is in parentheses and may contain spaces; the fields after it are space-separated.
    const open = text.indexOf("(");
    const close = text.lastIndexOf(")");
    const rest = text
      .slice(close + 2)
      .split(" ")
      .map((field) => field.trim());
    // rest[0] is field 3 (state); ppid is field 4, utime 14, stime 15.
    return {
      comm: text.slice(open + 1, close),
      ppid: Number(rest[1]),
      cpuTicks: Number(rest[11]) + Number(rest[12]),
    };
  } catch {
    return null;
  }
}

/** The pids of `workerd` processes descending from this Node process. */
export function workerdPids(): number[] {
  const parents = new Map<number, number>();
  const workerd: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const info = stat(pid);
    if (!info) continue;
    parents.set(pid, info.ppid);
    if (info.comm === "workerd") workerd.push(pid);
  }
  return workerd.filter((pid) => {
    for (let p: number | undefined = pid, hops = 0; p && p > 1 && hops < 10; hops++) {
      if (p === process.pid) return true;
      p = parents.get(p);
    }
    return false;
  });
}

/** VmRSS of a process, in KiB (the same reading as the selfhost suite's memory test). */
export { residentKiB as rssKiB } from "../../test/selfhost/processes";

/** User plus system CPU seconds a process has used so far. */
export function cpuSeconds(pid: number): number {
  const info = stat(pid);
  return info ? info.cpuTicks / 100 : Number.NaN; // USER_HZ is 100 on Linux
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

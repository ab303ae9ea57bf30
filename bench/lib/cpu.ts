/**
 * CPU accounting for a benchmark step: how many CPU seconds each process of the stack (and the
 * load generator) spent while it ran, read from /proc (utime + stime, all threads).
 */
import type postgres from "postgres";
import { cpuSeconds, machineBusySeconds } from "./proc";

export interface CpuSource {
  name: string;
  /** CPU seconds used so far. */
  seconds(): number | Promise<number>;
}

export function processCpu(name: string, pid: number): CpuSource {
  return { name, seconds: () => cpuSeconds(pid) };
}

/** This Node process (the benchmark itself: its clients, and reading the stack's logs). */
export function selfCpu(name = "bench process"): CpuSource {
  return {
    name,
    seconds: () => {
      const used = process.cpuUsage();
      return (used.user + used.system) / 1e6;
    },
  };
}

/**
 * The PostgreSQL backends serving the stack's database (PgBouncer's server connections). The
 * server is shared with other work on the machine, so only these backends are counted (not the
 * autovacuum workers that visit the database); a backend that starts during the step counts from
 * zero.
 */
export function postgresBackendsCpu(sql: postgres.Sql): CpuSource {
  let baseline: Map<number, number> | undefined;
  const backends = async () => {
    const rows = await sql<{ pid: number }[]>`
      select pid from pg_stat_activity
      where datname = current_database() and backend_type = 'client backend' and pid <> pg_backend_pid()`;
    return new Map(rows.map((r) => [r.pid, cpuSeconds(r.pid)]));
  };
  return {
    name: "postgres",
    async seconds() {
      const now = await backends();
      if (!baseline) {
        baseline = now;
        return 0;
      }
      let sum = 0;
      for (const [pid, cpu] of now) if (Number.isFinite(cpu)) sum += cpu - (baseline.get(pid) ?? 0);
      return sum;
    },
  };
}

export interface CpuReading {
  /** CPU seconds per source over the step. */
  bySource: Record<string, number>;
  /** Busy CPU seconds of the whole machine over the step (everything, other users' work too). */
  machine: number;
  wallSeconds: number;
}

/** Starts measuring; the returned function ends the step and returns what each source used. */
export async function cpuMeter(sources: CpuSource[]): Promise<() => Promise<CpuReading>> {
  const start = await Promise.all(sources.map((s) => s.seconds()));
  const machine0 = machineBusySeconds();
  const t0 = performance.now();
  return async () => {
    const end = await Promise.all(sources.map((s) => s.seconds()));
    const bySource: Record<string, number> = {};
    sources.forEach((s, i) => {
      bySource[s.name] = (end[i] as number) - (start[i] as number);
    });
    return {
      bySource,
      machine: machineBusySeconds() - machine0,
      wallSeconds: (performance.now() - t0) / 1000,
    };
  };
}

/** "workerd 0.82 ms, pgbouncer 0.11 ms, ..." per request. */
export function perRequest(reading: CpuReading, requests: number, extra: Record<string, number> = {}) {
  const all = { ...reading.bySource, ...extra };
  return Object.entries(all)
    .map(([name, seconds]) => `${name} ${((seconds / requests) * 1000).toFixed(3)} ms`)
    .join(", ");
}

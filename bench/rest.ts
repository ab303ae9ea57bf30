/**
 * REST and handshake figures on the self-hosted stack (bench/lib/deployment.ts), 16 concurrent
 * clients on workerd's own port: requests per second, p50 and p99, and the CPU each process spends
 * per request (workerd, PgBouncer, the PostgreSQL backends, the store's bridge, the load
 * generator), beside the targets. Prints figures; asserts nothing.
 *
 *   npm run bench:rest                   (tsx bench/rest.ts)
 *
 * Settings (environment): BENCH_SECONDS (20) per measured run, after 3 s of warm-up;
 * BENCH_CLIENT=wrk|undici (wrk when installed); BENCH_DB_CONNECTIONS=pooled|per-request
 * (pooled, as compose); BENCH_SMOKE=1 for a short run that only checks the benchmark works.
 */
import { loadavg } from "node:os";
import { type Arrangement, arrange, channel, ok } from "./lib/arrange";
import { type CpuSource, cpuMeter, perRequest, postgresBackendsCpu, processCpu, selfCpu } from "./lib/cpu";
import { type Deployment, describeDeployment, startDeployment } from "./lib/deployment";
import { handshakeLoad } from "./lib/handshakes";
import { describeLoad, type LoadRequest, type LoadResult, loadDriver } from "./lib/load";
import { rssKiB } from "./lib/proc";
import { fmt, measure, setting } from "./lib/stats";

const CONCURRENCY = 16;
const SECONDS = setting("BENCH_SECONDS", 20, 2);
const WARM_UP_SECONDS = setting("BENCH_WARM_UP_SECONDS", 3, 1);
const WORKERD_CPU_TARGET_MS = 1;

interface Scenario {
  label: string;
  /** What the figures should reach. */
  target: { perSecond: number; p99Ms?: number };
  /** Before the warm-up: bring the deployment to the steady state the figure is meant for. */
  prepare?(): Promise<void>;
  run(seconds: number): Promise<LoadResult>;
}

function scenarios(d: Deployment, a: Arrangement): Scenario[] {
  const driver = loadDriver();
  const tokens = a.users.slice(0, CONCURRENCY).map((u) => u.token);
  const rest = channel(a, "rest");
  const http = (request: Omit<LoadRequest, "tokens">) => (seconds: number) =>
    driver.run(d.api, { ...request, tokens }, { connections: CONCURRENCY, seconds });
  const socketUrl = `${d.api.replace(/^http/, "ws")}/ws/chat/${a.workspaceId}/${channel(a, "sockets")}`;
  return [
    {
      label: "POST /channels/{id}/messages",
      target: { perSecond: 500, p99Ms: 100 },
      run: http({ method: "POST", path: `/channels/${rest}/messages`, body: '{"content":"bench message"}' }),
    },
    {
      label: "GET /channels/{id}/messages (50)",
      target: { perSecond: 500, p99Ms: 100 },
      // The posts above filled the channel within seconds, long before autovacuum's next ANALYZE
      // (its naptime is a minute): with statistics that still see an empty channel, PostgreSQL
      // reads the whole channel and sorts it instead of walking the index for one page. A running
      // deployment's statistics follow its tables; take them as autovacuum would.
      prepare: async () => {
        await d.stack.sql`analyze messages`;
      },
      run: http({ method: "GET", path: `/channels/${rest}/messages?limit=50` }),
    },
    { label: "GET /auth/me", target: { perSecond: 1000 }, run: http({ method: "GET", path: "/auth/me" }) },
    {
      label: "GET /workspaces",
      target: { perSecond: 1000 },
      run: http({ method: "GET", path: "/workspaces" }),
    },
    {
      label: "socket handshake (open + close)",
      target: { perSecond: 400 },
      run: (seconds) => handshakeLoad({ url: socketUrl, tokens }, { connections: CONCURRENCY, seconds }),
    },
  ];
}

function verdict(s: Scenario, r: LoadResult, workerdMsPerRequest: number): string {
  const misses: string[] = [];
  if (r.perSecond < s.target.perSecond) misses.push(`< ${s.target.perSecond}/s`);
  if (s.target.p99Ms !== undefined && r.p99Ms >= s.target.p99Ms) misses.push(`p99 >= ${s.target.p99Ms} ms`);
  if (workerdMsPerRequest > WORKERD_CPU_TARGET_MS) misses.push(`workerd CPU > ${WORKERD_CPU_TARGET_MS} ms`);
  const target = `target >= ${s.target.perSecond}/s${s.target.p99Ms ? `, p99 < ${s.target.p99Ms} ms` : ""}, workerd <= ${WORKERD_CPU_TARGET_MS} ms CPU`;
  return `${target}: ${misses.length ? `MISSED (${misses.join(", ")})` : "met"}`;
}

const load = () =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(" ");

console.log(`REST benchmark (${new Date().toISOString()}, node ${process.version}), load average ${load()}`);
const deployment = await startDeployment();
let errors = 0;
try {
  console.log(describeDeployment(deployment));
  const arrangement = await arrange(deployment.api, CONCURRENCY, ["rest", "sockets"]);
  // Pages of 50 from the first list request on.
  const owner = arrangement.users[0]?.token as string;
  await measure(60, 8, async (i) => {
    await ok(deployment.api, "POST", `/channels/${channel(arrangement, "rest")}/messages`, {
      token: owner,
      json: { content: `seed ${i}` },
    });
  });
  const sources: CpuSource[] = [
    processCpu("workerd", deployment.pid("api")),
    processCpu("pgbouncer", deployment.pid("pgbouncer")),
    postgresBackendsCpu(deployment.stack.sql),
    processCpu("bridge", deployment.pid("bridge")),
  ];
  const rss0 = rssKiB(deployment.pid("api"));
  console.log(
    `${CONCURRENCY} concurrent clients (${loadDriver().name} for HTTP, a raw WebSocket client in this process for handshakes), ${SECONDS} s per run after ${WARM_UP_SECONDS} s of warm-up; workerd RSS ${fmt(rss0 / 1024)} MiB\n`,
  );
  for (const scenario of scenarios(deployment, arrangement)) {
    await scenario.prepare?.();
    await scenario.run(WARM_UP_SECONDS);
    const stop = await cpuMeter([...sources, selfCpu()]);
    const result = await scenario.run(SECONDS);
    const cpu = await stop();
    errors += result.non2xx + result.socketErrors;
    const workerdMs = ((cpu.bySource.workerd as number) / result.requests) * 1000;
    console.log(`${scenario.label.padEnd(34)} ${describeLoad(result)}`);
    console.log(
      `${"".padEnd(34)} CPU per request: ${perRequest(cpu, result.requests, { [`client (${result.driver})`]: result.clientCpuSeconds })}; machine busy ${fmt((cpu.machine / cpu.wallSeconds) * 50, 0)}% of 2 cores`,
    );
    console.log(`${"".padEnd(34)} ${verdict(scenario, result, workerdMs)}`);
  }
  console.log(
    `\nworkerd RSS ${fmt(rss0 / 1024)} MiB -> ${fmt(rssKiB(deployment.pid("api")) / 1024)} MiB; load average ${load()}`,
  );
} finally {
  await deployment.stop();
}
if (errors > 0) {
  console.error(`FAILED: ${errors} requests got no 2xx answer`);
  process.exit(1);
}

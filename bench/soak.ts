/**
 * Soak: does workerd's memory stay flat under sustained REST traffic? 100,000 mixed requests
 * (GET /auth/me, list and post channel messages, GET /workspaces, GET /readyz) at 16 concurrent
 * on the self-hosted stack's workerd port, with a short socket session (open, ping, send, close)
 * every 2,000 requests. Prints workerd's RSS every 10,000 requests and the growth after warm-up
 * (from the 10,000 mark to the end); fails (exit 1) on any answer outside 2xx, any failed socket
 * session, or growth of 50 MB or more.
 *
 *   npm run bench:soak                                  (pooled connections, as compose runs it)
 *   BENCH_DB_CONNECTIONS=per-request npm run bench:soak (a connection per request, to compare)
 *
 * Settings: BENCH_SOAK_REQUESTS (100000), BENCH_SOAK_CHECKPOINT (10000); BENCH_SMOKE=1 is a short
 * run (3,000 requests, a reading every 500) that only checks the benchmark works.
 */
import { loadavg } from "node:os";
import { Pool } from "undici";
import { type Arrangement, arrange, channel } from "./lib/arrange";
import { describeDeployment, startDeployment } from "./lib/deployment";
import { cpuSeconds, rssKiB } from "./lib/proc";
import { socketSession } from "./lib/socket-session";
import { fmt, SMOKE, setting, sleep } from "./lib/stats";

const TOTAL = setting("BENCH_SOAK_REQUESTS", 100_000, 3000);
const CHECKPOINT = setting("BENCH_SOAK_CHECKPOINT", 10_000, 500);
const SESSION_EVERY = Math.max(1, Math.round(CHECKPOINT / 5));
const CONCURRENCY = 16;
const GROWTH_GOAL_MB = 50;

interface Planned {
  label: string;
  method: "GET" | "POST";
  path: string;
  body?: string;
}

/** The i-th request of the mix: 30% /auth/me, 20% list, 20% post, 20% /workspaces, 10% /readyz. */
function planned(a: Arrangement, i: number): Planned {
  const messages = `/channels/${channel(a, "soak")}/messages`;
  switch (i % 10) {
    case 0:
    case 1:
    case 2:
      return { label: "GET /auth/me", method: "GET", path: "/auth/me" };
    case 3:
    case 4:
      return { label: "GET messages", method: "GET", path: `${messages}?limit=50` };
    case 5:
    case 6:
      return { label: "POST messages", method: "POST", path: messages, body: `{"content":"soak ${i}"}` };
    case 7:
    case 8:
      return { label: "GET /workspaces", method: "GET", path: "/workspaces" };
    default:
      return { label: "GET /readyz", method: "GET", path: "/readyz" };
  }
}

const mb = (kib: number) => kib / 1024;

console.log(
  `soak (${new Date().toISOString()}, node ${process.version}): ${TOTAL} requests, ${CONCURRENCY} concurrent; load average ${loadavg()
    .map((n) => n.toFixed(2))
    .join(" ")}`,
);
const deployment = await startDeployment();
const failures = new Map<string, number>();
const samples: string[] = [];
let sessionsOk = 0;
const sessionFailures: string[] = [];
let growthMB = Number.NaN;
try {
  console.log(describeDeployment(deployment));
  const arrangement = await arrange(deployment.api, CONCURRENCY, ["soak"]);
  const tokens = arrangement.users.map((u) => u.token);
  const socketUrl = `${deployment.api.replace(/^http/, "ws")}/ws/chat/${arrangement.workspaceId}/${channel(arrangement, "soak")}`;
  const pid = deployment.pid("api");
  const pool = new Pool(deployment.api, { connections: CONCURRENCY, pipelining: 1 });
  const sessions: Promise<void>[] = [];
  const readings: { done: number; rssKiB: number }[] = [];
  let issued = 0;
  let done = 0;
  let segmentStart = performance.now();
  let segmentCpu = cpuSeconds(pid);
  const started = performance.now();
  const cpu0 = segmentCpu;
  const rss0 = rssKiB(pid);
  console.log(`workerd RSS before the soak: ${fmt(mb(rss0))} MiB\n`);
  console.log("requests   workerd RSS   req/s (segment)   workerd CPU/request   errors   socket sessions");

  const checkpoint = () => {
    const now = performance.now();
    const cpu = cpuSeconds(pid);
    const rss = rssKiB(pid);
    readings.push({ done, rssKiB: rss });
    const errors = [...failures.values()].reduce((s, n) => s + n, 0);
    console.log(
      `${String(done).padStart(8)}   ${fmt(mb(rss)).padStart(7)} MiB   ${fmt((CHECKPOINT / (now - segmentStart)) * 1000, 0).padStart(15)}   ${fmt(((cpu - segmentCpu) / CHECKPOINT) * 1000, 3).padStart(16)} ms   ${String(errors).padStart(6)}   ${sessionsOk} ok, ${sessionFailures.length} failed`,
    );
    segmentStart = now;
    segmentCpu = cpu;
  };

  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (issued < TOTAL) {
        const i = issued++;
        if (i % SESSION_EVERY === SESSION_EVERY - 1) {
          sessions.push(
            socketSession(socketUrl, tokens[i % tokens.length] as string, `soak socket ${i}`).then(
              (problem) => {
                if (problem) sessionFailures.push(problem);
                else sessionsOk++;
              },
            ),
          );
        }
        const p = planned(arrangement, i);
        try {
          const res = await pool.request({
            method: p.method,
            path: p.path,
            headers: {
              authorization: `Bearer ${tokens[i % tokens.length]}`,
              ...(p.body ? { "content-type": "application/json" } : {}),
            },
            body: p.body,
            headersTimeout: 30_000,
            bodyTimeout: 30_000,
          });
          if (res.statusCode >= 200 && res.statusCode < 300) {
            await res.body.dump({ limit: Number.POSITIVE_INFINITY });
          } else {
            const key = `${p.label} ${res.statusCode}`;
            failures.set(key, (failures.get(key) ?? 0) + 1);
            const text = await res.body.text();
            if (samples.length < 5) {
              samples.push(`${key}: ${text.slice(0, 300)}`);
              console.error(`  ${samples.at(-1)}`);
            }
          }
        } catch (error) {
          const key = `${p.label} (no answer: ${(error as Error).message})`;
          failures.set(key, (failures.get(key) ?? 0) + 1);
          if (samples.length < 5) {
            samples.push(key);
            console.error(`  ${key}`);
          }
        }
        done++;
        if (done % CHECKPOINT === 0) checkpoint();
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const workerdCpu = cpuSeconds(pid) - cpu0;
  await Promise.all(sessions);
  await pool.close();

  const warm = readings[0];
  const last = readings.at(-1);
  growthMB = warm && last && last !== warm ? ((last.rssKiB - warm.rssKiB) * 1024) / 1e6 : Number.NaN;
  console.log(
    `\n${done} requests in ${fmt(seconds, 0)} s: ${fmt(done / seconds, 0)} req/s, workerd ${fmt((workerdCpu / done) * 1000, 3)} ms CPU per request`,
  );
  console.log(
    `workerd RSS: ${fmt(mb(rss0))} MiB before, ${fmt(mb(warm?.rssKiB ?? Number.NaN))} MiB at ${warm?.done} requests (after warm-up), ${fmt(mb(last?.rssKiB ?? Number.NaN))} MiB at the end`,
  );
  console.log(
    `growth after warm-up: ${fmt(growthMB)} MB (${fmt((growthMB * 1e6) / ((last?.done ?? 0) - (warm?.done ?? 0)), 0)} bytes per request); goal < ${GROWTH_GOAL_MB} MB: ${growthMB < GROWTH_GOAL_MB ? "met" : "MISSED"}`,
  );
  await sleep(10_000);
  console.log(`workerd RSS after 10 s without load: ${fmt(mb(rssKiB(pid)))} MiB`);
  console.log(`socket sessions: ${sessionsOk} ok, ${sessionFailures.length} failed`);
} finally {
  await deployment.stop();
}

const errorCount = [...failures.values()].reduce((s, n) => s + n, 0);
if (errorCount > 0 || sessionFailures.length > 0) {
  console.error(
    `\nFAILED: ${errorCount} requests without a 2xx answer, ${sessionFailures.length} socket sessions failed`,
  );
  for (const [key, n] of failures) console.error(`  ${n} x ${key}`);
  for (const sample of samples) console.error(`  e.g. ${sample}`);
  for (const problem of sessionFailures.slice(0, 5)) console.error(`  socket session: ${problem}`);
  process.exit(1);
}
// A smoke run's "warm-up" is far too short to judge growth by.
if (!SMOKE && !(growthMB < GROWTH_GOAL_MB)) {
  console.error(`\nFAILED: workerd grew ${fmt(growthMB)} MB after warm-up (goal < ${GROWTH_GOAL_MB} MB)`);
  process.exit(1);
}
console.log(`\nerrors: 0`);

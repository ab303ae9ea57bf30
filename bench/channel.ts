/**
 * Channel sockets on the self-hosted stack (bench/lib/deployment.ts), on workerd's own port:
 *
 *   - memory per idle socket as an outside benchmark takes it: 1000 sockets of 50 users, each
 *     pinging every 10 s, read after a 35 s hold, from a FRESH workerd process (restarted first),
 *     beside workerd's own floor taken the same way (a do-nothing object, bench/lib/floor.ts),
 *     and again in the now-warm process;
 *   - fan-out in one channel to 1, 100 and 1000 subscribers: delivery latency (p50, p99, p99.9)
 *     at 20 messages/s and deliveries per second at full speed, lost and duplicated deliveries;
 *     without permessage-deflate offered, then 1000 subscribers offering it as browsers do;
 *   - workerd's RSS before and after each repetition of that matrix.
 *
 * The memory runs open workerd's inspector (BENCH_INSPECT=0 leaves it closed) to add what RSS
 * alone cannot tell: the JavaScript heap the sockets keep in use, and RSS after a full garbage
 * collection, for ours and for the floor alike.
 *
 * Prints figures; asserts nothing.
 *
 *   npm run bench:channel                 (tsx bench/channel.ts; about 8 minutes)
 *
 * Settings: BENCH_USERS (50), BENCH_SOCKETS (1000), BENCH_HOLD_MS (35000), BENCH_STEADY_SECONDS
 * (10), BENCH_REPEAT (1: runs of the matrix after the first one, in the same process),
 * BENCH_ONLY=memory,fanout (both); BENCH_SMOKE=1 is a tiny run that only checks it works.
 */
import { loadavg } from "node:os";
import { freePort } from "../test/support/store";
import { type Arrangement, arrange, channel } from "./lib/arrange";
import { type CpuSource, processCpu, selfCpu } from "./lib/cpu";
import { type Deployment, describeDeployment, startDeployment } from "./lib/deployment";
import { describeRun, FanOut } from "./lib/fanout";
import { startFloorWorkerd } from "./lib/floor";
import { describeIdle, idleSockets } from "./lib/idle-memory";
import { inspectorAt } from "./lib/inspector";
import { rssKiB } from "./lib/proc";
import { SMOKE, setting, sleep } from "./lib/stats";
import { describeOpen, SocketFleet, type Subscriber } from "./lib/subscribers";

const USERS = setting("BENCH_USERS", 50, 4);
const SOCKETS = setting("BENCH_SOCKETS", 1000, 40);
const HOLD_MS = setting("BENCH_HOLD_MS", 35_000, 4000);
const STEADY_SECONDS = setting("BENCH_STEADY_SECONDS", 10, 2);
const REPEAT = setting("BENCH_REPEAT", 1, 1);
const SIZES = SMOKE ? [1, 10, SOCKETS] : [1, 100, SOCKETS];
/** Pause after opening subscribers: a measured run starts from a channel's steady state. */
const OPEN_SETTLE_MS = SMOKE ? 500 : 5000;
const INSPECT = process.env.BENCH_INSPECT !== "0";
const ONLY = new Set((process.env.BENCH_ONLY ?? "memory,fanout").split(",").map((s) => s.trim()));
const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
const fullSpeedTotal = (subscribers: number) =>
  subscribers >= 1000 ? 200 : subscribers >= 100 ? 1000 : 2000;

function socketUrl(d: Deployment, a: Arrangement, name: string) {
  return `${d.api.replace(/^http/, "ws")}/ws/chat/${a.workspaceId}/${channel(a, name)}`;
}

/** Subscriber i (or sender -1, -2, ...) uses user i modulo the number of users. */
const tokenOf = (a: Arrangement) => (index: number) => {
  const n = a.users.length;
  return a.users[((index % n) + n) % n]?.token as string;
};

async function memoryMatrix(d: Deployment, a: Arrangement, fleet: SocketFleet, fresh: boolean) {
  const target = {
    url: socketUrl(d, a, "memory"),
    tokenOf: tokenOf(a),
    pid: () => d.pid("api"),
    inspector: apiInspector,
  };
  if (fresh) {
    console.log(
      describeIdle(`ours, from fresh (${USERS} users)`, await idleSockets(fleet, target, SOCKETS, HOLD_MS)),
    );
    let floorHealth = "";
    const floorInspector = INSPECT
      ? inspectorAt(`127.0.0.1:${await freePort()}`, () => fetch(floorHealth))
      : undefined;
    const floor = await startFloorWorkerd({ inspectorAddress: floorInspector?.address });
    floorHealth = `${floor.url.replace(/^ws/, "http")}/health`;
    try {
      const floorTarget = {
        url: `${floor.url}/room`,
        tokenOf: () => "",
        pid: () => floor.pid,
        inspector: floorInspector,
      };
      console.log(
        describeIdle(
          "workerd's floor (do-nothing object), from fresh",
          await idleSockets(fleet, floorTarget, SOCKETS, HOLD_MS),
        ),
      );
    } finally {
      await floor.stop();
    }
    await sleep(SMOKE ? 1000 : 10_000);
  }
  console.log(
    describeIdle("ours, warmed (same process again)", await idleSockets(fleet, target, SOCKETS, HOLD_MS)),
  );
  await sleep(SMOKE ? 500 : 3000);
}

async function fanOutMatrix(d: Deployment, a: Arrangement, fleet: SocketFleet, fanOut: FanOut) {
  for (const [name, deflate] of [
    ["fanout", false],
    ["fanout-deflate", true],
  ] as const) {
    const url = socketUrl(d, a, name);
    const opened = await fleet.openMany(url, 4, -4, tokenOf(a), { deflate });
    const senders = opened.clients as Subscriber[];
    if (senders.length < 4) throw new Error("could not open the sender sockets");
    console.log(
      `\n  ${deflate ? "clients offer permessage-deflate (as browsers do)" : "clients do not offer permessage-deflate"}; negotiated: ${senders[0]?.ws.extensions || "(none)"}`,
    );
    const subscribers: Subscriber[] = [];
    for (const size of deflate ? [SOCKETS] : SIZES) {
      const more = await fleet.openMany(url, size - subscribers.length, subscribers.length, tokenOf(a), {
        deflate,
      });
      subscribers.push(...more.clients);
      console.log(`  ${describeOpen(`+${more.clients.length} subscribers`, more)}`);
      if (subscribers.length !== size) {
        console.log(`  only ${subscribers.length} of ${size} subscribers open; skipping this size`);
        continue;
      }
      await sleep(OPEN_SETTLE_MS);
      const steady = await fanOut.steady(senders[0] as Subscriber, size, 20, STEADY_SECONDS);
      console.log(describeRun(`${size} subscribers, 20 msg/s for ${STEADY_SECONDS} s`, steady));
      await sleep(500);
      const total = fullSpeedTotal(size);
      console.log(
        describeRun(
          `${size} subscribers, full speed (${total} msgs)`,
          await fanOut.fullSpeed(senders, size, total, 8),
        ),
      );
      await sleep(500);
    }
    fleet.terminate([...senders, ...subscribers]);
    await sleep(1500);
  }
}

console.log(
  `channel benchmark (${new Date().toISOString()}, node ${process.version}), load average ${loadavg()
    .map((n) => n.toFixed(2))
    .join(" ")}`,
);
let apiHealth = "";
const apiInspector = INSPECT
  ? inspectorAt(`127.0.0.1:${await freePort()}`, () => fetch(apiHealth))
  : undefined;
const deployment = await startDeployment({ inspectorAddress: apiInspector?.address });
apiHealth = `${deployment.api}/health`;
const cpuSources = (): CpuSource[] => [
  processCpu("workerd", deployment.pid("api")),
  processCpu("pgbouncer", deployment.pid("pgbouncer")),
  processCpu("bridge", deployment.pid("bridge")),
  selfCpu("clients"),
];
const fanOut = new FanOut(cpuSources);
const fleet = new SocketFleet(fanOut.onFrame);
try {
  console.log(describeDeployment(deployment));
  const arrangement = await arrange(deployment.api, USERS, ["memory", "fanout", "fanout-deflate"]);
  console.log(
    `${USERS} users, ${SOCKETS} sockets (${SOCKETS / USERS} per user), tokens in the bearer subprotocol; clients: ws in this process`,
  );
  for (let repetition = 0; repetition < REPEAT; repetition++) {
    const fresh = repetition === 0;
    console.log(`\n[matrix ${repetition + 1} of ${REPEAT}]`);
    if (fresh) {
      const restart = await deployment.stack.restartApi();
      console.log(
        `  workerd restarted: a fresh process (pid ${deployment.pid("api")}, ready in ${restart.readyInMs} ms)`,
      );
    }
    const before = rssKiB(deployment.pid("api"));
    if (ONLY.has("memory")) await memoryMatrix(deployment, arrangement, fleet, fresh);
    if (ONLY.has("fanout")) await fanOutMatrix(deployment, arrangement, fleet, fanOut);
    const after = rssKiB(deployment.pid("api"));
    await sleep(SMOKE ? 1000 : 30_000);
    console.log(
      `\n  workerd RSS over matrix ${repetition + 1}: ${mib(before)} before, ${mib(after)} after; ${mib(rssKiB(deployment.pid("api")))} 30 s later`,
    );
  }
} finally {
  fleet.stop();
  await deployment.stop();
}
process.exit(0);

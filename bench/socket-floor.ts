/**
 * The runtime's own price of an idle WebSocket, from a fresh process: standalone workerd with the
 * deployed compatibility date and flags, serving a Durable Object that does nothing but accept
 * hibernatable sockets (bench/lib/floor.ts), and a plain Worker socket (accept()). Measured as
 * bench/channel.ts measures ours (N sockets pinging every 10 s, RSS read after the hold), so the
 * two figures sit side by side. A fresh workerd per measurement.
 *
 *   npm run bench:socket-floor            (BENCH_SOCKETS=1000, BENCH_HOLD_MS=35000)
 */
import { startFloorWorkerd } from "./lib/floor";
import { describeIdle, idleSockets } from "./lib/idle-memory";
import { setting } from "./lib/stats";
import { SocketFleet } from "./lib/subscribers";

const SOCKETS = setting("BENCH_SOCKETS", 1000, 40);
const HOLD_MS = setting("BENCH_HOLD_MS", 35_000, 4000);

console.log(
  `socket floor (${new Date().toISOString()}): workerd VmRSS per idle socket from a fresh process, no permessage-deflate`,
);
const fleet = new SocketFleet();
try {
  for (const [path, label] of [
    ["/room", "hibernatable, one Durable Object"],
    ["/plain", "plain Worker socket (accept())"],
  ] as const) {
    const floor = await startFloorWorkerd();
    try {
      const target = { url: `${floor.url}${path}`, tokenOf: () => "", pid: () => floor.pid };
      console.log(describeIdle(label, await idleSockets(fleet, target, SOCKETS, HOLD_MS)));
    } finally {
      await floor.stop();
    }
  }
} finally {
  fleet.stop();
}

/**
 * The runtime's own price of an idle WebSocket: the same measurement as bench/channel.ts's
 * "memory per idle socket", against a Durable Object that does nothing but accept hibernatable
 * sockets (no database, no store, no attachment beyond the one ours keep). Whatever ChannelRoom
 * costs above this figure is ours to cut; this figure is workerd's.
 *
 *   npm run bench:socket-floor            (BENCH_SOCKETS=1000, BENCH_SETTLE_MS=30000)
 */
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import WebSocket from "ws";
import { freePort } from "../test/support/store";
import { runtimeOptionsFromWranglerToml } from "../test/support/worker";
import { rssKiB, workerdPids } from "./lib/proc";

const SOCKETS = Number(process.env.BENCH_SOCKETS ?? 1000);
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 30_000);

const WORKER = `
import { DurableObject } from "cloudflare:workers";
export class Room extends DurableObject {
  async fetch() {
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1]);
    pair[1].serializeAttachment({ userId: 1, sessionId: "0123456789abcdef", expiresAt: Date.now() + 9e5, lastSeenAt: Date.now() });
    return new Response(null, { status: 101, webSocket: pair[0] });
  }
  webSocketMessage() {}
}
export default {
  fetch(request, env) {
    if (new URL(request.url).pathname === "/plain") {
      const pair = new WebSocketPair();
      pair[1].accept();
      return new Response(null, { status: 101, webSocket: pair[0] });
    }
    return env.ROOM.get(env.ROOM.idFromName("room")).fetch(request);
  },
};
`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const workerdRss = () => workerdPids().reduce((sum, pid) => sum + rssKiB(pid), 0);

function open(url: string, count: number): Promise<WebSocket[]> {
  return Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(url);
          ws.once("open", () => resolve(ws));
          ws.once("error", reject);
        }),
    ),
  );
}

async function measure(path: "/room" | "/plain") {
  const runtime = await runtimeOptionsFromWranglerToml();
  const port = await freePort();
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      modules: [{ type: "ESModule", path: "worker.js", contents: WORKER }],
      compatibilityDate: runtime.compatibilityDate as string,
      compatibilityFlags: runtime.compatibilityFlags as string[],
      durableObjects: { ROOM: { className: "Room", useSQLite: true } },
      unsafeDirectSockets: [{ host: "127.0.0.1", port }],
    }),
  );
  await mf.ready;
  const url = `ws://127.0.0.1:${port}${path}`;
  try {
    const warm = await open(url, 1);
    await sleep(SETTLE_MS);
    const before = workerdRss();
    const sockets: WebSocket[] = [];
    for (let i = 0; i < SOCKETS; i += 100) sockets.push(...(await open(url, Math.min(100, SOCKETS - i))));
    await sleep(3000);
    const awake = workerdRss();
    await sleep(Math.max(0, SETTLE_MS - 3000));
    const after = workerdRss();
    for (const ws of [...warm, ...sockets]) ws.terminate();
    const per = (kib: number) => ((kib - before) / SOCKETS).toFixed(1);
    console.log(
      `  ${path === "/room" ? "hibernatable, one Durable Object" : "plain Worker socket (accept())"}: ${SOCKETS} sockets, ${per(after)} KiB per socket settled (${per(awake)} KiB 3 s after opening)`,
    );
  } finally {
    await mf.dispose();
  }
}

console.log(
  `socket floor (${new Date().toISOString()}): workerd VmRSS per idle socket, no permessage-deflate`,
);
await measure("/room");
await measure("/plain");

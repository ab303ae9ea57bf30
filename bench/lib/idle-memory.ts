/**
 * Memory per idle socket, as an outside benchmark takes it: N sockets opened at once (cycling
 * through the users' tokens), each pinging every 10 s as the web app does, workerd's RSS read
 * after a hold of 35 s and compared with its RSS before they opened. Read from a fresh process
 * (the first sockets also pay for objects, isolate growth and allocator arenas) or from a
 * warmed one (what one more socket costs once the process has held as many before).
 *
 * With workerd's inspector, two more readings while the sockets are still open: the JavaScript
 * heap in use, and RSS after a full garbage collection. They tell what the process keeps per
 * socket from what it has merely not collected yet.
 */
import type { Inspector } from "./inspector";
import { cpuSeconds, rssKiB } from "./proc";
import { sleep } from "./stats";
import { describeOpen, type OpenResult, type SocketFleet } from "./subscribers";

export interface IdleMemory {
  beforeKiB: number;
  /** 3 s after the last socket opened. */
  awakeKiB: number;
  afterKiB: number;
  opened: OpenResult;
  stillOpen: number;
  perSocketKiB: number;
  awakePerSocketKiB: number;
  /** workerd's CPU share while the sockets idle (and ping). */
  idleCpuShare: number;
  /** With an inspector: per socket, the heap in use after the hold, and after a full GC with RSS. */
  collected?: {
    heapUsedPerSocketKiB: number;
    heapUsedAfterGcPerSocketKiB: number;
    rssAfterGcPerSocketKiB: number;
  };
}

export interface IdleTarget {
  url: string;
  tokenOf: (index: number) => string;
  pid: () => number;
  inspector?: Inspector;
}

export async function idleSockets(
  fleet: SocketFleet,
  target: IdleTarget,
  count: number,
  holdMs: number,
  firstIndex = 0,
): Promise<IdleMemory> {
  const pid = target.pid();
  const heapBefore = await target.inspector?.heap();
  const beforeKiB = rssKiB(pid);
  const opened = await fleet.openMany(target.url, count, firstIndex, target.tokenOf, { deflate: false });
  await sleep(3000);
  const awakeKiB = rssKiB(pid);
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  await sleep(Math.max(0, holdMs - 3000));
  const afterKiB = rssKiB(pid);
  const idleCpuShare = (cpuSeconds(pid) - cpu0) / ((performance.now() - t0) / 1000);
  const stillOpen = opened.clients.filter((c) => c.ws.readyState === c.ws.OPEN).length;
  const sockets = Math.max(1, opened.clients.length);
  let collected: IdleMemory["collected"];
  if (target.inspector && heapBefore) {
    const heapAfter = await target.inspector.heap();
    await target.inspector.collectGarbage();
    await sleep(2000);
    const heapCollected = await target.inspector.heap();
    collected = {
      heapUsedPerSocketKiB: (heapAfter.usedKiB - heapBefore.usedKiB) / sockets,
      heapUsedAfterGcPerSocketKiB: (heapCollected.usedKiB - heapBefore.usedKiB) / sockets,
      rssAfterGcPerSocketKiB: (rssKiB(pid) - beforeKiB) / sockets,
    };
  }
  fleet.terminate(opened.clients);
  const per = (kib: number) => (kib - beforeKiB) / sockets;
  return {
    beforeKiB,
    awakeKiB,
    afterKiB,
    opened,
    stillOpen,
    perSocketKiB: per(afterKiB),
    awakePerSocketKiB: per(awakeKiB),
    idleCpuShare,
    collected,
  };
}

export function describeIdle(label: string, m: IdleMemory): string {
  const mib = (kib: number) => (kib / 1024).toFixed(1);
  return (
    `  ${label}: ${m.opened.clients.length} sockets (${m.stillOpen} still open when read), RSS ${mib(m.beforeKiB)} -> ${mib(m.afterKiB)} MiB = ` +
    `${m.perSocketKiB.toFixed(1)} KiB per socket (3 s after opening: ${m.awakePerSocketKiB.toFixed(1)} KiB); ` +
    `workerd CPU while they idle: ${(m.idleCpuShare * 100).toFixed(1)}%\n    ${describeOpen("opened", m.opened)}` +
    (m.collected
      ? `\n    JavaScript heap in use: ${m.collected.heapUsedPerSocketKiB.toFixed(1)} KiB per socket; after a full GC ` +
        `(inspector) ${m.collected.heapUsedAfterGcPerSocketKiB.toFixed(1)} KiB, RSS ${m.collected.rssAfterGcPerSocketKiB.toFixed(1)} KiB per socket`
      : "")
  );
}

/**
 * workerd's V8 inspector (`--inspector-addr`), for what RSS alone cannot tell: how much of a
 * process's growth is JavaScript heap that is still in use, and how much a full garbage collection
 * gives back. Each call connects afresh, so a restarted workerd on the same address is found again.
 */
import WebSocket from "ws";

export interface HeapReading {
  usedKiB: number;
  totalKiB: number;
}

export interface Inspector {
  address: string;
  heap(): Promise<HeapReading>;
  /** A full, synchronous garbage collection of the (first) isolate. */
  collectGarbage(): Promise<void>;
}

async function session<T>(address: string, work: (send: Send) => Promise<T>): Promise<T> {
  const targets = (await (await fetch(`http://${address}/json/list`)).json()) as {
    webSocketDebuggerUrl: string;
  }[];
  const url = targets[0]?.webSocketDebuggerUrl;
  if (!url) throw new Error(`no isolate to inspect at ${address}`);
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  let nextId = 0;
  const send: Send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = ++nextId;
      const timer = setTimeout(() => reject(new Error(`${method}: no answer from the inspector`)), 30_000);
      const onMessage = (data: WebSocket.RawData) => {
        const message = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: unknown };
        if (message.id !== id) return;
        clearTimeout(timer);
        ws.off("message", onMessage);
        if (message.error) reject(new Error(`${method}: ${JSON.stringify(message.error)}`));
        else resolve(message.result);
      };
      ws.on("message", onMessage);
      ws.send(JSON.stringify({ id, method, params }));
    });
  try {
    return await work(send);
  } finally {
    ws.close();
  }
}

type Send = (method: string, params?: Record<string, unknown>) => Promise<unknown>;

/**
 * `poke` makes the isolate run something: workerd answers some inspector commands (a full GC) only
 * once the isolate next has work, which an idle process without alarms never gets by itself.
 */
export function inspectorAt(address: string, poke?: () => Promise<unknown>): Inspector {
  return {
    address,
    heap: () =>
      session(address, async (send) => {
        const usage = (await send("Runtime.getHeapUsage")) as { usedSize: number; totalSize: number };
        return { usedKiB: usage.usedSize / 1024, totalKiB: usage.totalSize / 1024 };
      }),
    collectGarbage: () =>
      session(address, async (send) => {
        await send("HeapProfiler.enable");
        const collected = send("HeapProfiler.collectGarbage");
        let answered = false;
        void collected.finally(() => {
          answered = true;
        });
        while (poke && !answered) {
          await Promise.race([collected.catch(() => {}), new Promise((resolve) => setTimeout(resolve, 250))]);
          if (!answered) await poke().catch(() => {});
        }
        await collected;
      }),
  };
}

/**
 * The benchmarks' socket clients: `ws` sockets in this process, opened in batches, each sending the
 * web app's keep-alive (`{"type":"ping"}`, which the runtime answers without waking the object)
 * every 10 s, so the 25 s idle rule never closes them. Frames go to one handler.
 */
import WebSocket from "ws";
import { fmt, percentile } from "./stats";

export const PING_FRAME = '{"type":"ping"}';
const HANDSHAKE_BATCH = 50;

export interface Subscriber {
  ws: WebSocket;
  /** The caller's number for it (subscriber index; negative for senders). */
  index: number;
  handshakeMs: number;
}

export interface OpenResult {
  clients: Subscriber[];
  failed: number;
  perSecond: number;
  handshakeMs: number[];
}

export interface OpenOptions {
  /** Offer permessage-deflate, as browsers do (default), or not. */
  deflate?: boolean;
}

export class SocketFleet {
  private readonly open = new Set<Subscriber>();
  private tick = 0;
  private readonly pinger: ReturnType<typeof setInterval>;

  constructor(private readonly onFrame: (client: Subscriber, text: string) => void = () => {}) {
    // Each second a tenth of the sockets ping: every socket once per 10 s, spread out.
    this.pinger = setInterval(() => {
      this.tick++;
      let i = 0;
      for (const client of this.open) {
        if (i++ % 10 === this.tick % 10 && client.ws.readyState === WebSocket.OPEN)
          client.ws.send(PING_FRAME);
      }
    }, 1000);
    this.pinger.unref();
  }

  get size(): number {
    return this.open.size;
  }

  connect(url: string, token: string, index: number, options: OpenOptions = {}): Promise<Subscriber> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, token ? ["bearer", token] : [], {
        perMessageDeflate: options.deflate ?? true,
        handshakeTimeout: 20_000,
      });
      const client: Subscriber = { ws, index, handshakeMs: 0 };
      ws.on("message", (data) => this.onFrame(client, data.toString()));
      ws.once("unexpected-response", (_req, res) =>
        reject(new Error(`handshake refused: HTTP ${res.statusCode}`)),
      );
      ws.once("error", reject);
      ws.once("open", () => {
        client.handshakeMs = performance.now() - started;
        ws.on("error", () => {});
        this.open.add(client);
        ws.once("close", () => this.open.delete(client));
        resolve(client);
      });
    });
  }

  /** Opens `count` sockets to `url`, HANDSHAKE_BATCH at a time, the i-th as `tokenOf(i)`. */
  async openMany(
    url: string,
    count: number,
    firstIndex: number,
    tokenOf: (index: number) => string,
    options: OpenOptions = {},
  ): Promise<OpenResult> {
    const clients: Subscriber[] = [];
    let failed = 0;
    const started = performance.now();
    for (let i = 0; i < count; i += HANDSHAKE_BATCH) {
      const batch = Array.from({ length: Math.min(HANDSHAKE_BATCH, count - i) }, (_, j) => {
        const index = firstIndex + i + j;
        return this.connect(url, tokenOf(index), index, options);
      });
      for (const result of await Promise.allSettled(batch)) {
        if (result.status === "fulfilled") clients.push(result.value);
        else failed++;
      }
    }
    const elapsed = performance.now() - started;
    return {
      clients,
      failed,
      perSecond: (clients.length / elapsed) * 1000,
      handshakeMs: clients.map((c) => c.handshakeMs),
    };
  }

  /** Drops the given sockets (all by default) without a closing handshake, as a crash would. */
  terminate(clients: Iterable<Subscriber> = [...this.open]): void {
    for (const client of clients) client.ws.terminate();
  }

  stop(): void {
    clearInterval(this.pinger);
    this.terminate();
  }
}

export function describeOpen(label: string, opened: OpenResult): string {
  return `${label}: ${opened.clients.length} open (${opened.failed} failed), ${fmt(opened.perSecond, 0)} handshakes/s, handshake p50 ${fmt(percentile(opened.handshakeMs, 50))} ms p99 ${fmt(percentile(opened.handshakeMs, 99))} ms`;
}

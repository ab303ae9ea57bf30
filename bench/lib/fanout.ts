/**
 * Fan-out runs in one channel: senders post over their sockets, every subscriber's deliveries are
 * counted per message (lost, duplicated) and timed from the send (p50, p99, p99.9).
 */
import { type CpuReading, type CpuSource, cpuMeter } from "./cpu";
import { fmt, percentile, sleep } from "./stats";
import type { Subscriber } from "./subscribers";

/** One measured run: which client_ids belong to it, when each was sent, who got what. */
interface Run {
  prefix: string;
  total: number;
  sentAt: Float64Array;
  /** Per subscriber index: deliveries per sequence number. */
  counts: Uint8Array[];
  latencies: number[];
  unique: number;
  duplicates: number;
  errors: number;
  lastDeliveryAt: number;
  /** Called with the sequence number when a sender sees its own message come back. */
  onEcho?: (seq: number) => void;
}

export interface RunFigures {
  expected: number;
  delivered: number;
  lost: number;
  duplicates: number;
  errors: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  deliveriesPerSecond: number;
  messagesPerSecond: number;
  cpu: CpuReading;
}

const CLIENT_ID = '"client_id":"';

export class FanOut {
  private current: Run | null = null;
  private runs = 0;

  constructor(private readonly cpuSources: () => CpuSource[]) {}

  /** The frame handler for the fleet's sockets (senders have a negative index). */
  readonly onFrame = (client: Subscriber, text: string) => {
    const run = this.current;
    if (!run) return;
    if (text.startsWith('{"type":"error"')) {
      run.errors++;
      return;
    }
    if (!text.startsWith('{"type":"message"')) return;
    const now = performance.now();
    // The frame is the server's own JSON: find the client_id without parsing all of it.
    const at = text.indexOf(CLIENT_ID);
    if (at < 0) return;
    const start = at + CLIENT_ID.length;
    const clientId = text.slice(start, text.indexOf('"', start));
    if (!clientId.startsWith(run.prefix)) return;
    const seq = Number(clientId.slice(run.prefix.length));
    if (client.index < 0) {
      run.onEcho?.(seq);
      return;
    }
    const counts = run.counts[client.index] as Uint8Array;
    counts[seq] = (counts[seq] ?? 0) + 1;
    if (counts[seq] === 1) {
      run.unique++;
      run.latencies.push(now - (run.sentAt[seq] as number));
      run.lastDeliveryAt = now;
    } else run.duplicates++;
  };

  private newRun(total: number, subscribers: number): Run {
    this.runs++;
    return {
      prefix: `r${this.runs}x${Date.now().toString(36)}-`,
      total,
      sentAt: new Float64Array(total),
      counts: Array.from({ length: subscribers }, () => new Uint8Array(total)),
      latencies: [],
      unique: 0,
      duplicates: 0,
      errors: 0,
      lastDeliveryAt: 0,
    };
  }

  private send(sender: Subscriber, run: Run, seq: number) {
    run.sentAt[seq] = performance.now();
    sender.ws.send(
      JSON.stringify({ type: "message", content: `bench message ${seq}`, client_id: `${run.prefix}${seq}` }),
    );
  }

  private figures(run: Run, subscribers: number, firstSendAt: number, cpu: CpuReading): RunFigures {
    const expected = run.total * subscribers;
    const span = (run.lastDeliveryAt - firstSendAt) / 1000;
    return {
      expected,
      delivered: run.unique,
      lost: expected - run.unique,
      duplicates: run.duplicates,
      errors: run.errors,
      p50: percentile(run.latencies, 50),
      p99: percentile(run.latencies, 99),
      p999: percentile(run.latencies, 99.9),
      max: percentile(run.latencies, 100),
      deliveriesPerSecond: run.unique / span,
      messagesPerSecond: run.total / span,
      cpu,
    };
  }

  /** One sender posts at a fixed rate (scheduled on the client's clock, no drift). */
  async steady(sender: Subscriber, subscribers: number, rate: number, seconds: number): Promise<RunFigures> {
    const total = Math.round(rate * seconds);
    const run = this.newRun(total, subscribers);
    this.current = run;
    const stop = await cpuMeter(this.cpuSources());
    const start = performance.now();
    for (let seq = 0; seq < total; seq++) {
      const wait = start + (seq * 1000) / rate - performance.now();
      if (wait > 0) await sleep(wait);
      this.send(sender, run, seq);
    }
    const deadline = performance.now() + 15_000;
    while (run.unique < total * subscribers && performance.now() < deadline) await sleep(20);
    const cpu = await stop();
    this.current = null;
    return this.figures(run, subscribers, start, cpu);
  }

  /**
   * Senders post as fast as the object takes them: each keeps `window` messages in flight and
   * sends the next when its own earlier one comes back (the object stored and broadcast it).
   */
  async fullSpeed(senders: Subscriber[], subscribers: number, total: number, window: number) {
    const run = this.newRun(total, subscribers);
    let next = 0;
    const inFlight = new Map<number, Subscriber>();
    const sendNext = (sender: Subscriber) => {
      if (next >= total) return;
      const seq = next++;
      inFlight.set(seq, sender);
      this.send(sender, run, seq);
    };
    run.onEcho = (seq) => {
      const sender = inFlight.get(seq);
      if (!sender) return;
      inFlight.delete(seq);
      sendNext(sender);
    };
    this.current = run;
    const stop = await cpuMeter(this.cpuSources());
    const start = performance.now();
    for (const sender of senders) for (let i = 0; i < window; i++) sendNext(sender);
    const deadline = start + 60_000;
    // Senders stall if an echo is lost (a refused post): top up from the timer too.
    while (run.unique < total * subscribers && performance.now() < deadline) {
      await sleep(50);
      if (next < total && inFlight.size === 0) for (const sender of senders) sendNext(sender);
    }
    const cpu = await stop();
    this.current = null;
    return this.figures(run, subscribers, start, cpu);
  }
}

export function describeRun(label: string, f: RunFigures): string {
  const cpu = Object.entries(f.cpu.bySource)
    .map(([name, s]) => `${name} ${fmt(s, 2)} s`)
    .join(", ");
  return (
    `  ${label.padEnd(40)} p50 ${fmt(f.p50).padStart(7)} ms  p99 ${fmt(f.p99).padStart(7)} ms  p99.9 ${fmt(f.p999).padStart(7)} ms  max ${fmt(f.max).padStart(7)} ms  ` +
    `${fmt(f.deliveriesPerSecond, 0).padStart(6)} deliveries/s (${fmt(f.messagesPerSecond, 0)} msg/s)  ` +
    `delivered ${f.delivered}/${f.expected}  lost ${f.lost}  dup ${f.duplicates}  err ${f.errors}\n` +
    `  ${"".padEnd(40)} CPU: ${cpu}, whole machine ${fmt(f.cpu.machine, 2)} s, in ${fmt(f.cpu.wallSeconds, 2)} s`
  );
}

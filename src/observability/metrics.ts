/**
 * Prometheus metrics (docs/original-defects.md#d6-metrics), kept in module scope and served as text by GET
 * /metrics (routes/metrics.ts).
 *
 * Where the numbers live. Module scope is per isolate. Under standalone workerd (self-hosting)
 * the Worker and every Durable Object of this script run in one isolate, so /metrics sees all
 * requests, sockets and stored messages of the process. On Cloudflare there are many isolates
 * (and objects live in isolates of their own): each scrape reaches one of them and reports only
 * what that isolate saw since it started; use Workers Analytics there, or scrape self-hosted.
 *
 * Why written here rather than with prom-client: prom-client targets Node (its cluster
 * aggregator imports node:cluster, its default collectors read process, v8 and perf_hooks) and
 * brings tdigest and @opentelemetry/api along; the text format for three metric types with fixed
 * label sets is a few dozen lines, and test/observability parses what this file writes.
 */

type Labels = Record<string, string>;

/** Label values escaped as the text format requires (backslash, double quote, line feed). */
const escapeLabel = (value: string) =>
  value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
const escapeHelp = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}

function formatLabels(names: readonly string[], labels: Labels, extra?: [string, string]): string {
  const pairs = names.map((name) => `${name}="${escapeLabel(labels[name] ?? "")}"`);
  if (extra) pairs.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return pairs.length > 0 ? `{${pairs.join(",")}}` : "";
}

/** One series per distinct label set; a metric refuses new series past this (bounded memory). */
const MAX_SERIES_PER_METRIC = 2_000;

abstract class Metric<Series> {
  protected readonly series = new Map<string, { labels: Labels; data: Series }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly type: "counter" | "gauge" | "histogram",
  ) {}

  protected abstract create(): Series;

  protected entry(labels: Labels): Series | undefined {
    const key = this.labelNames.map((name) => labels[name] ?? "").join("\u0000");
    let found = this.series.get(key);
    if (!found) {
      if (this.series.size >= MAX_SERIES_PER_METRIC) return undefined;
      const own: Labels = {};
      for (const name of this.labelNames) own[name] = labels[name] ?? "";
      found = { labels: own, data: this.create() };
      this.series.set(key, found);
    }
    return found.data;
  }

  protected abstract samples(labels: Labels, data: Series): string[];

  expose(): string {
    const lines = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
    for (const { labels, data } of this.series.values()) lines.push(...this.samples(labels, data));
    return lines.join("\n");
  }
}

class Counter extends Metric<{ value: number }> {
  constructor(name: string, help: string, labelNames: readonly string[]) {
    super(name, help, labelNames, "counter");
  }
  protected create() {
    return { value: 0 };
  }
  inc(labels: Labels, by = 1) {
    if (!(by >= 0)) return;
    const data = this.entry(labels);
    if (data) data.value += by;
  }
  protected samples(labels: Labels, data: { value: number }) {
    return [`${this.name}${formatLabels(this.labelNames, labels)} ${formatValue(data.value)}`];
  }
}

class Gauge extends Metric<{ value: number }> {
  constructor(name: string, help: string, labelNames: readonly string[]) {
    super(name, help, labelNames, "gauge");
  }
  protected create() {
    return { value: 0 };
  }
  add(labels: Labels, by: number, floor = Number.NEGATIVE_INFINITY) {
    const data = this.entry(labels);
    if (data) data.value = Math.max(floor, data.value + by);
  }
  protected samples(labels: Labels, data: { value: number }) {
    return [`${this.name}${formatLabels(this.labelNames, labels)} ${formatValue(data.value)}`];
  }
}

interface HistogramData {
  /** Per bucket (not cumulative); the last slot is +Inf. */
  counts: number[];
  sum: number;
  count: number;
}

class Histogram extends Metric<HistogramData> {
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly buckets: readonly number[],
  ) {
    super(name, help, labelNames, "histogram");
  }
  protected create(): HistogramData {
    return { counts: new Array(this.buckets.length + 1).fill(0), sum: 0, count: 0 };
  }
  observe(labels: Labels, value: number) {
    if (!Number.isFinite(value)) return;
    const data = this.entry(labels);
    if (!data) return;
    let index = this.buckets.findIndex((bound) => value <= bound);
    if (index === -1) index = this.buckets.length;
    data.counts[index] = (data.counts[index] ?? 0) + 1;
    data.sum += value;
    data.count += 1;
  }
  protected samples(labels: Labels, data: HistogramData) {
    const lines: string[] = [];
    let cumulative = 0;
    this.buckets.forEach((bound, i) => {
      cumulative += data.counts[i] ?? 0;
      lines.push(
        `${this.name}_bucket${formatLabels(this.labelNames, labels, ["le", formatValue(bound)])} ${cumulative}`,
      );
    });
    lines.push(`${this.name}_bucket${formatLabels(this.labelNames, labels, ["le", "+Inf"])} ${data.count}`);
    lines.push(`${this.name}_sum${formatLabels(this.labelNames, labels)} ${formatValue(data.sum)}`);
    lines.push(`${this.name}_count${formatLabels(this.labelNames, labels)} ${data.count}`);
    return lines;
  }
}

/** The route label of requests that matched no route (404s, 405s): bounded cardinality. */
export const UNMATCHED_ROUTE = "__unmatched__";

const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

export type SocketEndpoint = "chat" | "notifications" | "dm";
export type StoredMessageKind = "channel" | "dm";

const httpRequests = new Counter("http_requests_total", "HTTP requests answered, by route template.", [
  "method",
  "path",
  "status",
]);
const httpDuration = new Histogram(
  "http_request_duration_seconds",
  "Time from receiving a request to its response being ready, by route template.",
  ["method", "path"],
  [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
);
const socketsOpen = new Gauge("websocket_connections_open", "WebSockets open now, by endpoint.", [
  "endpoint",
]);
const socketsOpened = new Counter("websocket_connections_opened_total", "WebSockets accepted, by endpoint.", [
  "endpoint",
]);
const socketsClosed = new Counter("websocket_connections_closed_total", "WebSockets closed, by endpoint.", [
  "endpoint",
]);
const messagesStored = new Counter("messages_stored_total", "Messages written to the database, by kind.", [
  "kind",
]);
const rateLimitRejections = new Counter(
  "rate_limit_rejections_total",
  "Requests, handshakes and socket messages refused by a rate limit, by rule.",
  ["rule"],
);
const rateLimiterUnavailable = new Counter(
  "rate_limiter_unavailable_total",
  "Limit checks the store could not answer in time, by rule and by what was done (allowed: fail open).",
  ["rule", "action"],
);

const registry: Metric<unknown>[] = [
  httpRequests,
  httpDuration,
  socketsOpen,
  socketsOpened,
  socketsClosed,
  messagesStored,
  rateLimitRejections,
  rateLimiterUnavailable,
] as Metric<unknown>[];

// Series that exist before anything happens, so dashboards and alerts see 0 rather than nothing.
for (const endpoint of ["chat", "notifications", "dm"] satisfies SocketEndpoint[]) {
  socketsOpen.add({ endpoint }, 0);
  socketsOpened.inc({ endpoint }, 0);
  socketsClosed.inc({ endpoint }, 0);
}
for (const kind of ["channel", "dm"] satisfies StoredMessageKind[]) messagesStored.inc({ kind }, 0);

export const metrics = {
  /** One answered HTTP request; `path` is the route template (or UNMATCHED_ROUTE). */
  observeRequest(method: string, path: string, status: number, seconds: number) {
    const m = KNOWN_METHODS.has(method) ? method : "OTHER";
    httpRequests.inc({ method: m, path, status: String(status) });
    httpDuration.observe({ method: m, path }, seconds);
  },
  /** A socket was accepted (call once per socket, where it is accepted). */
  socketOpened(endpoint: SocketEndpoint) {
    socketsOpen.add({ endpoint }, 1);
    socketsOpened.inc({ endpoint });
  },
  /** A socket closed (call once per socket); the gauge never goes below 0. */
  socketClosed(endpoint: SocketEndpoint) {
    socketsOpen.add({ endpoint }, -1, 0);
    socketsClosed.inc({ endpoint });
  },
  /** `count` messages were stored (a batch counts each message). */
  messageStored(kind: StoredMessageKind, count = 1) {
    messagesStored.inc({ kind }, count);
  },
  /** Makes a rule's rejection series exist (at 0) before its first rejection. */
  declareRateRule(rule: string) {
    rateLimitRejections.inc({ rule }, 0);
  },
  rateLimited(rule: string) {
    rateLimitRejections.inc({ rule });
  },
  rateLimiterUnavailable(rule: string, allowed: boolean) {
    rateLimiterUnavailable.inc({ rule, action: allowed ? "allowed" : "refused" });
  },
  /** The text exposition format 0.0.4. */
  expose(): string {
    return `${registry.map((metric) => metric.expose()).join("\n")}\n`;
  },
};

export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

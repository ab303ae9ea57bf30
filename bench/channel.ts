/**
 * Channel benchmark (issue 5, item 7): one channel's Durable Object fanning messages out to 1, 100
 * and 1000 subscribers; server memory per idle socket; REST posting and listing at 16 clients; and
 * whether permessage-deflate is negotiated, with and without `no_web_socket_compression`.
 * Prints figures; asserts nothing. Every run stops by itself (deadlines everywhere).
 *
 *   npm run bench:channel            (tsx bench/channel.ts)
 *
 * Settings (environment): BENCH_USERS (50) users share the sockets (1000 subscribers = 50 users x
 * 20 sockets: registering costs two scrypt runs a user); BENCH_PATH=direct|entry (direct) picks
 * the path of the main runs (see below); BENCH_ONLY=memory,fanout,rest,deflate picks parts
 * (deflate = the second stack, without no_web_socket_compression); BENCH_SMOKE=1 is a tiny run
 * that only checks the benchmark works.
 *
 * Two ways into the same workerd process: `entry` is Miniflare's URL, served by its own entry
 * worker which forwards every request (and WebSocket) to ours, as `npm run dev` and the tests do;
 * `direct` is a workerd socket served by our Worker itself, as a deployed or self-hosted Worker
 * is reached. The clients are `ws` sockets offering permessage-deflate, as browsers do, in this
 * one Node process, on the same 2 cores as workerd and PostgreSQL.
 */
import WebSocket from "ws";
import { pgbouncerBinary } from "./lib/pooler";
import { cpuSeconds, machineBusySeconds, rssKiB, workerdPids } from "./lib/proc";
import { type BenchStack, measure, percentile, startStack, summarise } from "./lib/stack";

const USERS = Number(process.env.BENCH_USERS ?? (process.env.BENCH_SMOKE === "1" ? 4 : 50));
const MAIN_PATH: Path = process.env.BENCH_PATH === "entry" ? "entry" : "direct";
const PING_FRAME = '{"type":"ping"}';
// The benchmark measures delivery, not the limiter: every rate limit is off (the per-channel
// post limit lives in the channel's object, so it is raised too).
const SETTINGS = { RATE_LIMITS_ENABLED: "false", RATE_LIMIT_POST_MESSAGE_PER_10_SECONDS: "10000" };
/**
 * BENCH_POOLER=pgbouncer|none: whether the Worker reaches PostgreSQL through PgBouncer, as the
 * self-hosted stack does (default: pgbouncer when it is installed).
 */
const POOLED = (process.env.BENCH_POOLER ?? (pgbouncerBinary() ? "pgbouncer" : "none")) === "pgbouncer";
const HANDSHAKE_BATCH = 50;
/** BENCH_SMOKE=1: a tiny run that checks the benchmark itself works (figures meaningless). */
const SMOKE = process.env.BENCH_SMOKE === "1";
const BIG = SMOKE ? 20 : 1000;
/** BENCH_ONLY=rest,fanout,memory,deflate: run only these parts (all by default). */
const ONLY = new Set(
  (process.env.BENCH_ONLY ?? "memory,fanout,rest,deflate").split(",").map((s) => s.trim()),
);
const want = (part: string) => ONLY.has(part);
/**
 * Pause between opening subscribers and measuring them: opening a thousand sockets leaves work
 * behind (the handshakes' garbage, each user's first socket registering with their feed, online
 * keys), and the runs measure a channel's steady state, not the tail of a handshake storm.
 */
const OPEN_SETTLE_MS = Number(process.env.BENCH_OPEN_SETTLE_MS ?? (SMOKE ? 500 : 5000));
/** How long idle sockets are left before memory is read (objects hibernate after about 10 s idle). */
const MEMORY_SETTLE_MS = SMOKE ? 4000 : 30_000;
const REST_REQUESTS = Number(process.env.BENCH_REST_REQUESTS ?? (SMOKE ? 100 : 2000));

type Path = "entry" | "direct";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");

// -----------------------------------------------------------------------------------------------
// HTTP and the arrangement: users, one workspace, channels
// -----------------------------------------------------------------------------------------------

interface User {
  id: number;
  token: string;
  displayName: string;
}

async function call(
  base: string,
  method: string,
  path: string,
  options: { token?: string; json?: unknown; form?: Record<string, string> } = {},
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  let body: string | undefined;
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  } else if (options.form) {
    headers["Content-Type"] = "application/x-www-form-urlencoded";
    body = new URLSearchParams(options.form).toString();
  }
  const res = await fetch(`${base}${path}`, { method, headers, body, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, body: parsed };
}

async function ok(base: string, method: string, path: string, options: Parameters<typeof call>[3] = {}) {
  const res = await call(base, method, path, options);
  if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

interface Arrangement {
  users: User[];
  workspaceId: number;
  channels: { fanOut: number; memory: number; rest: number; extra: number };
}

async function arrange(base: string): Promise<Arrangement> {
  const run = Date.now().toString(36);
  const users: User[] = new Array(USERS);
  await measure(USERS, 4, async (i) => {
    const email = `bench-${run}-${i}@example.com`;
    const password = "bench password";
    const reg = await ok(base, "POST", "/auth/register", {
      json: { email, password, display_name: `Bench ${run} ${i}` },
    });
    const tokens = await ok(base, "POST", "/auth/login", { form: { username: email, password } });
    users[i] = { id: reg.id, token: tokens.access_token, displayName: reg.display_name };
  });
  const owner = users[0] as User;
  const ws = await ok(base, "POST", "/workspaces", { token: owner.token, json: { name: `Bench ${run}` } });
  await measure(USERS - 1, 8, async (i) => {
    const user = users[i + 1] as User;
    const invite = await ok(base, "POST", `/workspaces/${ws.id}/invites`, {
      token: owner.token,
      json: { invitee_display_name: user.displayName },
    });
    await ok(base, "POST", `/invites/${invite.id}/accept`, { token: user.token });
  });
  const channel = async (name: string) =>
    (
      await ok(base, "POST", `/workspaces/${ws.id}/channels`, {
        token: owner.token,
        json: { name: `${name}-${run}` },
      })
    ).id as number;
  return {
    users,
    workspaceId: ws.id,
    channels: {
      fanOut: await channel("fanout"),
      memory: await channel("memory"),
      rest: await channel("rest"),
      extra: await channel("extra"),
    },
  };
}

// -----------------------------------------------------------------------------------------------
// Sockets and delivery accounting
// -----------------------------------------------------------------------------------------------

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
  /** Sender acknowledgements: called with the sequence number when a sender sees its own message. */
  onEcho?: (seq: number) => void;
}

let current: Run | null = null;
let runCounter = 0;

interface Client {
  ws: WebSocket;
  /** Subscriber index, or -1 for a sender socket (not counted). */
  index: number;
  handshakeMs: number;
}

const allClients = new Set<Client>();
let pingTick = 0;
// Every socket sends the web app's exact keep-alive every 10 s (the runtime answers it without
// waking the object), so the 25 s idle rule never closes a benchmark socket.
const pinger = setInterval(() => {
  pingTick++;
  let i = 0;
  for (const client of allClients) {
    if (i++ % 10 === pingTick % 10 && client.ws.readyState === WebSocket.OPEN) client.ws.send(PING_FRAME);
  }
}, 1000);
pinger.unref();

function onFrame(client: Client, data: WebSocket.RawData) {
  const run = current;
  if (!run) return;
  const text = data.toString();
  if (text.startsWith('{"type":"error"')) {
    run.errors++;
    return;
  }
  if (!text.startsWith('{"type":"message"')) return;
  const now = performance.now();
  const clientId = (JSON.parse(text) as { payload?: { client_id?: string } }).payload?.client_id;
  if (typeof clientId !== "string" || !clientId.startsWith(run.prefix)) return;
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
}

function socketUrl(base: string, workspaceId: number, channelId: number, token: string) {
  return `${base.replace(/^http/, "ws")}/ws/chat/${workspaceId}/${channelId}?token=${encodeURIComponent(token)}`;
}

function connect(url: string, index: number, deflate: boolean): Promise<Client> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: deflate, handshakeTimeout: 20_000 });
    const client: Client = { ws, index, handshakeMs: 0 };
    ws.on("message", (data) => onFrame(client, data));
    ws.once("unexpected-response", (_req, res) =>
      reject(new Error(`handshake refused: HTTP ${res.statusCode}`)),
    );
    ws.once("error", reject);
    ws.once("open", () => {
      client.handshakeMs = performance.now() - started;
      ws.on("error", () => {});
      allClients.add(client);
      ws.once("close", () => allClients.delete(client));
      resolve(client);
    });
  });
}

interface OpenResult {
  clients: Client[];
  failed: number;
  perSecond: number;
  handshakeMs: number[];
}

/** Opens `count` sockets, HANDSHAKE_BATCH at a time, cycling through the users. */
async function openSockets(
  base: string,
  arrangement: Arrangement,
  channelId: number,
  count: number,
  firstIndex: number,
  deflate = true,
): Promise<OpenResult> {
  const clients: Client[] = [];
  let failed = 0;
  const started = performance.now();
  for (let i = 0; i < count; i += HANDSHAKE_BATCH) {
    const batch = Array.from({ length: Math.min(HANDSHAKE_BATCH, count - i) }, (_, j) => {
      const index = firstIndex + i + j;
      const n = arrangement.users.length;
      const user = arrangement.users[((index % n) + n) % n] as User;
      return connect(socketUrl(base, arrangement.workspaceId, channelId, user.token), index, deflate);
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

function closeAll(clients: Client[]) {
  for (const client of clients) client.ws.terminate();
}

function describeOpen(label: string, opened: OpenResult) {
  return `${label}: ${opened.clients.length} open (${opened.failed} failed), ${fmt(opened.perSecond, 0)} handshakes/s, handshake p50 ${fmt(percentile(opened.handshakeMs, 50))} ms p99 ${fmt(percentile(opened.handshakeMs, 99))} ms`;
}

// -----------------------------------------------------------------------------------------------
// Fan-out runs
// -----------------------------------------------------------------------------------------------

function newRun(total: number, subscribers: number): Run {
  runCounter++;
  return {
    prefix: `r${runCounter}x${Date.now().toString(36)}-`,
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

function sendMessage(sender: Client, run: Run, seq: number) {
  run.sentAt[seq] = performance.now();
  sender.ws.send(
    JSON.stringify({ type: "message", content: `bench message ${seq}`, client_id: `${run.prefix}${seq}` }),
  );
}

async function waitForDeliveries(run: Run, expected: number, deadline: number) {
  while (run.unique < expected && performance.now() < deadline) await sleep(20);
}

interface RunFigures {
  sent: number;
  expected: number;
  delivered: number;
  lost: number;
  duplicates: number;
  errors: number;
  p50: number;
  p99: number;
  max: number;
  deliveriesPerSecond: number;
  messagesPerSecond: number;
  wallSeconds: number;
  clientCpu: number;
  workerdCpu: number;
  bridgeCpu: number;
  otherCpu: number;
}

/** The bridge process of the running stack, whose CPU is reported apart from the clients'. */
let bridgePid: number | undefined;

function cpuMeter() {
  const pids = workerdPids();
  const workerd = () => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  const bridge = () => (bridgePid ? cpuSeconds(bridgePid) : Number.NaN);
  const client0 = process.cpuUsage();
  const workerd0 = workerd();
  const bridge0 = bridge();
  const machine0 = machineBusySeconds();
  const t0 = performance.now();
  return () => {
    const used = process.cpuUsage(client0);
    const clientCpu = (used.user + used.system) / 1e6;
    const workerdCpu = workerd() - workerd0;
    const bridgeCpu = bridge() - bridge0;
    return {
      clientCpu,
      workerdCpu,
      bridgeCpu,
      /** Everything else the machine did meanwhile: PostgreSQL, Redis, and any other load. */
      otherCpu: machineBusySeconds() - machine0 - clientCpu - workerdCpu - (bridgeCpu || 0),
      wallSeconds: (performance.now() - t0) / 1000,
    };
  };
}

function figures(
  run: Run,
  subscribers: number,
  firstSendAt: number,
  cpu: ReturnType<ReturnType<typeof cpuMeter>>,
) {
  const expected = run.total * subscribers;
  const span = (run.lastDeliveryAt - firstSendAt) / 1000;
  return {
    sent: run.total,
    expected,
    delivered: run.unique,
    lost: expected - run.unique,
    duplicates: run.duplicates,
    errors: run.errors,
    p50: percentile(run.latencies, 50),
    p99: percentile(run.latencies, 99),
    max: percentile(run.latencies, 100),
    deliveriesPerSecond: run.unique / span,
    messagesPerSecond: run.total / span,
    ...cpu,
  } satisfies RunFigures;
}

/** One sender posts over its socket at a fixed rate (client-clock scheduled, no drift). */
async function steadyRun(
  sender: Client,
  subscribers: number,
  rate: number,
  seconds: number,
): Promise<RunFigures> {
  const total = Math.round(rate * seconds);
  const run = newRun(total, subscribers);
  current = run;
  const meter = cpuMeter();
  const start = performance.now();
  for (let seq = 0; seq < total; seq++) {
    const due = start + (seq * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    sendMessage(sender, run, seq);
  }
  await waitForDeliveries(run, total * subscribers, performance.now() + 15_000);
  const cpu = meter();
  current = null;
  return figures(run, subscribers, start, cpu);
}

/**
 * Senders post as fast as the object takes them: each keeps `window` messages in flight and sends
 * the next when its own earlier message comes back to it (the object stored and broadcast it).
 */
async function fullSpeedRun(senders: Client[], subscribers: number, total: number, window: number) {
  const run = newRun(total, subscribers);
  let next = 0;
  const inFlight = new Map<number, Client>();
  const sendNext = (sender: Client) => {
    if (next >= total) return;
    const seq = next++;
    inFlight.set(seq, sender);
    sendMessage(sender, run, seq);
  };
  run.onEcho = (seq) => {
    const sender = inFlight.get(seq);
    if (!sender) return;
    inFlight.delete(seq);
    sendNext(sender);
  };
  current = run;
  const meter = cpuMeter();
  const start = performance.now();
  for (const sender of senders) for (let i = 0; i < window; i++) sendNext(sender);
  const deadline = start + 60_000;
  // Senders stall if an echo is lost (a refused post): top up from the timer too.
  while (run.unique < total * subscribers && performance.now() < deadline) {
    await sleep(50);
    if (next < total && inFlight.size === 0) for (const sender of senders) sendNext(sender);
  }
  const cpu = meter();
  current = null;
  return figures(run, subscribers, start, cpu);
}

function printRun(label: string, f: RunFigures) {
  console.log(
    `  ${label.padEnd(34)} p50 ${fmt(f.p50).padStart(7)} ms  p99 ${fmt(f.p99).padStart(7)} ms  max ${fmt(f.max).padStart(7)} ms  ` +
      `${fmt(f.deliveriesPerSecond, 0).padStart(7)} deliveries/s (${fmt(f.messagesPerSecond, 0)} msg/s)  ` +
      `delivered ${f.delivered}/${f.expected}  lost ${f.lost}  dup ${f.duplicates}  err ${f.errors}  ` +
      `cpu: workerd ${fmt(f.workerdCpu, 2)} s, clients ${fmt(f.clientCpu, 2)} s, bridge ${fmt(f.bridgeCpu, 2)} s, rest of machine ${fmt(f.otherCpu, 2)} s in ${fmt(f.wallSeconds, 2)} s`,
  );
}

// -----------------------------------------------------------------------------------------------
// Scenarios
// -----------------------------------------------------------------------------------------------

function workerdRssKiB(): number {
  const pids = workerdPids();
  if (pids.length === 0) throw new Error("no workerd process found under this one");
  return pids.reduce((sum, pid) => sum + rssKiB(pid), 0);
}

async function extensionsSeen(base: string, arrangement: Arrangement, deflate = true): Promise<string> {
  const opened = await openSockets(base, arrangement, arrangement.channels.extra, 1, 100_000, deflate);
  const client = opened.clients[0];
  const seen = client ? client.ws.extensions || "(none)" : "(handshake failed)";
  closeAll(opened.clients);
  return seen;
}

/**
 * Memory per idle socket, read twice: 3 s after the sockets opened (the channel's object awake,
 * the handshakes' garbage not yet collected) and once the object has had MEMORY_SETTLE_MS to
 * settle (an idle object hibernates: its sockets stay open in the runtime, its JavaScript is
 * evicted). The baseline is read the same way, with one socket open and settled.
 */
async function memoryPerIdleSocket(base: string, arrangement: Arrangement, count: number, deflate = true) {
  const warm = await openSockets(base, arrangement, arrangement.channels.memory, 1, 200_000, deflate);
  await sleep(MEMORY_SETTLE_MS);
  const before = workerdRssKiB();
  const opened = await openSockets(base, arrangement, arrangement.channels.memory, count, 200_001, deflate);
  await sleep(3000);
  const awake = workerdRssKiB();
  const meter = cpuMeter();
  await sleep(MEMORY_SETTLE_MS - 3000);
  const after = workerdRssKiB();
  const idle = meter();
  const stillOpen = opened.clients.filter((c) => c.ws.readyState === WebSocket.OPEN).length;
  closeAll([...warm.clients, ...opened.clients]);
  await sleep(1500);
  const per = (kib: number) => (kib - before) / opened.clients.length;
  return {
    before,
    awake,
    after,
    opened,
    stillOpen,
    awakePerSocketKiB: per(awake),
    perSocketKiB: per(after),
    idleCpuShare: idle.workerdCpu / idle.wallSeconds,
  };
}

async function fanOutSuite(
  base: string,
  arrangement: Arrangement,
  channelId: number,
  sizes: number[],
  options: { deflate?: boolean; fullSpeedTotal: (subscribers: number) => number },
) {
  const deflate = options.deflate ?? true;
  const sendersOpen = await openSockets(base, arrangement, channelId, 4, -1, deflate);
  const senders = sendersOpen.clients;
  for (const sender of senders) sender.index = -1;
  if (senders.length < 4) throw new Error("could not open the sender sockets");
  console.log(`  sender sockets: ${senders.length} (extensions: ${senders[0]?.ws.extensions || "(none)"})`);
  const subscribers: Client[] = [];
  for (const size of sizes) {
    const opened = await openSockets(
      base,
      arrangement,
      channelId,
      size - subscribers.length,
      subscribers.length,
      deflate,
    );
    subscribers.push(...opened.clients);
    console.log(
      `  ${describeOpen(`+${size - (subscribers.length - opened.clients.length)} subscribers`, opened)}`,
    );
    if (subscribers.length !== size) {
      console.log(`  only ${subscribers.length} of ${size} subscribers open; skipping this size`);
      continue;
    }
    await sleep(OPEN_SETTLE_MS);
    printRun(`${size} subscribers, 20 msg/s for 5 s`, await steadyRun(senders[0] as Client, size, 20, 5));
    await sleep(500);
    const total = options.fullSpeedTotal(size);
    printRun(`${size} subscribers, full speed (${total} msgs)`, await fullSpeedRun(senders, size, total, 8));
    await sleep(500);
  }
  closeAll([...senders, ...subscribers]);
  await sleep(1500);
}

async function restSuite(base: string, arrangement: Arrangement) {
  const channelId = arrangement.channels.rest;
  const clients = arrangement.users.slice(0, 16);
  const token = (i: number) => (clients[i % clients.length] as User).token;
  const postOnce = async (i: number) => {
    const res = await fetch(`${base}/channels/${channelId}/messages`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token(i)}`, "Content-Type": "application/json" },
      body: JSON.stringify({ content: `rest message ${i}` }),
    });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`POST messages: ${res.status}`);
  };
  const listOnce = async (i: number) => {
    const res = await fetch(`${base}/channels/${channelId}/messages`, {
      headers: { Authorization: `Bearer ${token(i)}` },
    });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`GET messages: ${res.status}`);
  };
  await measure(64, 16, postOnce); // warm-up: isolates, session cache, the channel's object
  await measure(64, 16, listOnce);
  let meter = cpuMeter();
  const posts = await measure(REST_REQUESTS, 16, postOnce);
  const postCpu = meter();
  meter = cpuMeter();
  const lists = await measure(REST_REQUESTS, 16, listOnce);
  const listCpu = meter();
  console.log(
    `  ${summarise("POST /channels/{id}/messages, 16 concurrent", posts)}   cpu: workerd ${fmt(postCpu.workerdCpu, 2)} s, clients ${fmt(postCpu.clientCpu, 2)} s, bridge ${fmt(postCpu.bridgeCpu, 2)} s, rest of machine ${fmt(postCpu.otherCpu, 2)} s in ${fmt(postCpu.wallSeconds, 2)} s`,
  );
  console.log(
    `  ${summarise("GET /channels/{id}/messages (50), 16 concurrent", lists)}   cpu: workerd ${fmt(listCpu.workerdCpu, 2)} s, clients ${fmt(listCpu.clientCpu, 2)} s, bridge ${fmt(listCpu.bridgeCpu, 2)} s, rest of machine ${fmt(listCpu.otherCpu, 2)} s in ${fmt(listCpu.wallSeconds, 2)} s`,
  );
}

function baseOf(stack: BenchStack, path: Path): string {
  if (path === "direct") {
    if (!stack.directUrl) throw new Error("the stack has no direct socket");
    return stack.directUrl;
  }
  return stack.url;
}

const fullSpeedTotal = (subscribers: number) =>
  subscribers >= 1000 ? 200 : subscribers >= 100 ? 1000 : 2000;

// -----------------------------------------------------------------------------------------------
// Main
// -----------------------------------------------------------------------------------------------

console.log(`channel benchmark (${new Date().toISOString()}, ${process.platform}, node ${process.version})`);
console.log(
  `clients: ws ${"offering permessage-deflate"} in this process; ${USERS} users share the sockets (1000 = ${USERS} x ${1000 / USERS}); senders: 4 extra sockets (1 for the steady rate), which receive every message too`,
);
const otherPath: Path = MAIN_PATH === "direct" ? "entry" : "direct";

let stack = await startStack(SETTINGS, { directSocket: true, bridgeProcess: true, pooler: POOLED });
bridgePid = stack.bridgePid;
try {
  const t0 = performance.now();
  const setupBase = baseOf(stack, MAIN_PATH);
  const arrangement = await arrange(setupBase);
  console.log(
    `\n[stack A] flags ${JSON.stringify(stack.compatibilityFlags)}; workerd pids ${workerdPids().join(",")}; database ${stack.pooled ? "through PgBouncer (transaction pooling)" : "direct"}`,
  );
  console.log(
    `  arranged ${USERS} users, workspace, channels in ${fmt((performance.now() - t0) / 1000, 1)} s`,
  );
  for (const path of ["entry", "direct"] as const) {
    console.log(
      `  extensions negotiated via ${path}: ${await extensionsSeen(baseOf(stack, path), arrangement)}`,
    );
  }

  console.log(
    "\n[memory per idle socket] (workerd VmRSS before/after opening N idle sockets in one channel)",
  );
  for (const path of want("memory") ? [MAIN_PATH, otherPath] : []) {
    const m = await memoryPerIdleSocket(baseOf(stack, path), arrangement, BIG);
    console.log(
      `  via ${path}: ${m.opened.clients.length} sockets (${m.stillOpen} still open when read): ${m.before} KiB -> ${m.after} KiB settled = ${fmt(m.perSocketKiB, 1)} KiB per socket (3 s after opening: ${fmt(m.awakePerSocketKiB, 1)} KiB); workerd CPU while they idle (pinging every 10 s): ${fmt(m.idleCpuShare * 100, 1)}%; ${describeOpen("open", m.opened)}`,
    );
  }

  if (want("fanout")) {
    console.log(`\n[fan-out] one channel, via ${MAIN_PATH}`);
    await fanOutSuite(
      baseOf(stack, MAIN_PATH),
      arrangement,
      arrangement.channels.fanOut,
      SMOKE ? [1, 10] : [1, 100, 1000],
      {
        fullSpeedTotal,
      },
    );
    console.log(`\n[fan-out] one channel, via ${otherPath}, 1000 subscribers`);
    await fanOutSuite(baseOf(stack, otherPath), arrangement, arrangement.channels.extra, [BIG], {
      fullSpeedTotal,
    });
  }
  if (want("rest")) {
    console.log(`\n[REST] via ${MAIN_PATH}, 16 users, channel without sockets`);
    await restSuite(baseOf(stack, MAIN_PATH), arrangement);
    console.log(`\n[REST] via ${otherPath}`);
    await restSuite(baseOf(stack, otherPath), arrangement);
  }
} finally {
  closeAll([...allClients]);
  await stack.stop();
}

if (want("deflate")) {
  stack = await startStack(SETTINGS, {
    directSocket: true,
    bridgeProcess: true,
    pooler: POOLED,
    compatibilityFlags: (flags) => flags.filter((flag) => flag !== "no_web_socket_compression"),
  });
  bridgePid = stack.bridgePid;
  try {
    const arrangement = await arrange(baseOf(stack, "direct"));
    console.log(
      `\n[stack B] flags ${JSON.stringify(stack.compatibilityFlags)} (no_web_socket_compression removed)`,
    );
    for (const path of ["entry", "direct"] as const) {
      console.log(
        `  extensions negotiated via ${path}: ${await extensionsSeen(baseOf(stack, path), arrangement)}`,
      );
    }
    const m = await memoryPerIdleSocket(baseOf(stack, "direct"), arrangement, BIG);
    console.log(
      `  memory via direct: ${m.opened.clients.length} sockets: ${m.before} KiB -> ${m.after} KiB = ${fmt(m.perSocketKiB, 1)} KiB per socket`,
    );
    console.log("  [fan-out] via direct, 1000 subscribers, client offers deflate");
    await fanOutSuite(baseOf(stack, "direct"), arrangement, arrangement.channels.fanOut, [BIG], {
      fullSpeedTotal,
    });
    console.log("  [fan-out] via direct, 1000 subscribers, client does not offer deflate");
    await fanOutSuite(baseOf(stack, "direct"), arrangement, arrangement.channels.extra, [BIG], {
      fullSpeedTotal,
      deflate: false,
    });
  } finally {
    closeAll([...allClients]);
    await stack.stop();
  }
}
process.exit(0);

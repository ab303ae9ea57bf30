/**
 * A small server speaking Upstash's REST protocol in front of a real redis-server, so the Worker's
 * @upstash/redis client can talk to a local or self-hosted Redis (development, tests, self-hosting).
 *
 *   POST /            one command as a JSON array            -> {"result": ...} | {"error": "..."} (400)
 *   POST /pipeline    an array of commands                   -> [{"result"}|{"error"}, ...]
 *   POST /multi-exec  an array of commands, run in MULTI/EXEC -> [{"result"}|{"error"}, ...]
 *   GET  /health      200 (for container health checks; reports the Redis connection state)
 *
 * `Authorization: Bearer <token>` is required. With `Upstash-Encoding: base64` (what @upstash/redis sends by
 * default) every string in a result is base64-encoded, recursively in arrays; numbers and nulls are not,
 * nor are error messages. Commands are passed through generically (EVAL/EVALSHA/SCRIPT included), except the
 * few that would change or block the shared connection (SELECT, MULTI, SUBSCRIBE, BLPOP, CLIENT, ...).
 *
 * Scripts: Upstash accepts shebang flags Redis does not know (@upstash/ratelimit's scripts start with
 * `#!lua flags=allow-key-locking`, which Redis 7 refuses with "Unexpected flag in script shebang"). The bridge
 * drops such flags before Redis sees a script (EVAL, EVAL_RO, SCRIPT LOAD) and remembers which SHA1 the client
 * knows the script by, so EVALSHA, EVALSHA_RO and SCRIPT EXISTS with the client's SHA1 reach the loaded script
 * and SCRIPT LOAD answers the client's SHA1, as Upstash would.
 * When Redis is unreachable, commands answer 500 {"error": "Redis unavailable: ..."} at once.
 *
 * Run: UPSTASH_BRIDGE_TOKEN=... [REDIS_URL=redis://127.0.0.1:6379] [UPSTASH_BRIDGE_PORT=8079]
 *      [UPSTASH_BRIDGE_HOST=127.0.0.1] tsx scripts/upstash-bridge.ts
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { realpathSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { Command, Redis, ReplyError } from "ioredis";

export interface UpstashBridgeOptions {
  redisUrl: string;
  /** Bearer token clients must present. */
  token: string;
  /** Default 8079; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Largest accepted request body in bytes (413 above). Default 1 MiB. */
  maxBodyBytes?: number;
  /** A command without a Redis reply after this many milliseconds fails (500). Default 1000. */
  commandTimeoutMs?: number;
  /** Receives operational events (Redis connection state changes). Default: discarded. */
  log?: (event: Record<string, unknown>) => void;
}

export interface UpstashBridge {
  /** Base URL for @upstash/redis, e.g. http://127.0.0.1:8079 */
  url: string;
  close(): Promise<void>;
}

type Arg = string | number;
type RawCommand = [string, ...Arg[]];

const DEFAULT_PORT = 8079;
const DEFAULT_HOST = "127.0.0.1";
const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
const DEFAULT_COMMAND_TIMEOUT_MS = 1000;
/** How long startUpstashBridge waits for the first Redis connection (it starts anyway after that). */
const INITIAL_CONNECT_WAIT_MS = 2000;

/** Commands that would change, block or take over the bridge's single shared Redis connection. */
const DENIED_COMMANDS = new Set([
  "AUTH",
  "BLMOVE",
  "BLMPOP",
  "BLPOP",
  "BRPOP",
  "BRPOPLPUSH",
  "BZMPOP",
  "BZPOPMAX",
  "BZPOPMIN",
  "CLIENT",
  "DISCARD",
  "EXEC",
  "HELLO",
  "MONITOR",
  "MULTI",
  "PSUBSCRIBE",
  "PSYNC",
  "PUNSUBSCRIBE",
  "QUIT",
  "REPLICAOF",
  "RESET",
  "SELECT",
  "SHUTDOWN",
  "SLAVEOF",
  "SSUBSCRIBE",
  "SUBSCRIBE",
  "SUNSUBSCRIBE",
  "SYNC",
  "UNSUBSCRIBE",
  "UNWATCH",
  "WAIT",
  "WAITAOF",
  "WATCH",
]);

/** Shebang flags Redis 7 knows (https://redis.io/docs/latest/develop/programmability/lua-api/ "Script flags"). */
const REDIS_SCRIPT_FLAGS = new Set([
  "no-writes",
  "allow-oom",
  "allow-stale",
  "no-cluster",
  "allow-cross-slot-keys",
]);
/** Remembered client SHA1s at most; past that the map starts over (a miss only costs the client one EVAL). */
const MAX_SCRIPT_ALIASES = 1000;

const sha1 = (text: string) => createHash("sha1").update(text).digest("hex");

/**
 * The script with the shebang flags Redis does not know removed; the script itself when there are none. A
 * shebang left without flags is dropped whole (its line kept empty, so error line numbers still match): the
 * script then runs as a plain EVAL script, which is how Redis ran every script before shebangs existed.
 */
export function redisCompatibleScript(script: string): string {
  const shebang = /^#!([^\n]*)/.exec(script);
  if (!shebang) return script;
  const words = (shebang[1] ?? "").trim().split(/\s+/);
  const flagsWord = words.find((word) => word.startsWith("flags="));
  if (flagsWord === undefined) return script;
  const flags = flagsWord.slice("flags=".length).split(",").filter(Boolean);
  const kept = flags.filter((flag) => REDIS_SCRIPT_FLAGS.has(flag));
  if (kept.length === flags.length) return script;
  const rest = script.slice(shebang[0].length);
  if (kept.length === 0) return rest;
  const line = words.map((word) => (word === flagsWord ? `flags=${kept.join(",")}` : word)).join(" ");
  return `#!${line}${rest}`;
}

/** A command as Redis is to receive it, and how to turn Redis' reply into the one the client expects. */
interface PreparedCommand {
  command: RawCommand;
  reply?: (value: unknown) => unknown;
}

/** Translates scripts and script SHA1s between the client's view (Upstash) and Redis' (see the header). */
class ScriptAliases {
  /** The SHA1 a client knows a script by -> the SHA1 of the script Redis was given. */
  private readonly redisSha = new Map<string, string>();

  private rewrite(script: string): { script: string; clientSha: string } | null {
    const compatible = redisCompatibleScript(script);
    if (compatible === script) return null;
    const clientSha = sha1(script);
    if (!this.redisSha.has(clientSha)) {
      if (this.redisSha.size >= MAX_SCRIPT_ALIASES) this.redisSha.clear();
      this.redisSha.set(clientSha, sha1(compatible));
    }
    return { script: compatible, clientSha };
  }

  private sha(value: Arg): Arg {
    return typeof value === "string" ? (this.redisSha.get(value.toLowerCase()) ?? value) : value;
  }

  prepare(command: RawCommand): PreparedCommand {
    const name = command[0].toUpperCase();
    const args = command.slice(1) as Arg[];
    if ((name === "EVAL" || name === "EVAL_RO") && typeof args[0] === "string") {
      const rewritten = this.rewrite(args[0]);
      if (rewritten) return { command: [command[0], rewritten.script, ...args.slice(1)] };
    } else if ((name === "EVALSHA" || name === "EVALSHA_RO") && args[0] !== undefined) {
      return { command: [command[0], this.sha(args[0]), ...args.slice(1)] };
    } else if (name === "SCRIPT" && typeof args[0] === "string") {
      const sub = args[0].toUpperCase();
      if (sub === "LOAD" && typeof args[1] === "string") {
        const rewritten = this.rewrite(args[1]);
        if (rewritten) {
          const clientSha = rewritten.clientSha;
          return { command: [command[0], args[0], rewritten.script], reply: () => clientSha };
        }
      } else if (sub === "EXISTS") {
        return { command: [command[0], args[0], ...args.slice(1).map((arg) => this.sha(arg))] };
      }
    }
    return { command };
  }
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Redis could not be used (not connected, connection lost, no reply in time): answered with 500. */
class RedisUnavailableError extends Error {}

function isCommand(value: unknown): value is RawCommand {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    typeof value[0] === "string" &&
    value[0].length > 0 &&
    value.every((arg) => typeof arg === "string" || (typeof arg === "number" && Number.isFinite(arg)))
  );
}

function checkAllowed(command: RawCommand): void {
  const name = command[0].toUpperCase();
  const blockingRead =
    (name === "XREAD" || name === "XREADGROUP") &&
    command.some((arg, i) => i > 0 && String(arg).toUpperCase() === "BLOCK");
  if (DENIED_COMMANDS.has(name) || blockingRead) {
    throw new HttpError(400, `ERR command '${command[0]}' is not supported by this bridge`);
  }
}

function parseSingle(body: unknown): RawCommand {
  if (!isCommand(body)) {
    throw new HttpError(400, "ERR invalid body: expected a JSON array of strings and numbers (one command)");
  }
  checkAllowed(body);
  return body;
}

function parseBatch(body: unknown): RawCommand[] {
  if (!Array.isArray(body) || body.length === 0 || !body.every(isCommand)) {
    throw new HttpError(400, "ERR invalid body: expected a non-empty JSON array of commands");
  }
  for (const command of body) checkAllowed(command);
  return body;
}

/** Converts a RESP2 reply (Buffers, numbers, nulls, nested arrays, nested errors) to JSON. */
function toJson(reply: unknown, base64: boolean): unknown {
  if (reply === null || reply === undefined) return null;
  if (typeof reply === "number") return reply;
  if (Buffer.isBuffer(reply)) return base64 ? reply.toString("base64") : reply.toString("utf8");
  if (typeof reply === "string") return base64 ? Buffer.from(reply).toString("base64") : reply;
  if (Array.isArray(reply)) return reply.map((item) => toJson(item, base64));
  // An error nested in an array reply (e.g. a script returning redis.error_reply inside a table).
  if (reply instanceof Error) return toJson(reply.message, base64);
  return toJson(String(reply), base64);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function unavailable(error: unknown): RedisUnavailableError {
  return new RedisUnavailableError(`Redis unavailable: ${messageOf(error)}`);
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) return;
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(payload)),
    ...headers,
  });
  res.end(payload);
}

/** Reads the body up to `max` bytes; null when it is larger (the rest is drained by node:http). */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on("data", (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > max) {
        done = true;
        resolve(null);
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (done) return;
      done = true;
      resolve(Buffer.concat(chunks));
    });
    req.on("error", (error) => {
      if (done) return;
      done = true;
      reject(error);
    });
  });
}

export async function startUpstashBridge(options: UpstashBridgeOptions): Promise<UpstashBridge> {
  if (!options.token) throw new Error("startUpstashBridge: token is required");
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  const log = options.log ?? (() => {});
  const expectedDigest = createHash("sha256").update(options.token).digest();

  const redis = new Redis(options.redisUrl, {
    protocol: 2,
    connectionName: "upstash-bridge",
    disableClientInfo: true,
    // Fail fast instead of queueing while disconnected, and never replay commands after a reconnect.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    autoResubscribe: false,
    enableAutoPipelining: false,
    connectTimeout: 1000,
    commandTimeout: commandTimeoutMs,
    socketTimeout: Math.max(5000, commandTimeoutMs * 2),
    // Keep trying to reconnect, at most one second apart.
    retryStrategy: (times) => Math.min(times * 50, 1000),
  });
  let redisHealthy = true;
  redis.on("error", (error: Error) => {
    // Without a listener ioredis would report every failed reconnect as an unhandled error.
    if (redisHealthy) log({ level: "warn", msg: "redis connection error", error: error.message });
    redisHealthy = false;
  });
  redis.on("ready", () => {
    if (!redisHealthy) log({ level: "info", msg: "redis connection ready" });
    redisHealthy = true;
  });

  /** Sends one command as-is: upper-case names bypass ioredis' reply transformers, replies stay Buffers. */
  const sendRaw = (command: RawCommand): Promise<unknown> => {
    if (redis.status !== "ready") {
      return Promise.reject(new RedisUnavailableError(`not connected (connection ${redis.status})`));
    }
    const [name, ...args] = command;
    const cmd = new Command(
      name.toUpperCase(),
      args.map((arg) => String(arg)),
      { replyEncoding: null },
    );
    redis.sendCommand(cmd);
    return cmd.promise;
  };

  const settle = async (promises: Promise<unknown>[]) => {
    const settled = await Promise.allSettled(promises);
    for (const outcome of settled) {
      if (outcome.status === "rejected" && !(outcome.reason instanceof ReplyError)) {
        throw unavailable(outcome.reason);
      }
    }
    return settled;
  };

  const scripts = new ScriptAliases();
  /** Sends a command after the script translation, and translates its reply back. */
  const sendPrepared = (command: RawCommand): Promise<unknown> => {
    const prepared = scripts.prepare(command);
    const sent = sendRaw(prepared.command);
    return prepared.reply ? sent.then(prepared.reply) : sent;
  };

  const entry = (outcome: PromiseSettledResult<unknown>, base64: boolean) =>
    outcome.status === "fulfilled"
      ? { result: toJson(outcome.value, base64) }
      : { error: messageOf(outcome.reason) };

  const runSingle = async (command: RawCommand, base64: boolean) => {
    const [outcome] = await settle([sendPrepared(command)]);
    if (outcome?.status === "fulfilled")
      return { status: 200, body: { result: toJson(outcome.value, base64) } };
    return { status: 400, body: { error: messageOf(outcome?.reason) } };
  };

  const runPipeline = async (commands: RawCommand[], base64: boolean) => {
    // Written back to back on the shared connection; not atomic (that is /multi-exec).
    const settled = await settle(commands.map(sendPrepared));
    return { status: 200, body: settled.map((outcome) => entry(outcome, base64)) };
  };

  const runTransaction = async (commands: RawCommand[], base64: boolean) => {
    // MULTI, the commands and EXEC are written synchronously one after the other, so no other request's
    // command can land inside the transaction on the shared connection.
    const prepared = commands.map((command) => scripts.prepare(command));
    const promises = [sendRaw(["MULTI"]), ...prepared.map((p) => sendRaw(p.command)), sendRaw(["EXEC"])];
    const settled = await settle(promises);
    const exec = settled[settled.length - 1];
    if (exec?.status === "rejected") {
      // EXECABORT: a command was refused while queueing (syntax, unknown command); nothing ran.
      const queued = settled.slice(1, -1).find((outcome) => outcome.status === "rejected");
      const detail = queued?.status === "rejected" ? ` (${messageOf(queued.reason).trim()})` : "";
      return { status: 400, body: { error: `${messageOf(exec.reason)}${detail}` } };
    }
    const replies = exec?.status === "fulfilled" ? exec.value : null;
    if (!Array.isArray(replies) || replies.length !== commands.length) {
      throw new RedisUnavailableError("Redis unavailable: unexpected EXEC reply");
    }
    const body = replies.map((reply: unknown, i: number) => {
      if (reply instanceof Error) return { error: reply.message };
      const translate = prepared[i]?.reply;
      return { result: toJson(translate ? translate(reply) : reply, base64) };
    });
    return { status: 200, body };
  };

  const isAuthorized = (header: string | undefined): boolean => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
    const digest = createHash("sha256")
      .update(match?.[1] ?? "")
      .digest();
    return timingSafeEqual(digest, expectedDigest) && match !== null;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/health") {
      if (req.method !== "GET" && req.method !== "HEAD") {
        send(res, 405, { error: "Method Not Allowed" }, { allow: "GET, HEAD" });
        return;
      }
      send(res, 200, { status: "ok", redis: redis.status });
      return;
    }
    if (path !== "/" && path !== "/pipeline" && path !== "/multi-exec") {
      send(res, 404, { error: "Not Found" });
      return;
    }
    if (req.method !== "POST") {
      send(res, 405, { error: "Method Not Allowed" }, { allow: "POST" });
      return;
    }
    if (!isAuthorized(req.headers.authorization)) {
      send(res, 401, { error: "Unauthorized" });
      return;
    }
    const declaredLength = Number(req.headers["content-length"] ?? "0");
    const raw = declaredLength > maxBodyBytes ? null : await readBody(req, maxBodyBytes);
    if (raw === null) {
      send(res, 413, { error: `ERR request body larger than ${maxBodyBytes} bytes` });
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(raw.toString("utf8"));
    } catch {
      throw new HttpError(400, "ERR invalid body: not JSON");
    }
    const base64 = String(req.headers["upstash-encoding"] ?? "").toLowerCase() === "base64";
    const outcome =
      path === "/"
        ? await runSingle(parseSingle(body), base64)
        : path === "/pipeline"
          ? await runPipeline(parseBatch(body), base64)
          : await runTransaction(parseBatch(body), base64);
    send(res, outcome.status, outcome.body);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (error instanceof HttpError) send(res, error.status, { error: error.message });
      else if (error instanceof RedisUnavailableError) send(res, 500, { error: error.message });
      else send(res, 500, { error: `ERR bridge failure: ${messageOf(error)}` });
    });
  });

  // Give Redis a moment to connect so the first requests do not fail; start anyway when it is down.
  if (redis.status !== "ready") {
    await new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        redis.off("ready", finish);
        redis.off("error", finish);
        resolve();
      };
      const timer = setTimeout(finish, INITIAL_CONNECT_WAIT_MS);
      redis.once("ready", finish);
      redis.once("error", finish);
    });
  }

  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? DEFAULT_PORT, options.host ?? DEFAULT_HOST, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    redis.disconnect();
    throw error;
  }
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }).finally(() => redis.disconnect());
      return closing;
    },
  };
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparseable REDIS_URL)";
  }
}

async function main(): Promise<void> {
  const logLine = (event: Record<string, unknown>) =>
    console.log(JSON.stringify({ time: new Date().toISOString(), ...event }));
  const token = process.env.UPSTASH_BRIDGE_TOKEN;
  if (!token) {
    console.error("upstash-bridge: UPSTASH_BRIDGE_TOKEN is required (the Bearer token clients must send)");
    process.exit(1);
  }
  const portText = process.env.UPSTASH_BRIDGE_PORT ?? String(DEFAULT_PORT);
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) {
    console.error(`upstash-bridge: UPSTASH_BRIDGE_PORT must be a port number, got "${portText}"`);
    process.exit(1);
  }
  const redisUrl = process.env.REDIS_URL || "redis://127.0.0.1:6379";
  const bridge = await startUpstashBridge({
    redisUrl,
    token,
    port,
    host: process.env.UPSTASH_BRIDGE_HOST || DEFAULT_HOST,
    log: logLine,
  });
  logLine({ level: "info", msg: "upstash bridge listening", url: bridge.url, redis: redactUrl(redisUrl) });
  const shutdown = (signal: string) => {
    logLine({ level: "info", msg: "upstash bridge stopping", signal });
    bridge.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}

const invokedDirectly = (() => {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
})();

if (invokedDirectly) {
  main().catch((error: unknown) => {
    console.error(`upstash-bridge: ${messageOf(error)}`);
    process.exit(1);
  });
}

/**
 * One socket that stays connected: it opens with the token in `Sec-WebSocket-Protocol`
 * (`bearer, <token>`, kept out of URLs and logs), pings, and after a close does what the server's
 * close code says (realtime/protocol/close-codes.ts `closeAdvice`): reconnects after a capped
 * exponential backoff with jitter, asks the app for a fresh token first ("Token expired"), or stops
 * (signed out, lost access). What goes over the socket is the owner's (conversation.ts,
 * notifications.ts).
 *
 * Browsers cannot see why a handshake was refused (a 403 looks like a network failure), so a
 * refused handshake is retried with backoff like one, and a token the app hands over already expired
 * is refreshed before connecting.
 *
 * After a closing handshake a WebSocket reports the close only once the server drops the TCP
 * connection, which workerd delays until the object holding the socket goes idle (seconds).
 * Browsers stop waiting after about 2 s; Node's `ws` after 30 s, so a socket closing for longer than
 * CLOSE_GRACE_MS is terminated here (when the class can), and its close, with the server's code
 * and reason, is acted on at once. (Node's built-in WebSocket has no way to do that: in Node, pass
 * the `ws` package's class.)
 */
import { CLOSE_CODES, closeAdvice } from "../realtime/protocol/close-codes";
import { RealtimeError } from "./errors";

/**
 * What the client needs of a WebSocket: the browser's, Node's (22+), or the `ws` package's. The
 * handlers' event types differ between them (`never` here accepts each); the client reads
 * `data` of a message event and `code` and `reason` of a close event, which all of them have.
 */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /** The `ws` package's: drops the connection at once (see CLOSE_GRACE_MS). */
  terminate?(): void;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export interface ConnectionOptions {
  /** The API's base URL, as for the REST client: `https://api.example` (sockets use wss:). */
  baseUrl: string;
  /**
   * The access token, asked for at every (re)connect. `expired` is true after the server closed the
   * socket because the token expired (or the one returned had expired): return a fresh one then
   * (POST /auth/refresh). A callback that throws is retried with backoff.
   */
  token: (context: { expired: boolean }) => string | Promise<string>;
  /** The WebSocket class: the global one by default; in Node before 22, pass the `ws` package's. */
  WebSocket?: WebSocketConstructor;
  /** Reconnect delays: from `initialDelayMs` (500), doubling up to `maxDelayMs` (30 s), with jitter. */
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number };
  /** How often to send the keep-alive (10 s; the server closes sockets silent for 25 s). */
  pingIntervalMs?: number;
}

export type ConnectionState =
  | { state: "connecting"; attempt: number }
  /** Open; `reconnected` after a lost connection (a notification client re-fetches its lists then). */
  | { state: "open"; reconnected: boolean }
  /** Lost (or refused); the next attempt after `delayMs`. */
  | { state: "reconnecting"; attempt: number; delayMs: number; code: number; reason: string }
  | { state: "stopped"; error: RealtimeError };

export interface ConnectionHooks {
  /** The socket's path and query, asked at every connect (`since` moves). */
  path(): string;
  /** The keep-alive frame; when the server answers it (`pong`), a silent socket is dropped. */
  ping: { text: string; answered: boolean };
  opened(reconnected: boolean): void;
  frame(text: string): void;
  state(state: ConnectionState): void;
  problem(error: RealtimeError): void;
}

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
/** How long a closing socket may wait for the server to drop the connection. */
const CLOSE_GRACE_MS = 1_000;
/** A handshake that takes longer is given up and retried. */
const HANDSHAKE_TIMEOUT_MS = 15_000;
/** How often the watchdog looks at the socket (pings, silence, a stuck handshake or close). */
const TICK_MS = 250;
/** A connection that lasted this long resets the backoff. */
const STABLE_MS = 5_000;
/** Our own close code when pings go unanswered (4000-4999 are the application's). */
const NO_ANSWER = 4000;

/** Clears a timer, if any (the runtimes' typings disagree on what else clearTimeout takes). */
export function cancel(timer: ReturnType<typeof setTimeout> | undefined): void {
  if (timer !== undefined) clearTimeout(timer);
}

/** The `exp` of a JWT, in ms, or null (the token is opaque to the client otherwise). */
export function tokenClaims(token: string): { exp: number | null; sub: number | null } {
  try {
    const part = (token.split(".")[1] ?? "").replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(part.padEnd(Math.ceil(part.length / 4) * 4, "="))) as {
      exp?: unknown;
      sub?: unknown;
    };
    const sub = Number(claims.sub);
    return {
      exp: typeof claims.exp === "number" ? claims.exp * 1000 : null,
      sub: Number.isSafeInteger(sub) ? sub : null,
    };
  } catch {
    return { exp: null, sub: null };
  }
}

export class Connection {
  private socket: WebSocketLike | undefined;
  private attempt = 0;
  private expired = false;
  private stopped = false;
  private everOpened = false;
  /** When the current socket opened; null while it is not open. */
  private openedAt: number | null = null;
  private lastFrameAt = 0;
  private lastPingAt = 0;
  private startedAt = 0;
  private closingSince: number | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private watchdog: ReturnType<typeof setInterval> | undefined;
  private readonly WebSocketClass: WebSocketConstructor;
  /** The user the token names (`sub`), once a token was seen. */
  userId: number | null = null;

  constructor(
    private readonly options: ConnectionOptions,
    private readonly hooks: ConnectionHooks,
  ) {
    const found =
      options.WebSocket ?? (globalThis as unknown as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!found)
      throw new Error("No WebSocket class: pass one as the `WebSocket` option (e.g. the `ws` package's)");
    this.WebSocketClass = found;
    void this.connect();
  }

  get isOpen(): boolean {
    return this.socket?.readyState === OPEN && this.openedAt !== null;
  }

  /** Sends a frame if the socket is open; false otherwise. */
  send(text: string): boolean {
    if (!this.isOpen) return false;
    this.socket?.send(text);
    return true;
  }

  /** Closes for good (the app is done): no reconnect. */
  close(): void {
    this.stop(new RealtimeError("closed", "Closed by the app"));
  }

  stop(error: RealtimeError): void {
    if (this.stopped) return;
    this.stopped = true;
    cancel(this.timer);
    this.drop(CLOSE_CODES.normal, "Bye");
    this.hooks.state({ state: "stopped", error });
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.hooks.state({ state: "connecting", attempt: this.attempt });
    let token: string;
    try {
      token = await this.options.token({ expired: this.expired });
      if (!this.expired && (tokenClaims(token).exp ?? Number.POSITIVE_INFINITY) <= Date.now() + 1000) {
        token = await this.options.token({ expired: true });
      }
    } catch (error) {
      this.hooks.problem(new RealtimeError("token_unavailable", String(error)));
      this.retry(0, "token unavailable", false);
      return;
    }
    if (this.stopped) return;
    this.userId = tokenClaims(token).sub ?? this.userId;
    const url = `${this.options.baseUrl.replace(/^http/, "ws").replace(/\/$/, "")}${this.hooks.path()}`;
    const socket = new this.WebSocketClass(url, ["bearer", token]);
    this.socket = socket;
    this.startedAt = Date.now();
    this.closingSince = null;
    this.watchdog = setInterval(() => this.tick(), TICK_MS);
    socket.onopen = () => {
      this.expired = false;
      this.openedAt = Date.now();
      this.lastFrameAt = this.lastPingAt = Date.now();
      this.hooks.state({ state: "open", reconnected: this.everOpened });
      this.hooks.opened(this.everOpened);
      this.everOpened = true;
    };
    socket.onmessage = (event: { data: unknown }) => {
      this.lastFrameAt = Date.now();
      if (typeof event.data === "string") this.hooks.frame(event.data);
    };
    socket.onerror = () => {}; // a close follows
    socket.onclose = (event: { code: number; reason: string }) => {
      if (this.socket === socket) this.closed(event.code, event.reason);
    };
  }

  private closed(code: number, reason: string): void {
    const wasOpen = this.openedAt !== null;
    const lasted = this.openedAt === null ? 0 : Date.now() - this.openedAt;
    this.drop(code, reason);
    if (this.stopped) return;
    // A handshake that failed says nothing a browser could read: it is retried like a lost network.
    const advice = wasOpen ? closeAdvice(code, reason) : "reconnect";
    if (advice === "signed_out") this.stop(new RealtimeError("signed_out", reason));
    else if (advice === "lost_access") this.stop(new RealtimeError("lost_access", reason));
    else {
      if (advice === "refresh_token") this.expired = true;
      if (lasted >= STABLE_MS) this.attempt = 0;
      this.retry(code, reason, advice === "refresh_token");
    }
  }

  /** Forgets the socket (closing it if it is still open) and its timers. */
  private drop(code: number, reason: string): void {
    if (this.watchdog !== undefined) clearInterval(this.watchdog);
    const socket = this.socket;
    this.socket = undefined;
    this.openedAt = null;
    if (!socket) return;
    socket.onopen = socket.onmessage = socket.onclose = null;
    try {
      if (socket.readyState <= OPEN)
        socket.close(code === NO_ANSWER ? code : CLOSE_CODES.normal, reason.slice(0, 100));
      else socket.terminate?.();
    } catch {
      // already closed
    }
  }

  /** Connects again after a backoff (`now`: at once, to fetch a fresh token). */
  private retry(code: number, reason: string, now: boolean): void {
    const { initialDelayMs = 500, maxDelayMs = 30_000 } = this.options.reconnect ?? {};
    // Half the delay is fixed, half random ("equal jitter"), so clients lost together do not return together.
    const ceiling = now ? 0 : Math.min(maxDelayMs, initialDelayMs * 2 ** this.attempt);
    const delayMs = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    this.attempt += 1;
    this.hooks.state({ state: "reconnecting", attempt: this.attempt, delayMs, code, reason });
    this.timer = setTimeout(() => void this.connect(), delayMs);
  }

  private tick(): void {
    const socket = this.socket;
    if (!socket) return;
    const now = Date.now();
    const interval = this.options.pingIntervalMs ?? 10_000;
    if (socket.readyState === CONNECTING && now - this.startedAt > HANDSHAKE_TIMEOUT_MS) {
      this.closed(CLOSE_CODES.internalError, "Handshake timed out");
    } else if (socket.readyState === OPEN && this.openedAt !== null) {
      if (this.hooks.ping.answered && now - this.lastFrameAt > 2.5 * interval) {
        // Nothing came back, not even pongs: the connection is dead without a close.
        this.closed(NO_ANSWER, "No answer to pings");
      } else if (now - this.lastPingAt >= interval) {
        this.lastPingAt = now;
        this.send(this.hooks.ping.text);
      }
    } else if (socket.readyState === CLOSING) {
      this.closingSince ??= now;
      // The close event follows, with the server's code and reason.
      if (now - this.closingSince >= CLOSE_GRACE_MS) socket.terminate?.();
    }
  }
}

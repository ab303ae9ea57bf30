/**
 * A channel's or a thread's socket for the web app, typed with the protocol's event schemas
 * (realtime/protocol/server-events.ts):
 *
 *   - Nothing lost, nothing doubled, in order. `message` is emitted once per message, in id order:
 *     after a lost connection the client reconnects with `?since=<newest id seen>`, so the server
 *     sends what was missed first (or `resync`: re-fetch through REST), and a message seen before
 *     (a catch-up overlapping, a replay) is not emitted again.
 *   - Sends survive reconnects. `send()` gives each message a `client_id` and keeps it in a bounded
 *     outbox until its echo arrives; after a reconnect the unacknowledged one is sent again with
 *     the same client_id, which the server answers with the stored message instead of storing a
 *     second. One message is on its way at a time, so the outbox is stored in the order it was
 *     written, even when one is refused for a while.
 *   - Refusals are errors, not silence: a message over the rate limit (or while the database is
 *     away) is retried after a delay and reported as a `refused` event meanwhile; one that can never
 *     be stored (invalid content, an archived channel, lost access) rejects its `send()`. A close
 *     that means the user lost the conversation, or was signed out, stops the client.
 */
import type { z } from "zod";
import { PING_FRAME } from "../realtime/names";
import type {
  conversationEventSchemas,
  ErrorCode,
  MessageEventPayload,
} from "../realtime/protocol/server-events";
import { Connection, type ConnectionOptions, type ConnectionState, cancel } from "./connection";
import { Emitter } from "./emitter";
import { RealtimeError } from "./errors";

type Schemas = typeof conversationEventSchemas;
export type ConversationKind = keyof Schemas;
/** The payload of an event of a kind of conversation, as its schema describes it. */
export type EventPayload<
  K extends ConversationKind,
  T extends keyof Schemas[K],
> = Schemas[K][T] extends z.ZodType
  ? z.output<Schemas[K][T]> extends { payload: infer P }
    ? P
    : never
  : never;

export type ConversationTarget =
  | { kind: "channel"; workspaceId: number; channelId: number }
  | { kind: "dm"; threadId: number };

export interface ConversationOptions<T extends ConversationTarget = ConversationTarget>
  extends ConnectionOptions {
  conversation: T;
  /** The newest message id the app already shows (from REST): the first connect starts after it. */
  since?: number | null;
  /** Most messages waiting for their echo (100); `send()` refuses more with `outbox_full`. */
  maxOutbox?: number;
  /** A message not answered this long on an open socket is sent again (10 s). */
  ackTimeoutMs?: number;
}

export interface ConversationEvents<K extends ConversationKind> {
  message: EventPayload<K, "message">;
  "message.updated": EventPayload<K, "message.updated">;
  "message.deleted": EventPayload<K, "message.deleted">;
  typing: EventPayload<K, "typing">;
  presence: EventPayload<K, "presence">;
  read: EventPayload<K, "read">;
  /** More was missed than a reconnect replays: re-fetch through REST, then call `caughtUp()`. */
  resync: EventPayload<K, "resync">;
  /** Something the server refused; `willRetry` when the client sends it again by itself. */
  refused: RealtimeError;
  state: ConnectionState;
}

interface Outgoing<M> {
  clientId: string;
  content: string;
  resolve(message: M): void;
  reject(error: RealtimeError): void;
  /** The connection it was last sent on, or null to send (again). */
  sentOn: number | null;
  /** Not before (a rate limit's delay). */
  notBefore: number;
  refusals: number;
}

const RETRY_LATER: Partial<Record<ErrorCode, (refusals: number) => number>> = {
  // The message limit counts 10-second windows: back off from 1 s to a window.
  rate_limited: (refusals) => Math.min(10_000, 1000 * 2 ** refusals),
  unavailable: () => 5_000,
};
/** Typing is re-sent at most this often while it lasts (the server broadcasts it throttled too). */
const TYPING_REPEAT_MS = 3_000;

let counter = 0;
const newClientId = () =>
  `client:${typeof crypto !== "undefined" && "randomUUID" in crypto ? crypto.randomUUID() : `${Date.now()}-${++counter}`}`;

export class ConversationClient<K extends ConversationKind> extends Emitter<ConversationEvents<K>> {
  private readonly connection: Connection;
  private readonly outbox: Outgoing<EventPayload<K, "message">>[] = [];
  private generation = 0;
  private newest: number | null;
  private pendingRead: number | null = null;
  private typingSent: { state: boolean; at: number } = { state: false, at: 0 };
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stoppedWith: RealtimeError | undefined;

  constructor(private readonly options: ConversationOptions) {
    super();
    this.newest = options.since ?? null;
    const target = options.conversation;
    const path =
      target.kind === "channel"
        ? `/ws/chat/${target.workspaceId}/${target.channelId}`
        : `/ws/dm/${target.threadId}`;
    this.connection = new Connection(options, {
      // Without a known position a reconnect starts from the beginning (or gets `resync`).
      path: () =>
        this.newest === null && this.generation === 0 ? path : `${path}?since=${this.newest ?? 0}`,
      ping: { text: PING_FRAME, answered: true },
      opened: () => this.opened(),
      frame: (text) => this.frame(text),
      state: (state) => this.changed(state),
      problem: (error) => this.emit("refused", error),
    });
  }

  /** The newest message id seen (or given as `since`). */
  get lastSeenId(): number | null {
    return this.newest;
  }

  /** Messages waiting for their echo. */
  get pending(): number {
    return this.outbox.length;
  }

  /**
   * Sends a message; resolves with it as stored (its echo), however many reconnects that takes.
   * Rejects with a RealtimeError when it can never be stored.
   */
  send(content: string, options: { clientId?: string } = {}): Promise<EventPayload<K, "message">> {
    if (this.stoppedWith) return Promise.reject(this.stoppedWith);
    if (this.outbox.length >= (this.options.maxOutbox ?? 100)) {
      return Promise.reject(new RealtimeError("outbox_full", "Too many messages wait for their echo"));
    }
    return new Promise((resolve, reject) => {
      const clientId = options.clientId ?? newClientId();
      this.outbox.push({ clientId, content, resolve, reject, sentOn: null, notBefore: 0, refusals: 0 });
      this.pump();
    });
  }

  /** Typing (true) or stopped: sent at once on a change, repeated at most every 3 s. */
  typing(isTyping = true): void {
    const now = Date.now();
    if (isTyping === this.typingSent.state && (!isTyping || now - this.typingSent.at < TYPING_REPEAT_MS))
      return;
    if (this.connection.send(JSON.stringify({ type: "typing", is_typing: isTyping }))) {
      this.typingSent = { state: isTyping, at: now };
    }
  }

  /** Moves the read pointer to this message (sent when the socket is open). */
  markRead(messageId: number): void {
    this.pendingRead = Math.max(this.pendingRead ?? 0, messageId);
    this.flushRead();
  }

  /** After re-fetching through REST (a `resync`): the newest id the app now shows. */
  caughtUp(newestId: number): void {
    this.newest = Math.max(this.newest ?? 0, newestId);
  }

  close(): void {
    this.connection.close();
  }

  private opened() {
    this.generation += 1;
    this.typingSent = { state: false, at: 0 };
    this.flushRead();
    this.pump();
  }

  private flushRead() {
    if (this.pendingRead === null) return;
    if (this.connection.send(JSON.stringify({ type: "read", last_read_message_id: this.pendingRead }))) {
      this.pendingRead = null;
    }
  }

  /** Sends the outbox's first message, unless it is already on its way or must wait. */
  private pump() {
    const head = this.outbox[0];
    // On its way already: its answer (or the timeout below) moves the outbox on.
    if (!head || !this.connection.isOpen || head.sentOn === this.generation) return;
    cancel(this.timer);
    const wait = head.notBefore - Date.now();
    if (wait > 0) {
      this.timer = setTimeout(() => this.pump(), wait);
      return;
    }
    this.connection.send(
      JSON.stringify({ type: "message", content: head.content, client_id: head.clientId }),
    );
    head.sentOn = this.generation;
    // Unanswered (a frame dropped over the frame budget): send it again; the client_id makes it safe.
    this.timer = setTimeout(() => {
      head.sentOn = null;
      this.pump();
    }, this.options.ackTimeoutMs ?? 10_000);
  }

  private frame(text: string) {
    let event: { type: string; payload: Record<string, unknown> };
    try {
      event = JSON.parse(text);
    } catch {
      return;
    }
    const payload = event.payload as never;
    switch (event.type) {
      case "message":
        return this.message(payload);
      case "error":
        return this.refused(payload);
      case "message.updated":
      case "message.deleted":
      case "typing":
      case "presence":
      case "read":
      case "resync":
        return this.emit(event.type, payload);
    }
  }

  private message(message: EventPayload<K, "message">) {
    const { id, user_id, client_id } = message as MessageEventPayload;
    if (this.newest === null || id > this.newest) {
      this.newest = id;
      this.emit("message", message);
    }
    const head = this.outbox[0];
    const mine = this.connection.userId === null || user_id === this.connection.userId;
    if (head && mine && client_id === head.clientId) {
      cancel(this.timer);
      this.outbox.shift();
      head.resolve(message);
      this.pump();
    }
  }

  private refused(error: { code: ErrorCode; detail: string; client_id?: string | null }) {
    const head = this.outbox[0];
    const about = head && error.client_id === head.clientId ? head : undefined;
    const retryIn = RETRY_LATER[error.code];
    if (about && retryIn) {
      const retryAfterMs = retryIn(about.refusals++);
      about.sentOn = null;
      about.notBefore = Date.now() + retryAfterMs;
      this.emit(
        "refused",
        new RealtimeError(error.code, error.detail, { clientId: about.clientId, retryAfterMs }),
      );
      this.pump();
    } else if (about) {
      const refusal = new RealtimeError(error.code, error.detail, { clientId: about.clientId });
      cancel(this.timer);
      this.outbox.shift();
      about.reject(refusal);
      this.emit("refused", refusal);
      this.pump();
    } else {
      this.emit("refused", new RealtimeError(error.code, error.detail));
    }
  }

  private changed(state: ConnectionState) {
    if (state.state === "stopped") {
      this.stoppedWith = state.error;
      cancel(this.timer);
      for (const entry of this.outbox.splice(0)) entry.reject(state.error);
    }
    this.emit("state", state);
  }
}

/** Opens a channel's (`{kind: "channel", workspaceId, channelId}`) or a thread's (`{kind: "dm", threadId}`) socket. */
export function connectConversation<T extends ConversationTarget>(
  options: ConversationOptions<T>,
): ConversationClient<T["kind"]> {
  return new ConversationClient<T["kind"]>(options);
}

/**
 * What the write queue (write-queue.ts) works with and answers: posts, outcomes and typed
 * refusals, and the ports through which the conversation's object lends it the database, the
 * store and the sockets. Apart from the queue so that the kinds, the gate and the HTTP layer can
 * speak of refusals and outcomes without importing the queue's machinery.
 */
import type { ClientIdRecord } from "./client-ids";

/** A message as the queue knows it: anything with an id. */
export interface Identified {
  id: number;
}

export interface Post<Origin> {
  userId: number;
  content: string;
  clientId: string | null;
  /** The thread root it replies to, or null (checked by the object before it is queued). */
  parentId: number | null;
  /** The socket that sent it (it alone gets the answer to a replayed client_id), or null for REST. */
  origin: Origin | null;
  /** When the queue took it (ms), for HOLD_MS. */
  acceptedAt: number;
}

export type RefusalCode =
  | "not_found"
  | "forbidden"
  | "archived"
  | "rate_limited"
  | "limiter_unavailable"
  | "unavailable"
  /** A reply to a reply (threads are one level deep). */
  | "invalid_parent"
  /** A new emoji on a message that has as many different ones as it may. */
  | "too_many_reactions";

/** Why a write was not made; `detail` is the sentence clients get. */
export interface Refusal {
  code: RefusalCode;
  detail: string;
  /** For rate refusals: the decision, whose numbers become the 429's headers. */
  rate?: unknown;
  /** The sender lost access to the conversation itself: their socket is closed too. */
  closeSocket?: boolean;
}

export type PostOutcome<M> =
  | { kind: "created" | "replayed"; message: M; clientId: string | null }
  | { kind: "refused"; refusal: Refusal };

/**
 * Why an INSERT failed: the conversation is gone (a foreign key); the database could not be
 * reached, so the statement was never sent ("unreachable"); the connection was lost with the
 * statement sent, so it may or may not have been stored ("unavailable"); or anything else.
 */
export type InsertFailure = "gone" | "unreachable" | "unavailable" | "other";

export interface WritePorts<M extends Identified, Origin> {
  now(): number;
  clientIds: ClientIdRecord;
  /** The sender's message limit; a refusal, or null to go on. */
  rateRefusal(userId: number): Promise<Refusal | null>;
  /** Whether these senders may write; a refusal per user who may not. */
  accessRefusals(userIds: number[]): Promise<Map<number, Refusal>>;
  /** INSERTs issued together on one connection, in order; each settles on its own. */
  insert(posts: Post<Origin>[]): Promise<PromiseSettledResult<M>[]>;
  /** The newest message id of the conversation (0 when empty). */
  newestId(): Promise<number>;
  /** The messages stored after `id`, oldest first. */
  storedAfter(id: number): Promise<M[]>;
  /** One message as it is now, deleted ones included. */
  load(messageId: number): Promise<M | undefined>;
  /** Why an INSERT (or any query) failed (see InsertFailure). */
  classify(error: unknown): InsertFailure;
  /** Publishes stored messages, in id order, before their senders are answered. */
  publish(created: { post: Post<Origin>; message: M }[]): void;
  /** Sends a replayed message to the socket that repeated its client_id. */
  replay(origin: Origin, post: Post<Origin>, message: M): void;
  /** Side effects after publishing (a thread tells an absent recipient); awaited by the senders only. */
  afterPublish(created: { post: Post<Origin>; message: M }[]): Promise<void>;
  /** A failure nobody else will report. */
  logError(message: string, error: unknown): void;
}

export const unavailable = (): Refusal => ({ code: "unavailable", detail: "Database unavailable" });

/** Thrown to a task's caller while the database cannot be reached. */
export class DatabaseUnavailableError extends Error {
  override name = "DatabaseUnavailableError";
  constructor() {
    super("Database unavailable");
  }
}

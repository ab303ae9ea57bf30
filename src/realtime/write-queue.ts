/**
 * The single-writer queue of a conversation's object: every write of the conversation (posts,
 * edits, deletes, read pointers) and every socket's catch-up passes through it, one step at a
 * time, so that the conversation's events form one sequence. Pure logic behind small ports
 * (WritePorts, write-ports.ts): the object supplies the database, the store and the sockets; the unit tests
 * (write-queue.test.ts) supply stand-ins.
 *
 * Why a queue. An object runs one event at a time, but an event that awaits PostgreSQL lets others
 * run meanwhile, so order must be made explicit:
 *   - A post is stored, then published, before the next step starts: every subscriber receives
 *     the conversation's messages in id order, each exactly once.
 *   - Consecutive posts waiting in the queue are written as one batch: their INSERTs go out
 *     together on the object's one connection (postgres.js pipelines them), so they run, take ids
 *     and commit one after the other, and throughput is bound by PostgreSQL's per-statement work,
 *     not by one round trip per message. A batch checks each sender's rate and access once.
 *   - Everything else (a catch-up and acceptance of a socket, an edit, a read receipt) is a task
 *     step, so its events follow the messages it refers to.
 *
 * Idempotent sends (client-ids.ts): a post whose client_id already created a message returns that
 * message instead of storing a second; checked when the post arrives (a retry costs no rate and is
 * answered at once) and again inside its batch (a retry racing its first attempt).
 *
 * When PostgreSQL cannot be reached. Socket posts are held, in order, and retried with backoff
 * until they are stored (then echoed and broadcast as usual) or until HOLD_MS has passed since
 * they arrived (then refused as "unavailable"); at most MAX_PENDING posts wait. The web app
 * ignores error events and never resends, so refusing at once would lose what its users typed.
 * REST posts, edits, read pointers and joins are refused at once meanwhile (503 Database
 * unavailable): their clients see the failure and retry. A batch whose answer was lost with the
 * connection may have been stored in part: before retrying, the object reads back what was stored
 * after the newest id it knew (it is the conversation's only writer, so those rows are the batch's
 * leading posts, in order), so nothing is stored twice.
 */
import {
  DatabaseUnavailableError,
  type Identified,
  type InsertFailure,
  type Post,
  type PostOutcome,
  type Refusal,
  unavailable,
  type WritePorts,
} from "./write-ports";

/** Most posts written as one batch. */
export const BATCH_MAX = 100;
/** How long a socket post is held while PostgreSQL cannot be reached. */
export const HOLD_MS = 30_000;
/** Most posts held (or queued) at once; beyond, new ones are refused as unavailable. */
export const MAX_PENDING = 1000;
/** Retry delays while holding: doubling from the first to the last. */
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 2_000;

interface QueuedPost<M, Origin> {
  kind: "post";
  post: Post<Origin>;
  resolve(outcome: PostOutcome<M>): void;
  /** Already told "unavailable" while its fate was unknown (a REST post): stored only if it already was. */
  answered?: boolean;
}

interface QueuedTask {
  kind: "task";
  run(): Promise<void>;
  fail(error: unknown): void;
}

type Step<M, Origin> = QueuedPost<M, Origin> | QueuedTask;

export class WriteQueue<M extends Identified, Origin> {
  private steps: Step<M, Origin>[] = [];
  private draining = false;
  /** True while posts are held for the database (see the module comment). */
  private holding = false;
  private newestKnown: number | undefined;
  /** Set while a lost batch's stored part is still to be read back: the newest id known before it. */
  private unresolvedAfter: number | undefined;
  /**
   * The posts of that batch. They are not refused at HOLD_MS: they may be stored already, and
   * telling their senders otherwise would be false. At most BATCH_MAX of them.
   */
  private unresolved = new Set<Post<Origin>>();
  private lastPruneAt = 0;

  constructor(private readonly ports: WritePorts<M, Origin>) {}

  /** Whether posts are being held for the database right now. */
  get isHolding(): boolean {
    return this.holding;
  }

  /** Stores and publishes a post, or says why not. Never rejects. */
  submit(post: Omit<Post<Origin>, "acceptedAt">): Promise<PostOutcome<M>> {
    const now = this.ports.now();
    const full: Post<Origin> = { ...post, acceptedAt: now };
    if (post.clientId) {
      const stored = this.ports.clientIds.find(post.userId, post.clientId, now);
      if (stored !== null) {
        // A retry of a stored post is answered at once and costs no rate: it writes nothing.
        return this.enqueueTask(() => this.replay(full, stored)).catch(() => ({
          kind: "refused" as const,
          refusal: unavailable(),
        }));
      }
    }
    if (this.holding && post.origin === null)
      return Promise.resolve({ kind: "refused", refusal: unavailable() });
    if (this.pendingPosts() >= MAX_PENDING)
      return Promise.resolve({ kind: "refused", refusal: unavailable() });
    return new Promise((resolve) => {
      this.steps.push({ kind: "post", post: full, resolve });
      this.pump();
    });
  }

  /**
   * Runs `work` as one step of the queue and resolves with its result. While posts are held for
   * the database, fails at once with DatabaseUnavailableError instead of waiting behind them.
   */
  enqueueTask<T>(work: () => Promise<T>): Promise<T> {
    if (this.holding) return Promise.reject(new DatabaseUnavailableError());
    return new Promise<T>((resolve, reject) => {
      this.steps.push({ kind: "task", run: () => work().then(resolve, reject), fail: reject });
      this.pump();
    });
  }

  /** Steps waiting, the running one included (tests, metrics). */
  get length(): number {
    return this.steps.length;
  }

  private pendingPosts(): number {
    let count = 0;
    for (const step of this.steps) if (step.kind === "post") count++;
    return count;
  }

  private pump() {
    if (this.draining) return;
    this.draining = true;
    void this.drain();
  }

  private async drain(): Promise<void> {
    try {
      while (this.steps.length > 0) {
        const head = this.steps[0] as Step<M, Origin>;
        if (head.kind === "task") {
          this.steps.shift();
          await head.run().catch((error) => this.ports.logError("a queued step failed", error));
          continue;
        }
        let count = 0;
        while (count < this.steps.length && count < BATCH_MAX && this.steps[count]?.kind === "post") count++;
        const batch = this.steps.slice(0, count) as QueuedPost<M, Origin>[];
        const held = await this.writeBatch(batch);
        if (held.length === 0) {
          this.steps.splice(0, count);
          this.holding = false;
          continue;
        }
        // Keep what is held at the head, in order; refuse the rest of what waits meanwhile.
        this.steps.splice(0, count, ...held);
        this.enterHolding();
        await this.waitBeforeRetry();
      }
    } finally {
      this.draining = false;
      this.holding = false;
    }
    const now = this.ports.now();
    if (now - this.lastPruneAt > 60_000) {
      this.lastPruneAt = now;
      this.ports.clientIds.prune(now);
    }
  }

  private retryDelay = RETRY_FIRST_MS;

  private enterHolding() {
    if (!this.holding) this.retryDelay = RETRY_FIRST_MS;
    this.holding = true;
    // Nothing but socket posts waits behind held posts: tasks and REST posts fail at once.
    this.steps = this.steps.filter((step) => {
      if (step.kind === "task") {
        step.fail(new DatabaseUnavailableError());
        return false;
      }
      if (step.post.origin !== null) return true;
      step.resolve({ kind: "refused", refusal: unavailable() });
      // A REST post whose fate is unknown is answered now (a REST client must not hang) but stays
      // until the read-back says whether it was stored (see `unresolved`).
      if (!this.unresolved.has(step.post)) return false;
      step.answered = true;
      return true;
    });
  }

  private async waitBeforeRetry() {
    await new Promise((resolve) => setTimeout(resolve, this.retryDelay));
    this.retryDelay = Math.min(RETRY_MAX_MS, this.retryDelay * 2);
    // Posts held past the bound are refused now; the others are tried again.
    const now = this.ports.now();
    this.steps = this.steps.filter((step) => {
      if (step.kind === "post" && now - step.post.acceptedAt >= HOLD_MS && !this.unresolved.has(step.post)) {
        step.resolve({ kind: "refused", refusal: unavailable() });
        return false;
      }
      return true;
    });
  }

  /**
   * Writes a batch (see the module comment); answers every post it settles and returns the ones
   * to hold for the database, in order (empty when the batch is done).
   */
  private async writeBatch(batch: QueuedPost<M, Origin>[]): Promise<QueuedPost<M, Origin>[]> {
    const now = this.ports.now();
    const fresh: QueuedPost<M, Origin>[] = [];
    const sameBatch: { op: QueuedPost<M, Origin>; first: QueuedPost<M, Origin> }[] = [];
    const stored: { op: QueuedPost<M, Origin>; messageId: number }[] = [];
    const firstByKey = new Map<string, QueuedPost<M, Origin>>();
    for (const op of batch) {
      const { userId, clientId } = op.post;
      if (clientId) {
        const key = `${userId}:${clientId}`;
        const first = firstByKey.get(key);
        if (first) {
          sameBatch.push({ op, first });
          continue;
        }
        const messageId = this.ports.clientIds.find(userId, clientId, now);
        if (messageId !== null) {
          stored.push({ op, messageId });
          continue;
        }
        firstByKey.set(key, op);
      }
      fresh.push(op);
    }

    const outcomes = new Map<QueuedPost<M, Origin>, PostOutcome<M>>();
    const created: { op: QueuedPost<M, Origin>; message: M }[] = [];
    let held: QueuedPost<M, Origin>[] = [];
    try {
      const permitted = await this.refuse(fresh, outcomes);
      const result = await this.insertResolvingLostAnswers(permitted);
      created.push(...result.created);
      for (const [op, outcome] of result.refused) outcomes.set(op, outcome);
      held = result.held;
    } catch (error) {
      if (unreachableOrLost(this.ports.classify(error))) held = fresh.filter((op) => !outcomes.has(op));
      else {
        this.ports.logError("a batch of posts failed", error);
        for (const op of fresh)
          if (!outcomes.has(op)) outcomes.set(op, { kind: "refused", refusal: failed() });
      }
    }

    created.sort((a, b) => a.message.id - b.message.id);
    for (const { op, message } of created) {
      if (op.post.clientId) this.ports.clientIds.record(op.post.userId, op.post.clientId, message.id, now);
      outcomes.set(op, { kind: "created", message, clientId: op.post.clientId });
    }
    if (created.length > 0)
      this.ports.publish(created.map(({ op, message }) => ({ post: op.post, message })));
    const sideEffects =
      created.length === 0
        ? Promise.resolve()
        : this.ports
            .afterPublish(created.map(({ op, message }) => ({ post: op.post, message })))
            .catch((error) => this.ports.logError("an after-publish step failed", error));

    for (const op of fresh) {
      const outcome = outcomes.get(op);
      if (outcome) void sideEffects.then(() => op.resolve(outcome));
    }
    const heldSet = new Set(held);
    for (const { op, first } of sameBatch) {
      if (heldSet.has(first)) {
        held.push(op);
        continue;
      }
      const outcome = outcomes.get(first);
      if (outcome?.kind === "created") {
        if (op.post.origin !== null) this.ports.replay(op.post.origin, op.post, outcome.message);
        const replayed: PostOutcome<M> = {
          kind: "replayed",
          message: outcome.message,
          clientId: op.post.clientId,
        };
        void sideEffects.then(() => op.resolve(replayed));
      } else op.resolve(outcome ?? { kind: "refused", refusal: failed() });
    }
    for (const { op, messageId } of stored) {
      try {
        op.resolve(await this.replay(op.post, messageId));
      } catch (error) {
        if (unreachableOrLost(this.ports.classify(error))) held.push(op);
        else op.resolve({ kind: "refused", refusal: failed() });
      }
    }
    // Held posts keep their arrival order.
    return batch.filter((op) => held.includes(op));
  }

  /** Rate, then access, each once per post or sender; refused posts get their outcome. */
  private async refuse(
    ops: QueuedPost<M, Origin>[],
    outcomes: Map<QueuedPost<M, Origin>, PostOutcome<M>>,
  ): Promise<QueuedPost<M, Origin>[]> {
    const rates = await Promise.all(ops.map((op) => this.ports.rateRefusal(op.post.userId)));
    const allowed = ops.filter((op, index) => {
      const refusal = rates[index];
      if (refusal) outcomes.set(op, { kind: "refused", refusal });
      return !refusal;
    });
    const refusals = await this.ports.accessRefusals([...new Set(allowed.map((op) => op.post.userId))]);
    return allowed.filter((op) => {
      const refusal = refusals.get(op.post.userId);
      if (refusal) outcomes.set(op, { kind: "refused", refusal });
      return !refusal;
    });
  }

  /**
   * Inserts the posts; when the connection is lost, works out which leading posts were stored
   * anyway (see the module comment) and returns the rest to hold. A read-back that cannot be made
   * yet is made before the next attempt (`unresolvedAfter`), so a retry never stores twice.
   */
  private async insertResolvingLostAnswers(ops: QueuedPost<M, Origin>[]) {
    const created: { op: QueuedPost<M, Origin>; message: M }[] = [];
    const refused = new Map<QueuedPost<M, Origin>, PostOutcome<M>>();
    let pending = ops;
    if (this.unresolvedAfter !== undefined) {
      // The unresolved posts lead this batch, in order: the rows found are theirs.
      const found = await this.ports.storedAfter(this.unresolvedAfter);
      const leading = pending.findIndex((op) => !this.unresolved.has(op.post));
      const count = Math.min(found.length, leading < 0 ? pending.length : leading);
      for (const [index, op] of pending.slice(0, count).entries())
        created.push({ op, message: found[index] as M });
      this.newestKnown = Math.max(this.unresolvedAfter, ...found.map((m) => m.id));
      // Those already told "unavailable" and not stored stay unstored: their clients retry.
      pending = pending.slice(count).filter((op) => !(op.answered && this.unresolved.has(op.post)));
      this.unresolvedAfter = undefined;
      this.unresolved.clear();
    }
    if (pending.length === 0) return { created, refused, held: [] as QueuedPost<M, Origin>[] };
    this.newestKnown ??= await this.ports.newestId();
    const before = this.newestKnown;
    const settled = await this.ports.insert(pending.map((op) => op.post));
    const unanswered: QueuedPost<M, Origin>[] = [];
    const unsent: QueuedPost<M, Origin>[] = [];
    settled.forEach((result, index) => {
      const op = pending[index] as QueuedPost<M, Origin>;
      if (result.status === "fulfilled") {
        created.push({ op, message: result.value });
        this.newestKnown = Math.max(this.newestKnown ?? 0, result.value.id);
        return;
      }
      const failure = this.ports.classify(result.reason);
      if (failure === "unavailable") unanswered.push(op);
      else if (failure === "unreachable") unsent.push(op);
      else if (failure === "gone") {
        refused.set(op, { kind: "refused", refusal: { code: "not_found", detail: "Not Found" } });
      } else {
        this.ports.logError("a post could not be stored", result.reason);
        refused.set(op, { kind: "refused", refusal: failed() });
      }
    });
    if (unanswered.length === 0) return { created, refused, held: unsent };

    // Answers were lost with the connection: what was stored after `before`, besides the posts
    // answered above, belongs to the unanswered posts, in order (the statements ran in order).
    this.newestKnown = undefined;
    const answered = new Set(created.map((c) => c.message.id));
    let found: M[];
    try {
      found = (await this.ports.storedAfter(before)).filter((m) => !answered.has(m.id));
    } catch (error) {
      if (!unreachableOrLost(this.ports.classify(error))) throw error;
      this.unresolvedAfter = before;
      this.unresolved = new Set(unanswered.map((op) => op.post));
      return { created, refused, held: [...unanswered, ...unsent] };
    }
    const count = Math.min(found.length, unanswered.length);
    for (const [index, op] of unanswered.slice(0, count).entries())
      created.push({ op, message: found[index] as M });
    return { created, refused, held: [...unanswered.slice(count), ...unsent] };
  }

  private async replay(post: Post<Origin>, messageId: number): Promise<PostOutcome<M>> {
    const message = await this.ports.load(messageId);
    if (!message) return { kind: "refused", refusal: { code: "not_found", detail: "Not Found" } };
    if (post.origin !== null) this.ports.replay(post.origin, post, message);
    return { kind: "replayed", message, clientId: post.clientId };
  }
}

const failed = (): Refusal => ({ code: "unavailable", detail: "The message could not be stored" });

/** The database is not there right now, whether or not a statement got to it. */
const unreachableOrLost = (failure: InsertFailure) => failure === "unreachable" || failure === "unavailable";

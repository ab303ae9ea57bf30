/**
 * What a conversation object knows about its conversation and who may do what in it: the
 * conversation as last loaded, each user's standing (access-cache.ts), and the id the object
 * serves. Every read and write of the object passes `check` first (conversation-room.ts).
 */
import type { Database } from "../db/client";
import { AccessCache } from "./access-cache";
import type { Conversation, ConversationKindRules, Standing } from "./conversation-kind";
import type { Refusal } from "./write-ports";

/** A refusal, or what was asked for. Every RPC of a conversation object answers this way (never by throwing). */
export type Gated<T> = { ok: true; value: T } | { ok: false; refusal: Refusal };

/** What a call needs: to read the conversation, to write to it, or to hold a socket on it. */
export type Need = "read" | "write" | "socket";

export const refused = (refusal: Refusal): { ok: false; refusal: Refusal } => ({ ok: false, refusal });

export class ConversationGate<C extends Conversation> {
  private readonly standings: AccessCache<Standing>;
  private conversation: { value: C | undefined; at: number } | undefined;
  /** The id this object serves, learned from the first call that names it. */
  private claimed: number | undefined;

  constructor(
    private readonly rules: ConversationKindRules<C>,
    private readonly db: () => Database,
    /** How long what was learned is trusted (ACCESS_CACHE_SECONDS). */
    private readonly ttlMs: number,
  ) {
    this.standings = new AccessCache<Standing>(ttlMs);
  }

  /** Guards against a caller that names one conversation and reaches another's object. */
  claim(id: number): void {
    this.claimed ??= id;
    if (this.claimed !== id) {
      throw new Error(`the ${this.rules.kind} object of ${this.claimed} was asked to act for ${id}`);
    }
  }

  get id(): number | undefined {
    return this.claimed;
  }

  claimedId(): number {
    if (this.claimed === undefined)
      throw new Error(`the ${this.rules.kind} object does not know its conversation yet`);
    return this.claimed;
  }

  /** The conversation as last loaded (reloaded after the cache period or `forget()`). */
  async current(): Promise<C | undefined> {
    const now = Date.now();
    if (!this.conversation || now - this.conversation.at >= this.ttlMs) {
      this.conversation = { value: await this.rules.load(this.db(), this.claimedId()), at: now };
    }
    return this.conversation.value;
  }

  /** The conversation, if loaded: for what runs after a check (publishing). */
  get loaded(): C | undefined {
    return this.conversation?.value;
  }

  /** The conversation and the user's standing in it, or why the user may not `need` it. */
  async check(
    id: number,
    userId: number,
    need: Need,
  ): Promise<Gated<{ conversation: C; standing: Standing }>> {
    this.claim(id);
    const conversation = await this.current();
    if (!conversation) return refused(this.rules.notFound);
    const now = Date.now();
    let standing = this.standings.get(userId, now);
    if (!standing) {
      standing = await this.rules.standing(this.db(), conversation, userId);
      this.standings.set(userId, standing, now);
    }
    const refusal =
      standing.readRefusal ??
      (need === "write" ? standing.writeRefusal : need === "socket" ? standing.socketRefusal : null);
    return refusal ? refused(refusal) : { ok: true, value: { conversation, standing } };
  }

  /** Forgets some users' standing, or everything (the conversation too). */
  forget(userIds?: readonly number[]): void {
    this.standings.forget(userIds);
    if (!userIds) this.conversation = undefined;
  }
}

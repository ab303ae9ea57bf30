/**
 * A conversation object's memory of who may do what in it, so that the checks every read and
 * write makes (REST and sockets alike) cost no query in the common case.
 *
 * Exact, not eventual: every change that can take access away or give it (a member removed or
 * added, a role changed, a channel archived, made private or deleted, a workspace deleted) tells
 * the conversation's object (`accessChanged`, through the realtime port of services), which drops
 * what it knew. An entry also expires after ACCESS_TTL_MS, which only bounds the cost of a change
 * whose message got lost (an object that could not be reached), and the table is bounded.
 */
export const ACCESS_TTL_MS = 60_000;
const MAX_ENTRIES = 5_000;

export class AccessCache<V> {
  private readonly entries = new Map<number, { value: V; at: number }>();

  get(userId: number, now: number): V | undefined {
    const entry = this.entries.get(userId);
    if (!entry) return undefined;
    if (now - entry.at >= ACCESS_TTL_MS) {
      this.entries.delete(userId);
      return undefined;
    }
    return entry.value;
  }

  set(userId: number, value: V, now: number): void {
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    this.entries.set(userId, { value, at: now });
  }

  /** Forgets some users, or everyone. */
  forget(userIds?: readonly number[]): void {
    if (!userIds) this.entries.clear();
    else for (const id of userIds) this.entries.delete(id);
  }
}

/**
 * A conversation object's memory of who may do what in it, so that the checks every read and
 * write makes (REST and sockets alike) cost no query in the common case.
 *
 * Exact, not eventual: every change that can take access away or give it (a member removed or
 * added, a role changed, a channel archived, made private or deleted, a workspace deleted) tells
 * the conversation's object (`accessChanged`, through the realtime port of services), which drops
 * what it knew. An entry also expires after ACCESS_CACHE_SECONDS (60 by default), which bounds how
 * long a change the object was not told of goes unnoticed (a message that got lost, or a change
 * made in the database by hand), and the table is bounded.
 */
const MAX_ENTRIES = 5_000;

export class AccessCache<V> {
  private readonly entries = new Map<number, { value: V; at: number }>();

  constructor(private readonly ttlMs: number) {}

  get(userId: number, now: number): V | undefined {
    const entry = this.entries.get(userId);
    if (!entry) return undefined;
    if (now - entry.at >= this.ttlMs) {
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

/**
 * What this isolate knows about sessions: the per-request session check is answered from here,
 * without a round trip, and PostgreSQL (the only record of a session) is asked again when the
 * "active" verdict is older than SESSION_CACHE_SECONDS.
 *
 * Why memory and not the store. The check used to read a verdict cached in the store on every
 * request (a round trip per request), and a logout made while the store was down left an
 * "active" verdict there that the store served again for minutes once it was back. Here a
 * revocation is written to PostgreSQL first, then to this isolate's memory, so it takes effect at
 * once where it was made: self-hosted, that is the only isolate (the Worker and every object share
 * the process's one isolate). Other isolates (Cloudflare runs many) see it once their verdict is
 * older than the cache period; the socket objects are told at once by the user's feed.
 *
 * A revoked verdict never turns back into an active one, so it is kept as long as the table
 * keeps entries. The table is bounded: past MAX_ENTRIES the oldest entries are dropped, which only
 * costs a query.
 */

export interface Verdict {
  userId: number;
  revoked: boolean;
  /** When the database was last asked (ms since the epoch). */
  checkedAt: number;
}

const MAX_ENTRIES = 50_000;

/** Map order is insertion order: re-inserting on each write keeps the oldest entries first. */
const verdicts = new Map<string, Verdict>();

function put(sessionId: string, verdict: Verdict) {
  verdicts.delete(sessionId);
  verdicts.set(sessionId, verdict);
  if (verdicts.size > MAX_ENTRIES) {
    const oldest = verdicts.keys().next().value;
    if (oldest !== undefined) verdicts.delete(oldest);
  }
}

/**
 * The verdict to act on without asking the database: a revoked one always, an active one while it
 * is younger than `maxAgeMs`. Undefined means: ask the database.
 */
export function knownVerdict(sessionId: string, now: number, maxAgeMs: number): Verdict | undefined {
  const verdict = verdicts.get(sessionId);
  if (!verdict) return undefined;
  if (verdict.revoked || now - verdict.checkedAt < maxAgeMs) return verdict;
  return undefined;
}

export function rememberActive(sessionId: string, userId: number, now: number): void {
  // A revocation seen here wins over an answer that may have been read before it.
  if (verdicts.get(sessionId)?.revoked) return;
  put(sessionId, { userId, revoked: false, checkedAt: now });
}

export function rememberRevoked(sessionId: string, userId: number, now: number): void {
  put(sessionId, { userId, revoked: true, checkedAt: now });
}

/** Tests only: the table as it is. */
export function verdictCount(): number {
  return verdicts.size;
}

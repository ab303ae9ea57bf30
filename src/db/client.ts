/**
 * Database access: drizzle over postgres.js.
 *
 * A stateless Worker cannot share a socket between requests ("Cannot perform I/O on behalf of
 * a different request"), so each request opens its own single connection on first use. We do
 * not call `sql.end()`: on the workerd build it leaves an unhandled rejection behind
 * (porsager/postgres#1202), and the runtime closes the socket when the request ends anyway.
 * Durable Objects, which live across requests, keep one client for their lifetime instead.
 */
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";

export type Database = ReturnType<typeof createDatabase>;

export interface DatabaseSettings {
  url: string;
  connectTimeoutSeconds: number;
  /** Named prepared statements; false behind a transaction pooler that cannot keep them apart. */
  prepare?: boolean;
}

/**
 * `idleTimeoutSeconds` is for Durable Objects: an object cannot hibernate while it holds an open
 * connection (a socket, and postgres.js's max-lifetime timer), so an object's connection is
 * closed after that many idle seconds and reopened (about 10 ms) by the next query. Tested in
 * test/messages/hibernation.test.ts: without it a channel's object is never evicted.
 */
export function createDatabase(settings: DatabaseSettings, options: { idleTimeoutSeconds?: number } = {}) {
  const sql = postgres(settings.url, {
    max: 1,
    ...(options.idleTimeoutSeconds ? { idle_timeout: options.idleTimeoutSeconds } : {}),
    // A database that cannot be reached must fail the request quickly, not hang it.
    connect_timeout: settings.connectTimeoutSeconds,
    // Saves a round trip per connection; we use no custom types.
    fetch_types: false,
    prepare: settings.prepare ?? true,
    onnotice: () => {},
  });
  // No `schema` here: passing it makes drizzle derive its relational-query config on every call,
  // that is on every request (measured: about 2% of a request's CPU), and we use the query builder only.
  return Object.assign(drizzle(sql), { sql });
}

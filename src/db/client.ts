/**
 * Database access: drizzle over postgres.js, and where connections live.
 *
 * A stateless Worker cannot share a socket between requests ("Cannot perform I/O on behalf of a
 * different request"): a connection opened while serving one request dies with it. Durable
 * Objects can keep one across requests. So there are two ways to reach PostgreSQL, chosen by
 * DATABASE_CONNECTIONS (config.ts):
 *
 *   - pooled (the default, and what self-hosting runs): requests that touch the database are
 *     served inside an ApiHost object (src/hosting/api-host.ts) that keeps a pool of connections
 *     open for its lifetime. Measured on standalone workerd: a forwarded request plus a one-row
 *     query costs about 0.26 ms of CPU, and the process's memory stays flat.
 *   - per-request (Cloudflare with Hyperdrive, whose own pool makes a connect cheap): each request
 *     opens one connection on first use and ends it when the response is done. Ending it matters:
 *     a client that is never ended keeps its buffers and timers, and workerd kept about 37 KB per
 *     request for good (20,000 requests: 104 MB to 875 MB).
 *
 * Channel and thread objects keep a connection of their own (see `idleTimeoutSeconds`).
 *
 * Behind PgBouncer in transaction mode, a query without parameters outside a transaction is a
 * hazard: postgres.js writes the next query on the same connection before the first one's answer
 * (pipelining), PgBouncer 1.18 lends the server connection back at that answer, and the second
 * query's answer is dropped, so that connection waits for ever (the readiness probe did this;
 * test/selfhost/load.selfhost.ts). Queries with parameters are not pipelined: give one.
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

export interface DatabaseOptions {
  /** Connections the client may open at once (a pool); one by default. */
  maxConnections?: number;
  /**
   * For Durable Objects that should hibernate: an object cannot be evicted while it holds an open
   * connection (a socket, and postgres.js's timers), so the connection is closed after that many
   * idle seconds and reopened by the next query. Tested in test/messages/hibernation.test.ts.
   */
  idleTimeoutSeconds?: number;
}

export function createDatabase(settings: DatabaseSettings, options: DatabaseOptions = {}) {
  const sql = postgres(settings.url, {
    max: options.maxConnections ?? 1,
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

/**
 * Ends a client once its queries are done (work the request left running, such as a session
 * touch, gets a few seconds). On the workerd build postgres.js rejects an internal read with
 * "Stream was cancelled." when its socket is torn down (porsager/postgres#1202); that means
 * nothing here.
 */
export function endDatabase(db: Database, graceSeconds = 5): Promise<void> {
  return db.sql.end({ timeout: graceSeconds }).catch(() => {});
}

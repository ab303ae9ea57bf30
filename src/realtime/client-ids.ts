/**
 * Which `client_id` created which message, kept in the conversation object's own SQLite storage
 * for a day (CLIENT_ID_TTL_MS): a send that repeats a client_id returns the message the first one
 * created instead of storing a second, over REST and sockets alike. Retries after a lost answer,
 * and a socket and a REST fallback racing, thus store one message.
 *
 * Why the object's storage: its statements are synchronous and commit with the event, so no await
 * splits a check from its write, and the records outlive the object's eviction.
 */
import { CLIENT_ID_TTL_MS } from "../services/message-rules";

export interface ClientIdRecord {
  /** The message a user's client_id created within the last day, or null. */
  find(userId: number, clientId: string, now: number): number | null;
  record(userId: number, clientId: string, messageId: number, now: number): void;
  /** The client_ids of the messages after `messageId`, so a catch-up echoes them like live delivery. */
  after(messageId: number): Map<number, string>;
  /** Forgets records older than a day. */
  prune(now: number): void;
}

export function sqliteClientIds(sql: SqlStorage): ClientIdRecord {
  sql.exec(`
    CREATE TABLE IF NOT EXISTS client_ids (
      user_id INTEGER NOT NULL,
      client_id TEXT NOT NULL,
      message_id INTEGER NOT NULL,
      created_at INTEGER NOT NULL,
      PRIMARY KEY (user_id, client_id)
    );
    CREATE INDEX IF NOT EXISTS client_ids_created_at ON client_ids (created_at);
    CREATE INDEX IF NOT EXISTS client_ids_message_id ON client_ids (message_id);
  `);
  return {
    find(userId, clientId, now) {
      const [row] = sql
        .exec<{ message_id: number; created_at: number }>(
          "SELECT message_id, created_at FROM client_ids WHERE user_id = ? AND client_id = ?",
          userId,
          clientId,
        )
        .toArray();
      return row && now - row.created_at < CLIENT_ID_TTL_MS ? row.message_id : null;
    },
    record(userId, clientId, messageId, now) {
      sql.exec(
        "INSERT OR REPLACE INTO client_ids (user_id, client_id, message_id, created_at) VALUES (?, ?, ?, ?)",
        userId,
        clientId,
        messageId,
        now,
      );
    },
    after(messageId) {
      const result = new Map<number, string>();
      const cursor = sql.exec<{ message_id: number; client_id: string }>(
        "SELECT message_id, client_id FROM client_ids WHERE message_id > ?",
        messageId,
      );
      for (const row of cursor) result.set(row.message_id, row.client_id);
      return result;
    },
    prune(now) {
      sql.exec("DELETE FROM client_ids WHERE created_at < ?", now - CLIENT_ID_TTL_MS);
    },
  };
}

/** The same record in memory, for the write queue's unit tests. */
export function memoryClientIds(): ClientIdRecord {
  const rows = new Map<string, { messageId: number; createdAt: number; clientId: string }>();
  const key = (userId: number, clientId: string) => `${userId}\u0000${clientId}`;
  return {
    find(userId, clientId, now) {
      const row = rows.get(key(userId, clientId));
      return row && now - row.createdAt < CLIENT_ID_TTL_MS ? row.messageId : null;
    },
    record(userId, clientId, messageId, now) {
      rows.set(key(userId, clientId), { messageId, createdAt: now, clientId });
    },
    after(messageId) {
      const result = new Map<number, string>();
      for (const row of rows.values()) if (row.messageId > messageId) result.set(row.messageId, row.clientId);
      return result;
    },
    prune(now) {
      for (const [k, row] of rows) if (now - row.createdAt >= CLIENT_ID_TTL_MS) rows.delete(k);
    },
  };
}

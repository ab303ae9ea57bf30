/**
 * The statements every post and every page runs, as SQL text written once per kind's table
 * (services/conversation-messages.ts describes the tables): drizzle builds a query and maps its
 * rows field by field on every call, which measured at about a sixth of a page's CPU. Rows come
 * back through `rowsOf` and are turned into messages by `toMessage`.
 */
import type { Queryable } from "./access";

/** The SQL names of a kind's message table (the two differ only in these). */
export interface MessageTableNames {
  table: string;
  /** `channel_id` or `thread_id`. */
  conversation: string;
  /** `user_id` or `sender_id`. */
  author: string;
  /** The kind's reactions table. */
  reactions: string;
}

/** A message row as the statements below return it. */
export interface RawMessageRow {
  id: number;
  conversation_id: number;
  user_id: number;
  content: string;
  is_edited: boolean;
  is_deleted: boolean;
  /** Timestamps arrive as PostgreSQL's text (drizzle's postgres.js client does not parse them). */
  created_at: string | Date;
  updated_at: string | Date | null;
  parent_id: number | null;
  reply_count: number;
  last_reply_at: string | Date | null;
  reply_user_ids: number[] | string;
  reaction_count: number;
  display_name?: string | null;
  avatar_url?: string | null;
  /** On a reply's insert: its root's counters after it (thread.updated). */
  root_reply_count?: number | null;
  root_last_reply_at?: string | Date | null;
  root_reply_user_ids?: number[] | string | null;
}

export interface MessageStatements {
  /** `select ... where <conversation> = $1`: add conditions (one message; pages use `page`). */
  select: string;
  /**
   * A page: `pageOf(conditions, order)` selects the conversation's ($1) messages matching the
   * extra conditions, ordered by id, with limit and offset as its last two parameters, and only
   * then joins their authors. Joining after the limit keeps the plan an index walk of the page:
   * joined first, a busy channel newer than the table's statistics was estimated at one row and
   * hashed and sorted whole (5.7 ms for 8,500 messages instead of 0.15; bench:rest's listing).
   */
  pageOf(conditions: string, order: "asc" | "desc", limitParam: number): string;
  /** The messages whose ids are in $1 (an int array), whatever their conversation. */
  selectByIds: string;
  /** Insert of a root: $1 conversation, $2 author, $3 content. */
  insert: string;
  /**
   * Insert of a reply and the update of its root's counters, one statement (so the counters never
   * miss a reply): $1 conversation, $2 author, $3 content, $4 root id.
   */
  insertReply: string;
}

/** How many repliers a root keeps (latest first). */
export const REPLIERS_KEPT = 5;

const cache = new Map<string, MessageStatements>();

export function statementsFor(names: MessageTableNames): MessageStatements {
  const key = names.table;
  let found = cache.get(key);
  if (found) return found;
  const { table, conversation, author } = names;
  const own = (alias: string) =>
    [
      `${alias}.id`,
      `${alias}.${conversation} as conversation_id`,
      `${alias}.${author} as user_id`,
      `${alias}.content`,
      `${alias}.is_edited`,
      `${alias}.is_deleted`,
      `${alias}.created_at`,
      `${alias}.updated_at`,
      `${alias}.parent_id`,
      `${alias}.reply_count`,
      `${alias}.last_reply_at`,
      `${alias}.reply_user_ids`,
      `${alias}.reaction_count`,
    ].join(", ");
  const columns = `${conversation}, ${author}, content, is_edited, is_deleted, parent_id`;
  found = {
    select: `select ${own("m")}, u.display_name, u.avatar_url from ${table} m join users u on u.id = m.${author} where m.${conversation} = $1`,
    pageOf: (conditions, order, limitParam) =>
      `select m.*, u.display_name, u.avatar_url from (select ${own("m")} from ${table} m where m.${conversation} = $1${conditions} ` +
      `order by m.id ${order} limit $${limitParam} offset $${limitParam + 1}) m join users u on u.id = m.user_id order by m.id ${order}`,
    selectByIds: `select ${own("m")}, u.display_name, u.avatar_url from ${table} m join users u on u.id = m.${author} where m.id = any($1::int[])`,
    insert: `insert into ${table} as m (${columns}) values ($1, $2, $3, false, false, null) returning ${own("m")}`,
    insertReply:
      `with reply as (insert into ${table} as m (${columns}) values ($1, $2, $3, false, false, $4) returning ${own("m")}), ` +
      `root as (update ${table} r set reply_count = r.reply_count + 1, last_reply_at = now(), ` +
      `reply_user_ids = (array_prepend($2::int, array_remove(r.reply_user_ids, $2::int)))[1:${REPLIERS_KEPT}] ` +
      `where r.id = $4 and exists (select 1 from reply) returning r.reply_count, r.last_reply_at, r.reply_user_ids) ` +
      "select reply.*, root.reply_count as root_reply_count, root.last_reply_at as root_last_reply_at, " +
      "root.reply_user_ids as root_reply_user_ids from reply left join root on true",
  };
  cache.set(key, found);
  return found;
}

type RawClient = { unsafe<T>(text: string, params: unknown[]): Promise<T[]> };

/**
 * A statement's rows, through the postgres.js client under drizzle: a database's own (`db.sql`,
 * db/client.ts) or, inside a transaction, the transaction's (drizzle's session holds it).
 */
export async function rowsOf<T>(db: Queryable, text: string, params: unknown[]): Promise<T[]> {
  const handle = db as unknown as { sql?: RawClient; session?: { client?: RawClient } };
  const client = handle.sql ?? handle.session?.client;
  if (!client) throw new Error("rowsOf: no postgres.js client under this database handle");
  return [...(await client.unsafe<T>(text, params))];
}

/** Ids as one PostgreSQL array parameter (`{1,2,3}`), whatever the driver does with arrays. */
export const idArray = (ids: readonly number[]) => `{${ids.map((id) => Math.trunc(id)).join(",")}}`;

export const asDate = (value: string | Date) => (value instanceof Date ? value : new Date(value));

/**
 * An integer array as the driver gives it: parsed, or PostgreSQL's text form (`{1,2}`) where
 * drizzle's client leaves array types unparsed.
 */
export function intArray(value: number[] | string | null | undefined): number[] {
  if (value === null || value === undefined) return [];
  if (Array.isArray(value)) return value.map(Number);
  const inner = value.replace(/^\{|\}$/g, "");
  return inner === "" ? [] : inner.split(",").map(Number);
}

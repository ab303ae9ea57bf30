/**
 * Messages of a conversation, for channels (`messages`, scoped by channel_id, written by user_id)
 * and direct-message threads (`direct_messages`, scoped by thread_id, written by sender_id) alike:
 * the two tables have the same shape under different names, so every statement is written once,
 * over a description of the table (MessageTable), and the two kinds only differ in that
 * description.
 *
 * Writes are made by the conversation's Durable Object only (realtime/conversation-room.ts), the
 * single writer that stores and then broadcasts, so ids, commits and broadcasts come in one order.
 *
 * Messages are ordered by id, never by timestamp: ids come from one sequence and, with one writer
 * per conversation, commit in id order, so a reader paging with `after_id` never skips a message
 * that commits late under a smaller id.
 *
 * Deleted messages are soft-deleted (`is_deleted`): they are left out of listings, catch-up and
 * unread counts, and their content is never served again.
 */
import { and, eq, getTableName, sql } from "drizzle-orm";
import type { PgColumn, PgTable } from "drizzle-orm/pg-core";
import { channelReads, directMessageReads, directMessages, messages, users } from "../db/schema";
import type { Queryable } from "./access";
import { type PageQuery, UNREAD_COUNT_CAP } from "./message-rules";

export interface Author {
  id: number;
  displayName: string | null;
  avatarUrl: string | null;
}

/** A message as every reader of it sees it; `conversationId` is its channel's or thread's id. */
export interface StoredMessage {
  id: number;
  conversationId: number;
  /** The author (`user_id` of a channel message, `sender_id` of a direct one). */
  userId: number;
  content: string;
  isEdited: boolean;
  isDeleted: boolean;
  createdAt: Date;
  updatedAt: Date | null;
  author: Author;
}

/** Where a kind's messages and read pointers live. */
export interface MessageTable {
  messages: PgTable;
  columns: {
    id: PgColumn;
    conversationId: PgColumn;
    userId: PgColumn;
    content: PgColumn;
    isEdited: PgColumn;
    isDeleted: PgColumn;
    createdAt: PgColumn;
    updatedAt: PgColumn;
  };
  reads: PgTable;
  readColumns: { userId: PgColumn; conversationId: PgColumn; lastReadMessageId: PgColumn };
}

export const channelMessageTable: MessageTable = {
  messages,
  columns: {
    id: messages.id,
    conversationId: messages.channelId,
    userId: messages.userId,
    content: messages.content,
    isEdited: messages.isEdited,
    isDeleted: messages.isDeleted,
    createdAt: messages.createdAt,
    updatedAt: messages.updatedAt,
  },
  reads: channelReads,
  readColumns: {
    userId: channelReads.userId,
    conversationId: channelReads.channelId,
    lastReadMessageId: channelReads.lastReadMessageId,
  },
};

export const directMessageTable: MessageTable = {
  messages: directMessages,
  columns: {
    id: directMessages.id,
    conversationId: directMessages.threadId,
    userId: directMessages.senderId,
    content: directMessages.content,
    isEdited: directMessages.isEdited,
    isDeleted: directMessages.isDeleted,
    createdAt: directMessages.createdAt,
    updatedAt: directMessages.updatedAt,
  },
  reads: directMessageReads,
  readColumns: {
    userId: directMessageReads.userId,
    conversationId: directMessageReads.threadId,
    lastReadMessageId: directMessageReads.lastReadMessageId,
  },
};

type Row = Omit<StoredMessage, "author">;

const authorColumns = { id: users.id, displayName: users.displayName, avatarUrl: users.avatarUrl };

// ---------------------------------------------------------------------------------------------
// The statements every post and every page runs, written as SQL text once per table: drizzle
// builds a query and maps its rows field by field on every call, which measured at about a sixth
// of a page's CPU. The rest of the module uses drizzle.
// ---------------------------------------------------------------------------------------------

interface RawMessageRow {
  id: number;
  conversation_id: number;
  user_id: number;
  content: string;
  is_edited: boolean;
  is_deleted: boolean;
  /** Timestamps arrive as PostgreSQL's text (drizzle's postgres.js client does not parse them). */
  created_at: string | Date;
  updated_at: string | Date | null;
  display_name?: string | null;
  avatar_url?: string | null;
}

const asDate = (value: string | Date) => (value instanceof Date ? value : new Date(value));

function toRow(raw: RawMessageRow): Row {
  return {
    id: raw.id,
    conversationId: raw.conversation_id,
    userId: raw.user_id,
    content: raw.content,
    isEdited: raw.is_edited,
    isDeleted: raw.is_deleted,
    createdAt: asDate(raw.created_at),
    updatedAt: raw.updated_at === null ? null : asDate(raw.updated_at),
  };
}

function toMessage(raw: RawMessageRow): StoredMessage {
  return {
    ...toRow(raw),
    author: { id: raw.user_id, displayName: raw.display_name ?? null, avatarUrl: raw.avatar_url ?? null },
  };
}

interface Statements {
  /** `select ... where` with the conversation as $1: add conditions, order and limit. */
  selectWithAuthor: string;
  insert: string;
}

const statementsOf = new WeakMap<MessageTable, Statements>();

function statements(t: MessageTable): Statements {
  let found = statementsOf.get(t);
  if (!found) {
    const table = `"${getTableName(t.messages)}"`;
    const c = (column: PgColumn) => `m."${column.name}"`;
    const own = [
      `${c(t.columns.id)} as id`,
      `${c(t.columns.conversationId)} as conversation_id`,
      `${c(t.columns.userId)} as user_id`,
      `${c(t.columns.content)} as content`,
      `${c(t.columns.isEdited)} as is_edited`,
      `${c(t.columns.isDeleted)} as is_deleted`,
      `${c(t.columns.createdAt)} as created_at`,
      `${c(t.columns.updatedAt)} as updated_at`,
    ].join(", ");
    const bare = (column: PgColumn) => `"${column.name}"`;
    found = {
      selectWithAuthor:
        `select ${own}, u.display_name, u.avatar_url from ${table} m join users u on u.id = ${c(t.columns.userId)} ` +
        `where ${c(t.columns.conversationId)} = $1`,
      insert:
        `insert into ${table} as m (${bare(t.columns.conversationId)}, ${bare(t.columns.userId)}, content, is_edited, is_deleted) ` +
        `values ($1, $2, $3, false, false) returning ${own}`,
    };
    statementsOf.set(t, found);
  }
  return found;
}

/** A statement's result as plain rows (db.sql is the postgres.js client under drizzle). */
async function run(db: Queryable, text: string, params: unknown[]): Promise<RawMessageRow[]> {
  const client = (db as unknown as { sql: { unsafe(q: string, p: unknown[]): Promise<RawMessageRow[]> } })
    .sql;
  return [...(await client.unsafe(text, params))];
}

/**
 * A page of a conversation's messages by id cursor. Without `afterId`: the newest `limit`
 * messages (below `beforeId` when given), newest first, as the original's listing. With `afterId`:
 * the oldest `limit` messages above it (and below `beforeId` when given), oldest first, so that
 * calling again with the last id received pages forward without gaps or repeats.
 */
export async function listMessages(
  db: Queryable,
  t: MessageTable,
  conversationId: number,
  page: PageQuery,
  options: { includeDeleted?: boolean } = {},
): Promise<StoredMessage[]> {
  const params: unknown[] = [conversationId];
  let text = statements(t).selectWithAuthor;
  if (!options.includeDeleted) text += ` and not m."${t.columns.isDeleted.name}"`;
  const id = `m."${t.columns.id.name}"`;
  if (page.beforeId !== undefined) {
    params.push(page.beforeId);
    text += ` and ${id} < $${params.length}`;
  }
  if (page.afterId !== undefined) {
    params.push(page.afterId);
    text += ` and ${id} > $${params.length}`;
  }
  params.push(page.limit, page.offset ?? 0);
  text += ` order by ${id} ${page.afterId !== undefined ? "asc" : "desc"} limit $${params.length - 1} offset $${params.length}`;
  return (await run(db, text, params)).map(toMessage);
}

export async function getMessage(
  db: Queryable,
  t: MessageTable,
  conversationId: number,
  messageId: number,
): Promise<StoredMessage | undefined> {
  const [row] = await run(db, `${statements(t).selectWithAuthor} and m."${t.columns.id.name}" = $2`, [
    conversationId,
    messageId,
  ]);
  return row ? toMessage(row) : undefined;
}

export async function getAuthor(db: Queryable, userId: number): Promise<Author | undefined> {
  const [row] = await db.select(authorColumns).from(users).where(eq(users.id, userId));
  return row;
}

/** Stores one message; the author is the caller's to attach. */
export async function insertMessage(
  db: Queryable,
  t: MessageTable,
  input: { conversationId: number; userId: number; content: string },
): Promise<Row> {
  const [row] = await run(db, statements(t).insert, [input.conversationId, input.userId, input.content]);
  if (!row) throw new Error("a message insert returned no row");
  return toRow(row);
}

export type ChangeOutcome =
  | { kind: "ok"; message: StoredMessage }
  | { kind: "not_found" }
  | { kind: "forbidden" };

export interface MessageChange {
  conversationId: number;
  messageId: number;
  userId: number;
}

/** Replaces the content of a message; only its author may. */
export async function editMessage(
  db: Queryable,
  t: MessageTable,
  input: MessageChange & { content: string },
): Promise<ChangeOutcome> {
  const existing = await getMessage(db, t, input.conversationId, input.messageId);
  if (!existing || existing.isDeleted) return { kind: "not_found" };
  if (existing.userId !== input.userId) return { kind: "forbidden" };
  const [row] = await db
    .update(t.messages)
    .set({ content: input.content, isEdited: true })
    .where(and(eq(t.columns.id, input.messageId), eq(t.columns.isDeleted, false)))
    .returning({ updatedAt: t.columns.updatedAt });
  if (!row) return { kind: "not_found" };
  return {
    kind: "ok",
    message: { ...existing, content: input.content, isEdited: true, updatedAt: row.updatedAt as Date | null },
  };
}

/** Soft-deletes a message: its author may, and so may a moderator (`moderator`: the kind decides). */
export async function deleteMessage(
  db: Queryable,
  t: MessageTable,
  input: MessageChange & { moderator: boolean },
): Promise<ChangeOutcome> {
  const existing = await getMessage(db, t, input.conversationId, input.messageId);
  if (!existing || existing.isDeleted) return { kind: "not_found" };
  if (existing.userId !== input.userId && !input.moderator) return { kind: "forbidden" };
  const [row] = await db
    .update(t.messages)
    .set({ isDeleted: true })
    .where(and(eq(t.columns.id, input.messageId), eq(t.columns.isDeleted, false)))
    .returning({ updatedAt: t.columns.updatedAt });
  if (!row) return { kind: "not_found" };
  return {
    kind: "ok",
    message: { ...existing, content: "", isDeleted: true, updatedAt: row.updatedAt as Date | null },
  };
}

// ---------------------------------------------------------------------------------------------
// Read pointers: one per user and conversation, forward only
// ---------------------------------------------------------------------------------------------

/** A read pointer with what clients show beside it. */
export interface ReadState {
  conversationId: number;
  lastReadMessageId: number;
  unreadCount: number;
  /** The other participants' pointers, where the kind shows them (a thread's other participant). */
  peers: { userId: number; lastReadMessageId: number }[];
}

/** The user's read pointer (0 when nothing was read). */
export async function readPointer(
  db: Queryable,
  t: MessageTable,
  userId: number,
  conversationId: number,
): Promise<number> {
  const r = t.readColumns;
  const [row] = await db
    .select({ last: r.lastReadMessageId })
    .from(t.reads)
    .where(and(eq(r.userId, userId), eq(r.conversationId, conversationId)));
  return Number(row?.last ?? 0);
}

/** The messages of others after the user's pointer, capped at UNREAD_COUNT_CAP. */
export async function unreadCount(
  db: Queryable,
  t: MessageTable,
  userId: number,
  conversationId: number,
): Promise<number> {
  const c = t.columns;
  const r = t.readColumns;
  const rows = await db.execute<{ unread: number }>(sql`
    select count(*)::int as unread from (
      select 1 from ${t.messages}
      where ${c.conversationId} = ${conversationId} and not ${c.isDeleted} and ${c.userId} <> ${userId}
        and ${c.id} > coalesce((select ${r.lastReadMessageId} from ${t.reads}
                                where ${r.userId} = ${userId} and ${r.conversationId} = ${conversationId}), 0)
      limit ${UNREAD_COUNT_CAP}
    ) as unread_rows`);
  return Number(rows[0]?.unread ?? 0);
}

/**
 * Moves the user's read pointer forward to `messageId`, never back (a late request from another
 * tab cannot un-read anything), and never past the conversation's newest message (a made-up id
 * cannot mark future messages read). `messageId` null means "everything so far". Returns the
 * pointer as stored.
 */
export async function moveReadPointer(
  db: Queryable,
  t: MessageTable,
  userId: number,
  conversationId: number,
  messageId: number | null,
): Promise<number> {
  const c = t.columns;
  const r = t.readColumns;
  const newest = sql`coalesce((select max(${c.id}) from ${t.messages} where ${c.conversationId} = ${conversationId}), 0)`;
  const wanted = messageId === null ? newest : sql`least(${messageId}::int, ${newest})`;
  // Column names inside INSERT ... ON CONFLICT are written bare, as PostgreSQL requires there.
  const rows = await db.execute<{ last: number }>(sql`
    insert into ${t.reads} (${sql.identifier(r.userId.name)}, ${sql.identifier(r.conversationId.name)},
                            ${sql.identifier(r.lastReadMessageId.name)}, updated_at)
    values (${userId}, ${conversationId}, ${wanted}, now())
    on conflict (${sql.identifier(r.userId.name)}, ${sql.identifier(r.conversationId.name)}) do update
      set ${sql.identifier(r.lastReadMessageId.name)} =
            greatest(${t.reads}.${sql.identifier(r.lastReadMessageId.name)}, excluded.${sql.identifier(r.lastReadMessageId.name)}),
          updated_at = now()
    returning ${sql.identifier(r.lastReadMessageId.name)} as last`);
  return Number(rows[0]?.last ?? 0);
}

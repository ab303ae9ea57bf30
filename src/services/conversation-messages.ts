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
import { and, eq, sql } from "drizzle-orm";
import type { PgColumn, PgTable } from "drizzle-orm/pg-core";
import { channelReads, directMessageReads, directMessages, messages, users } from "../db/schema";
import type { Queryable } from "./access";
import { type PageQuery, UNREAD_COUNT_CAP } from "./message-rules";
import {
  asDate,
  idArray,
  intArray,
  type MessageTableNames,
  type RawMessageRow,
  rowsOf,
  statementsFor,
} from "./message-statements";

export interface Author {
  id: number;
  displayName: string | null;
  avatarUrl: string | null;
}

/** A message's reactions as one reader sees them. */
export interface ReactionSummary {
  emoji: string;
  count: number;
  /** Whether the reader is among those who reacted so. */
  me: boolean;
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
  /** The root this message replies to, or null for a root (threads are one level deep). */
  parentId: number | null;
  /** On a root: how many replies, when the last came, and the latest repliers (a few). */
  replyCount: number;
  lastReplyAt: Date | null;
  replyUserIds: number[];
  reactionCount: number;
  /** Reactions as the reader sees them, where a read knows the reader (empty otherwise). */
  reactions: ReactionSummary[];
}

/** A root's thread after a reply: what `thread.updated` tells. */
export interface ThreadCounters {
  rootId: number;
  replyCount: number;
  lastReplyAt: Date | null;
  replyUserIds: number[];
}

/** Where a kind's messages and read pointers live. */
export interface MessageTable {
  names: MessageTableNames;
  messages: PgTable;
  columns: {
    id: PgColumn;
    conversationId: PgColumn;
    userId: PgColumn;
    isDeleted: PgColumn;
    updatedAt: PgColumn;
  };
  reads: PgTable;
  readColumns: { userId: PgColumn; conversationId: PgColumn; lastReadMessageId: PgColumn };
}

export const channelMessageTable: MessageTable = {
  names: { table: "messages", conversation: "channel_id", author: "user_id", reactions: "message_reactions" },
  messages,
  columns: {
    id: messages.id,
    conversationId: messages.channelId,
    userId: messages.userId,
    isDeleted: messages.isDeleted,
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
  names: {
    table: "direct_messages",
    conversation: "thread_id",
    author: "sender_id",
    reactions: "direct_message_reactions",
  },
  messages: directMessages,
  columns: {
    id: directMessages.id,
    conversationId: directMessages.threadId,
    userId: directMessages.senderId,
    isDeleted: directMessages.isDeleted,
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
    parentId: raw.parent_id,
    replyCount: raw.reply_count,
    lastReplyAt: raw.last_reply_at === null ? null : asDate(raw.last_reply_at),
    replyUserIds: intArray(raw.reply_user_ids),
    reactionCount: raw.reaction_count,
    reactions: [],
  };
}

function toMessage(raw: RawMessageRow): StoredMessage {
  return {
    ...toRow(raw),
    author: { id: raw.user_id, displayName: raw.display_name ?? null, avatarUrl: raw.avatar_url ?? null },
  };
}

export interface ListOptions {
  /** Deleted messages too (the write queue's read-back); else left out. */
  includeDeleted?: boolean;
  /**
   * false: roots only, a deleted root that has replies kept as a tombstone (its thread stays
   * readable); true (the default, as the original's listing): every message, replies included.
   */
  includeReplies?: boolean;
  /** Only the replies of this root (GET .../messages/{id}/replies). */
  rootId?: number;
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
  options: ListOptions = {},
): Promise<StoredMessage[]> {
  const params: unknown[] = [conversationId];
  let conditions = "";
  if (options.rootId !== undefined) {
    params.push(options.rootId);
    conditions += ` and m.parent_id = $${params.length}`;
  } else if (options.includeReplies === false) {
    conditions += " and m.parent_id is null";
  }
  if (!options.includeDeleted) {
    conditions +=
      options.includeReplies === false
        ? " and (not m.is_deleted or m.reply_count > 0)"
        : " and not m.is_deleted";
  }
  if (page.beforeId !== undefined) {
    params.push(page.beforeId);
    conditions += ` and m.id < $${params.length}`;
  }
  if (page.afterId !== undefined) {
    params.push(page.afterId);
    conditions += ` and m.id > $${params.length}`;
  }
  params.push(page.limit, page.offset ?? 0);
  const text = statementsFor(t.names).pageOf(
    conditions,
    page.afterId !== undefined ? "asc" : "desc",
    params.length - 1,
  );
  return (await rowsOf<RawMessageRow>(db, text, params)).map(toMessage);
}

export async function getMessage(
  db: Queryable,
  t: MessageTable,
  conversationId: number,
  messageId: number,
): Promise<StoredMessage | undefined> {
  const [row] = await rowsOf<RawMessageRow>(db, `${statementsFor(t.names).select} and m.id = $2`, [
    conversationId,
    messageId,
  ]);
  return row ? toMessage(row) : undefined;
}

/** Messages by id (any conversation of the kind), for listings that gather them (mentions). */
export async function messagesByIds(
  db: Queryable,
  t: MessageTable,
  ids: readonly number[],
): Promise<StoredMessage[]> {
  if (ids.length === 0) return [];
  return (await rowsOf<RawMessageRow>(db, statementsFor(t.names).selectByIds, [idArray(ids)])).map(toMessage);
}

export async function getAuthor(db: Queryable, userId: number): Promise<Author | undefined> {
  const [row] = await db.select(authorColumns).from(users).where(eq(users.id, userId));
  return row;
}

/**
 * Stores one message (a reply when `parentId` is set, with its root's counters moved in the same
 * statement); the author is the caller's to attach.
 */
export async function insertMessage(
  db: Queryable,
  t: MessageTable,
  input: { conversationId: number; userId: number; content: string; parentId?: number | null },
): Promise<Row & { thread?: ThreadCounters }> {
  const statements = statementsFor(t.names);
  const reply = input.parentId !== undefined && input.parentId !== null;
  const [row] = await rowsOf<RawMessageRow>(
    db,
    reply ? statements.insertReply : statements.insert,
    reply
      ? [input.conversationId, input.userId, input.content, input.parentId]
      : [input.conversationId, input.userId, input.content],
  );
  if (!row) throw new Error("a message insert returned no row");
  const stored: Row & { thread?: ThreadCounters } = toRow(row);
  if (reply && row.root_reply_count !== null && row.root_reply_count !== undefined) {
    stored.thread = {
      rootId: input.parentId as number,
      replyCount: row.root_reply_count,
      lastReplyAt: row.root_last_reply_at ? asDate(row.root_last_reply_at) : null,
      replyUserIds: intArray(row.root_reply_user_ids),
    };
  }
  return stored;
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
export function editMessage(
  db: Queryable,
  t: MessageTable,
  input: MessageChange & { content: string },
): Promise<ChangeOutcome> {
  return changeMessage(db, t, input, false, { content: input.content, isEdited: true });
}

/** Soft-deletes a message: its author may, and so may a moderator (`moderator`: the kind decides). */
export function deleteMessage(
  db: Queryable,
  t: MessageTable,
  input: MessageChange & { moderator: boolean },
): Promise<ChangeOutcome> {
  return changeMessage(db, t, input, input.moderator, { content: "", isDeleted: true });
}

/**
 * Changes a message that is not deleted, when the caller wrote it or `moderator` says they may
 * anyway. The stored content stays as written on a delete (the row is only marked); what the
 * change answers with is the message as clients see it now (`seen`).
 */
async function changeMessage(
  db: Queryable,
  t: MessageTable,
  input: MessageChange,
  moderator: boolean,
  seen: { content: string; isEdited?: true; isDeleted?: true },
): Promise<ChangeOutcome> {
  const existing = await getMessage(db, t, input.conversationId, input.messageId);
  if (!existing || existing.isDeleted) return { kind: "not_found" };
  if (existing.userId !== input.userId && !moderator) return { kind: "forbidden" };
  const stored = seen.isDeleted ? { isDeleted: true } : { content: seen.content, isEdited: true };
  const [row] = await db
    .update(t.messages)
    .set(stored)
    .where(and(eq(t.columns.id, input.messageId), eq(t.columns.isDeleted, false)))
    .returning({ updatedAt: t.columns.updatedAt });
  if (!row) return { kind: "not_found" };
  return { kind: "ok", message: { ...existing, ...seen, updatedAt: row.updatedAt as Date | null } };
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

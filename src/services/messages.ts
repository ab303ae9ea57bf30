/**
 * Channel messages (contract 2.8, 3.4; D13, D14): the rules and the database statements behind
 * posting, listing, editing and deleting them, and each user's read state.
 *
 * Writes are not made from here directly by routes: every post, edit and delete of a channel
 * goes through that channel's ChannelRoom object (src/realtime/channel-room.ts), the single
 * writer that stores and then broadcasts, so that ids, commits and broadcasts come in one order.
 * The functions below are the statements it runs; reads (listing, read state) are made by the
 * routes directly. Callers check access first (services/access.ts).
 *
 * Messages are ordered by id, never by timestamp: ids come from one sequence and, with one writer
 * per channel, commit in id order, so a reader paging with `after_id` never skips a message that
 * commits late under a smaller id.
 *
 * Deleted messages are soft-deleted (`is_deleted`); they are left out of listings, catch-up and
 * unread counts, and their content is never served again.
 */
import { and, asc, desc, eq, gt, lt, sql } from "drizzle-orm";
import { channelReads, messages, users } from "../db/schema";
import { UNSTORABLE_TEXT_MESSAGE, unstorableText } from "../db/text";
import type { Queryable } from "./access";

/** Longest message, in Unicode code points (the web app limits its composer to the same). */
export const MESSAGE_MAX_CHARS = 4000;
/** Longest `client_id` accepted: the web app sends `client:` and a UUID. */
export const CLIENT_ID_MAX_CHARS = 128;
/** Page sizes of GET /channels/{id}/messages: the default, and the bounds `limit` is clamped to. */
export const PAGE_SIZE_DEFAULT = 50;
export const PAGE_SIZE_MAX = 100;
/** Unread counts stop here: counting further costs a scan and shows nothing more ("999+"). */
export const UNREAD_COUNT_CAP = 1000;
/** How long a `client_id` keeps returning the message it first created (contract 1.2, D14). */
export const CLIENT_ID_TTL_MS = 24 * 60 * 60 * 1000;
/** The window of the per-user post limit (contract 6.2). */
export const POST_WINDOW_MS = 10_000;

export interface Author {
  id: number;
  displayName: string | null;
  avatarUrl: string | null;
}

export interface MessageView {
  id: number;
  channelId: number;
  userId: number;
  content: string;
  isEdited: boolean;
  isDeleted: boolean;
  createdAt: Date;
  updatedAt: Date | null;
  author: Author;
}

/** Why a content is refused, or null when it is acceptable (the socket path; REST uses zod). */
export function contentProblem(value: unknown): string | null {
  if (typeof value !== "string") return "content must be a string";
  if (value.trim() === "") return "content must not be empty or blank";
  const unstorable = unstorableText(value);
  if (unstorable) return `content ${UNSTORABLE_TEXT_MESSAGE[unstorable]}`;
  if (value.length > MESSAGE_MAX_CHARS && [...value].length > MESSAGE_MAX_CHARS) {
    return `content must be at most ${MESSAGE_MAX_CHARS} characters`;
  }
  return null;
}

/** A client_id as stored: a non-empty string up to the limit; "" and null mean none. */
export function normaliseClientId(value: unknown): { ok: true; clientId: string | null } | { ok: false } {
  if (value === undefined || value === null || value === "") return { ok: true, clientId: null };
  if (typeof value !== "string" || value.length > CLIENT_ID_MAX_CHARS || unstorableText(value)) {
    return { ok: false };
  }
  return { ok: true, clientId: value };
}

/** The message columns every view reads (the author is joined where needed). */
const ownColumns = {
  id: messages.id,
  channelId: messages.channelId,
  userId: messages.userId,
  content: messages.content,
  isEdited: messages.isEdited,
  isDeleted: messages.isDeleted,
  createdAt: messages.createdAt,
  updatedAt: messages.updatedAt,
};

const messageColumns = {
  ...ownColumns,
  author: { id: users.id, displayName: users.displayName, avatarUrl: users.avatarUrl },
};

export interface PageQuery {
  /** Only messages with a smaller id. */
  beforeId?: number;
  /** Only messages with a larger id; the page is then in ascending order (see listMessages). */
  afterId?: number;
  /** Already clamped to 1..PAGE_SIZE_MAX. */
  limit: number;
}

/**
 * A page of a channel's messages by id cursor. Without `afterId`: the newest `limit` messages
 * (below `beforeId` when given), newest first, as the contract's listing has always been. With
 * `afterId`: the oldest `limit` messages above it (and below `beforeId` when given), oldest first,
 * so that calling again with the last id received pages forward without gaps or repeats.
 */
export async function listMessages(
  db: Queryable,
  channelId: number,
  page: PageQuery,
): Promise<MessageView[]> {
  const forward = page.afterId !== undefined;
  return db
    .select(messageColumns)
    .from(messages)
    .innerJoin(users, eq(users.id, messages.userId))
    .where(
      and(
        eq(messages.channelId, channelId),
        eq(messages.isDeleted, false),
        page.beforeId === undefined ? undefined : lt(messages.id, page.beforeId),
        page.afterId === undefined ? undefined : gt(messages.id, page.afterId),
      ),
    )
    .orderBy(forward ? asc(messages.id) : desc(messages.id))
    .limit(page.limit);
}

/** The messages after `sinceId`, oldest first, at most `max` (a socket's catch-up). */
export function messagesSince(db: Queryable, channelId: number, sinceId: number, max: number) {
  return listMessages(db, channelId, { afterId: sinceId, limit: max });
}

export async function getMessage(
  db: Queryable,
  channelId: number,
  messageId: number,
): Promise<MessageView | undefined> {
  const [row] = await db
    .select(messageColumns)
    .from(messages)
    .innerJoin(users, eq(users.id, messages.userId))
    .where(and(eq(messages.id, messageId), eq(messages.channelId, channelId)));
  return row;
}

export async function getAuthor(db: Queryable, userId: number): Promise<Author | undefined> {
  const [row] = await db
    .select({ id: users.id, displayName: users.displayName, avatarUrl: users.avatarUrl })
    .from(users)
    .where(eq(users.id, userId));
  return row;
}

/** Stores one message; the author is the caller's to attach. */
export async function insertMessage(
  db: Queryable,
  input: { channelId: number; userId: number; content: string },
): Promise<Omit<MessageView, "author">> {
  const [row] = await db
    .insert(messages)
    .values({ channelId: input.channelId, userId: input.userId, content: input.content })
    .returning(ownColumns);
  if (!row) throw new Error("insert into messages returned no row");
  return row;
}

export type ChangeOutcome =
  | { kind: "ok"; message: MessageView }
  | { kind: "not_found" }
  | { kind: "forbidden" };

/** Replaces the content of a message; only its author may (contract: PATCH, author only). */
export async function editMessage(
  db: Queryable,
  input: { channelId: number; messageId: number; userId: number; content: string },
): Promise<ChangeOutcome> {
  const existing = await getMessage(db, input.channelId, input.messageId);
  if (!existing || existing.isDeleted) return { kind: "not_found" };
  if (existing.userId !== input.userId) return { kind: "forbidden" };
  const [row] = await db
    .update(messages)
    .set({ content: input.content, isEdited: true })
    .where(and(eq(messages.id, input.messageId), eq(messages.isDeleted, false)))
    .returning({ updatedAt: messages.updatedAt });
  if (!row) return { kind: "not_found" };
  return {
    kind: "ok",
    message: { ...existing, content: input.content, isEdited: true, updatedAt: row.updatedAt },
  };
}

/** Soft-deletes a message: its author may, and so may the workspace's owner and admins. */
export async function deleteMessage(
  db: Queryable,
  input: { channelId: number; messageId: number; userId: number; moderator: boolean },
): Promise<ChangeOutcome> {
  const existing = await getMessage(db, input.channelId, input.messageId);
  if (!existing || existing.isDeleted) return { kind: "not_found" };
  if (existing.userId !== input.userId && !input.moderator) return { kind: "forbidden" };
  const [row] = await db
    .update(messages)
    .set({ isDeleted: true })
    .where(and(eq(messages.id, input.messageId), eq(messages.isDeleted, false)))
    .returning({ updatedAt: messages.updatedAt });
  if (!row) return { kind: "not_found" };
  return { kind: "ok", message: { ...existing, content: "", isDeleted: true, updatedAt: row.updatedAt } };
}

// ---------------------------------------------------------------------------------------------
// Read state
// ---------------------------------------------------------------------------------------------

/**
 * Unread messages per channel for a user, for the channel listing: the messages of others after
 * the user's read pointer (none read yet: all of them), capped at UNREAD_COUNT_CAP. One query for
 * the whole list; channels missing from `channelIds` are not looked at, and the caller is expected
 * to have checked access to them.
 */
export async function unreadCounts(
  db: Queryable,
  userId: number,
  channelIds: readonly number[],
): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  if (channelIds.length === 0) return counts;
  const ids = sql.join(
    channelIds.map((id) => sql`(${id}::int)`),
    sql`, `,
  );
  const rows = await db.execute<{ channel_id: number; unread: number }>(sql`
    select c.id as channel_id, (
      select count(*)::int from (
        select 1 from ${messages}
        where ${messages.channelId} = c.id and ${messages.id} > coalesce(r.last_read_message_id, 0)
          and not ${messages.isDeleted} and ${messages.userId} <> ${userId}
        limit ${UNREAD_COUNT_CAP}
      ) as unread
    ) as unread
    from (values ${ids}) as c(id)
    left join ${channelReads} r on r.channel_id = c.id and r.user_id = ${userId}`);
  for (const row of rows) counts.set(Number(row.channel_id), Number(row.unread));
  return counts;
}

export interface ReadState {
  channelId: number;
  lastReadMessageId: number;
  unreadCount: number;
}

/** The user's read pointer in a channel (0 when nothing was read) and what is unread after it. */
export async function getReadState(db: Queryable, userId: number, channelId: number): Promise<ReadState> {
  const [row] = await db
    .select({ lastRead: channelReads.lastReadMessageId })
    .from(channelReads)
    .where(and(eq(channelReads.userId, userId), eq(channelReads.channelId, channelId)));
  const counts = await unreadCounts(db, userId, [channelId]);
  return { channelId, lastReadMessageId: row?.lastRead ?? 0, unreadCount: counts.get(channelId) ?? 0 };
}

/**
 * Moves the user's read pointer forward to `messageId`, never back (a late request from another
 * tab cannot un-read anything), and never past the channel's newest message (so a made-up id
 * cannot mark future messages read). Returns the pointer as stored and the count after it.
 */
export async function markChannelRead(
  db: Queryable,
  userId: number,
  channelId: number,
  messageId: number,
): Promise<ReadState> {
  const newest = sql`coalesce((select max(${messages.id}) from ${messages} where ${messages.channelId} = ${channelId}), 0)`;
  await db.execute(sql`
    insert into ${channelReads} (user_id, channel_id, last_read_message_id, updated_at)
    values (${userId}, ${channelId}, least(${messageId}::int, ${newest}), now())
    on conflict (user_id, channel_id) do update
      set last_read_message_id = greatest(${channelReads.lastReadMessageId}, excluded.last_read_message_id),
          updated_at = now()`);
  return getReadState(db, userId, channelId);
}

/**
 * Mentions: `@handle` (a display-name handle, `name#1234`), `@channel` (everyone who can read the
 * conversation) and `@here` (those of them who are online), found in a message when it is stored
 * and resolved only to people who can read the conversation then (never the author). Each one is
 * recorded (`message_mentions`), counted as unread in channel listings until the user's read
 * pointer passes it, listed by GET /users/me/mentions, and told to the user's notification feed
 * as a `mention` event.
 *
 * Who may address everyone: `@channel` and `@here` are resolved when the author moderates the
 * conversation (a workspace's owner or admins; they reach the first EVERYONE_HARD_CAP readers) or
 * when it has at most MENTION_EVERYONE_MAX_READERS readers (default 50);
 * otherwise they are left as text (in a large channel, anyone could otherwise page hundreds of
 * people at once). In a direct-message thread they name the other participant (`@here` only while
 * they are online).
 */
import { and, eq, inArray, type SQLWrapper, sql } from "drizzle-orm";
import { messageMentions } from "../db/schema";
import { channelReadableBy, type Queryable, threadParticipant } from "./access";
import {
  channelMessageTable,
  directMessageTable,
  messagesByIds,
  type StoredMessage,
} from "./conversation-messages";
import { asDate, idArray } from "./message-statements";
import { withReactions } from "./reactions";

/** The default of MENTION_EVERYONE_MAX_READERS. */
export const EVERYONE_MAX_READERS = 50;
/**
 * The most people one `@channel` or `@here` of a moderator reaches (the first by user id): a
 * bound on the work one message can cause.
 */
export const EVERYONE_HARD_CAP = 1000;
/** Handles named in one message that are looked up at most (the rest are left as text). */
export const MAX_HANDLES_PER_MESSAGE = 20;

export type MentionVia = "user" | "channel" | "here";

export interface ParsedMentions {
  /** Handles named, lower-cased (handles match case-insensitively, as at login). */
  handles: string[];
  channel: boolean;
  here: boolean;
}

// `@` then a base of 2-32 characters without `@`, `#` or a line break, then `#` and four digits
// (the handle rule, auth/handles.ts). The base may hold spaces, as handles do.
const HANDLE = /@([^@#\n]{2,32}?#\d{4})(?!\d)/gu;
const EVERYONE = /(^|[^\w@])@(channel|here)(?![\w#])/g;

/** The mentions a content names (pure: resolving them is `resolve`'s). */
export function parseMentions(content: string): ParsedMentions {
  const handles = new Set<string>();
  if (content.includes("@")) {
    for (const match of content.matchAll(HANDLE)) {
      if (handles.size >= MAX_HANDLES_PER_MESSAGE) break;
      handles.add((match[1] as string).toLowerCase());
    }
  }
  let channel = false;
  let here = false;
  for (const match of content.matchAll(EVERYONE)) {
    if (match[2] === "channel") channel = true;
    else here = true;
  }
  return { handles: [...handles], channel, here };
}

export const mentionsAnyone = (parsed: ParsedMentions) =>
  parsed.handles.length > 0 || parsed.channel || parsed.here;

export interface MentionRow {
  userId: number;
  via: MentionVia;
}

/** Records a message's mentions (once per user). */
export async function recordMentions(
  db: Queryable,
  conversation: { kind: "channel" | "dm"; id: number },
  message: { id: number; authorId: number },
  mentions: readonly MentionRow[],
): Promise<void> {
  if (mentions.length === 0) return;
  await db
    .insert(messageMentions)
    .values(
      mentions.map((m) => ({
        userId: m.userId,
        conversationKind: conversation.kind,
        conversationId: conversation.id,
        messageId: message.id,
        authorId: message.authorId,
        via: m.via,
      })),
    )
    .onConflictDoNothing();
}

export interface MentionEntry {
  id: number;
  conversationKind: "channel" | "dm";
  /** The channel's or the thread's id. */
  conversationId: number;
  /** The channel's workspace (null for a thread). */
  workspaceId: number | null;
  via: MentionVia;
  createdAt: Date;
  /** The message, with its reactions as the user sees them. */
  message: StoredMessage;
}

/**
 * A page of the user's mentions, newest first, keyset by id (`beforeId`), of messages that are not
 * deleted and that the user can still read now (services/access.ts: a channel they can see, a
 * thread they take part in), each with its message.
 */
export async function listMentions(
  db: Queryable,
  userId: number,
  page: { beforeId?: number; limit: number },
): Promise<MentionEntry[]> {
  const rows = await db.execute<{
    id: number;
    conversation_kind: "channel" | "dm";
    conversation_id: number;
    workspace_id: number | null;
    message_id: number;
    via: MentionVia;
    created_at: string | Date;
  }>(sql`
    select mm.id, mm.conversation_kind, mm.conversation_id, mm.message_id, mm.via, mm.created_at,
      (select c.workspace_id from channels c
       where mm.conversation_kind = 'channel' and c.id = mm.conversation_id) as workspace_id
    from message_mentions mm
    where mm.user_id = ${userId}
      ${page.beforeId === undefined ? sql`` : sql`and mm.id < ${page.beforeId}`}
      and case mm.conversation_kind
        when 'channel' then
          exists (select 1 from messages m where m.id = mm.message_id and not m.is_deleted)
          and ${channelReadableBy(sql`mm.conversation_id`, sql`${userId}`)}
        else
          exists (select 1 from direct_messages d where d.id = mm.message_id and not d.is_deleted)
          and ${threadParticipant(sql`mm.conversation_id`, sql`${userId}`)}
      end
    order by mm.id desc
    limit ${page.limit}`);
  const idsOf = (kind: "channel" | "dm") =>
    rows.filter((row) => row.conversation_kind === kind).map((row) => Number(row.message_id));
  const [channelMessages, directMessages] = await Promise.all([
    messagesByIds(db, channelMessageTable, idsOf("channel")).then((list) =>
      withReactions(db, channelMessageTable, list, userId),
    ),
    messagesByIds(db, directMessageTable, idsOf("dm")).then((list) =>
      withReactions(db, directMessageTable, list, userId),
    ),
  ]);
  const byId = {
    channel: new Map(channelMessages.map((m) => [m.id, m])),
    dm: new Map(directMessages.map((m) => [m.id, m])),
  };
  const entries: MentionEntry[] = [];
  for (const row of rows) {
    const message = byId[row.conversation_kind].get(Number(row.message_id));
    if (!message) continue; // deleted between the two reads
    entries.push({
      id: Number(row.id),
      conversationKind: row.conversation_kind,
      conversationId: Number(row.conversation_id),
      workspaceId: row.workspace_id === null ? null : Number(row.workspace_id),
      via: row.via,
      createdAt: asDate(row.created_at),
      message,
    });
  }
  return entries;
}

/** Forgets the mentions of deleted channels (their messages go with them). */
export async function forgetChannelMentions(
  db: Queryable,
  channelIds: number[] | Extract<Parameters<typeof inArray>[1], SQLWrapper>,
): Promise<void> {
  if (Array.isArray(channelIds) && channelIds.length === 0) return;
  await db
    .delete(messageMentions)
    .where(
      and(
        eq(messageMentions.conversationKind, "channel"),
        inArray(messageMentions.conversationId, channelIds),
      ),
    );
}

/**
 * Unread mentions per channel for a user (channel listings): mentions of messages after the user's
 * read pointer that are not deleted. One query for the whole list.
 */
export async function unreadMentionCounts(
  db: Queryable,
  userId: number,
  channelIds: readonly number[],
): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  if (channelIds.length === 0) return counts;
  const rows = await db.execute<{ channel_id: number; mentions: number }>(sql`
    select mm.conversation_id as channel_id, count(*)::int as mentions
    from message_mentions mm
    join messages m on m.id = mm.message_id and not m.is_deleted
    left join channel_reads r on r.channel_id = mm.conversation_id and r.user_id = ${userId}
    where mm.user_id = ${userId} and mm.conversation_kind = 'channel'
      and mm.conversation_id = any(${idArray(channelIds)}::int[])
      and mm.message_id > coalesce(r.last_read_message_id, 0)
    group by mm.conversation_id`);
  for (const row of rows) counts.set(Number(row.channel_id), Number(row.mentions));
  return counts;
}

/**
 * Reactions on messages, for channels and threads alike: which emoji may be used, and the
 * statements that add, remove and count them. Writes are made by the conversation's object, in
 * its queue, so `reaction.added` / `reaction.removed` events come in order with its messages.
 *
 * An emoji is a single Unicode emoji (an RGI emoji sequence: a flag, a skin tone or a family is
 * one) or a `:short_name:` of the fixed set below, which clients without an emoji keyboard use.
 * A message carries at most MAX_DISTINCT_REACTIONS different emoji; any number of people may use
 * each. Adding a reaction one has already made, or removing one not made, changes nothing and
 * tells nobody (the routes are idempotent).
 */
import type { Queryable } from "./access";
import type { MessageTable, ReactionSummary, StoredMessage } from "./conversation-messages";
import { idArray, rowsOf } from "./message-statements";

export const MAX_DISTINCT_REACTIONS = 20;

/** The short names accepted, as Slack and GitHub spell them. */
export const SHORT_NAMES: ReadonlySet<string> = new Set(
  [
    "+1",
    "-1",
    "thumbsup",
    "thumbsdown",
    "heart",
    "smile",
    "laughing",
    "joy",
    "wink",
    "blush",
    "heart_eyes",
    "thinking",
    "neutral_face",
    "sweat_smile",
    "cry",
    "sob",
    "angry",
    "scream",
    "sunglasses",
    "tada",
    "rocket",
    "eyes",
    "fire",
    "100",
    "clap",
    "pray",
    "ok_hand",
    "wave",
    "raised_hands",
    "muscle",
    "white_check_mark",
    "heavy_check_mark",
    "x",
    "warning",
    "question",
    "exclamation",
    "star",
    "sparkles",
    "bulb",
    "coffee",
    "beer",
    "pizza",
    "bug",
    "ship",
    "memo",
  ].map((name) => `:${name}:`),
);

/** One RGI emoji: a property of strings, which needs the `v` flag. */
const RGI_EMOJI = /^\p{RGI_Emoji}$/v;

/** Why a reaction is refused, or null when it is an emoji this server accepts. */
export function emojiProblem(raw: string): string | null {
  if (SHORT_NAMES.has(raw)) return null;
  if (raw.length <= 64 && RGI_EMOJI.test(raw)) return null;
  return "emoji must be one Unicode emoji, or a :short_name: of the supported set";
}

/** The messages with their reactions as `viewerId` sees them (one query, only if some have any). */
export async function withReactions(
  db: Queryable,
  t: MessageTable,
  messages: StoredMessage[],
  viewerId: number,
): Promise<StoredMessage[]> {
  const reacted = messages.filter((m) => m.reactionCount > 0).map((m) => m.id);
  if (reacted.length === 0) return messages;
  const summaries = await reactionSummaries(db, t, reacted, viewerId);
  return messages.map((m) => (summaries.has(m.id) ? { ...m, reactions: summaries.get(m.id) ?? [] } : m));
}

/** Each message's reactions as `viewerId` sees them: emoji in the order they were first used. */
export async function reactionSummaries(
  db: Queryable,
  t: MessageTable,
  messageIds: readonly number[],
  viewerId: number,
): Promise<Map<number, ReactionSummary[]>> {
  const byMessage = new Map<number, ReactionSummary[]>();
  if (messageIds.length === 0) return byMessage;
  const rows = await rowsOf<{ message_id: number; emoji: string; count: number; me: boolean }>(
    db,
    `select message_id, emoji, count(*)::int as count, bool_or(user_id = $2) as me from ${t.names.reactions} ` +
      "where message_id = any($1::int[]) group by message_id, emoji order by message_id, min(created_at), emoji",
    [idArray(messageIds), viewerId],
  );
  for (const row of rows) {
    const list = byMessage.get(row.message_id) ?? [];
    list.push({ emoji: row.emoji, count: row.count, me: row.me });
    byMessage.set(row.message_id, list);
  }
  return byMessage;
}

export type ReactionChange =
  | { kind: "changed" | "unchanged"; count: number }
  /** Adding a new emoji to a message that has MAX_DISTINCT_REACTIONS already. */
  | { kind: "too_many" };

/** Adds the user's reaction (and the message's count), unless it is there already. */
export async function addReaction(
  db: Queryable,
  t: MessageTable,
  messageId: number,
  userId: number,
  emoji: string,
): Promise<ReactionChange> {
  const [usage] = await rowsOf<{ distinct_count: number; present: boolean | null }>(
    db,
    `select count(distinct emoji)::int as distinct_count, bool_or(emoji = $2) as present from ${t.names.reactions} where message_id = $1`,
    [messageId, emoji],
  );
  if (!usage?.present && (usage?.distinct_count ?? 0) >= MAX_DISTINCT_REACTIONS) return { kind: "too_many" };
  const [row] = await rowsOf<{ added: number; count: number }>(
    db,
    `with ins as (insert into ${t.names.reactions} (message_id, user_id, emoji) values ($1, $2, $3) on conflict do nothing returning 1), ` +
      `upd as (update ${t.names.table} set reaction_count = reaction_count + 1 where id = $1 and exists (select 1 from ins) returning 1) ` +
      "select (select count(*) from ins)::int as added, " +
      `((select count(*) from ${t.names.reactions} where message_id = $1 and emoji = $3) + (select count(*) from ins))::int as count`,
    [messageId, userId, emoji],
  );
  return { kind: row?.added ? "changed" : "unchanged", count: row?.count ?? 0 };
}

/** Removes the user's reaction (and lowers the message's count), if it is there. */
export async function removeReaction(
  db: Queryable,
  t: MessageTable,
  messageId: number,
  userId: number,
  emoji: string,
): Promise<ReactionChange> {
  const [row] = await rowsOf<{ removed: number; count: number }>(
    db,
    `with del as (delete from ${t.names.reactions} where message_id = $1 and user_id = $2 and emoji = $3 returning 1), ` +
      `upd as (update ${t.names.table} set reaction_count = reaction_count - 1 where id = $1 and exists (select 1 from del) returning 1) ` +
      "select (select count(*) from del)::int as removed, " +
      `((select count(*) from ${t.names.reactions} where message_id = $1 and emoji = $3) - (select count(*) from del))::int as count`,
    [messageId, userId, emoji],
  );
  return { kind: row?.removed ? "changed" : "unchanged", count: row?.count ?? 0 };
}

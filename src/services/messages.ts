/**
 * Unread counts of channels, for channel listings. Everything else about channel messages is
 * written once for channels and threads: services/conversation-messages.ts (the statements) and
 * realtime/conversation-room.ts (the single gate through which they run).
 */
import { sql } from "drizzle-orm";
import { channelReads, messages } from "../db/schema";
import type { Queryable } from "./access";
import { UNREAD_COUNT_CAP } from "./message-rules";

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

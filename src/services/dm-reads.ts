/**
 * Read state of direct-message threads (contract 2.9; D15): how far each participant has read.
 *
 * It lives in PostgreSQL (direct_message_reads), not in the store as in the original: one pointer
 * per participant and thread that only moves forward. Unread counts are not a counter kept in
 * step with sends but computed from the pointer (the other participant's messages after it), so
 * every device of a user sees the same count, and a restart loses nothing. Like every write of a
 * thread, moving a pointer is done by the thread's DmThread object (src/realtime/dm-thread.ts),
 * which then broadcasts the receipt.
 */
import { sql } from "drizzle-orm";
import { type DirectMessageThread, directMessageReads, directMessages } from "../db/schema";
import type { Queryable } from "./access";
import { UNREAD_COUNT_CAP } from "./messages";

export interface ReadStatus {
  threadId: number;
  selfLastReadMessageId: number;
  otherLastReadMessageId: number;
  /** The caller's unread messages after their pointer. */
  unreadCount: number;
}

/** Both participants' pointers (0 when nothing was read) and the user's unread count. */
export async function getReadStatus(
  db: Queryable,
  thread: Pick<DirectMessageThread, "id" | "user1Id" | "user2Id">,
  userId: number,
): Promise<ReadStatus> {
  const rows = await db.execute<{ self: number; other: number; unread: number }>(sql`
    select
      coalesce((select last_read_message_id from ${directMessageReads}
                where thread_id = ${thread.id} and user_id = ${userId}), 0) as self,
      coalesce((select last_read_message_id from ${directMessageReads}
                where thread_id = ${thread.id} and user_id <> ${userId}
                  and user_id in (${thread.user1Id}, ${thread.user2Id})), 0) as other,
      (select count(*)::int from (
         select 1 from ${directMessages} m
         where m.thread_id = ${thread.id} and not m.is_deleted and m.sender_id <> ${userId}
           and m.id > coalesce((select last_read_message_id from ${directMessageReads}
                                where thread_id = ${thread.id} and user_id = ${userId}), 0)
         limit ${UNREAD_COUNT_CAP}
       ) as unread_rows) as unread`);
  const row = rows[0];
  return {
    threadId: thread.id,
    selfLastReadMessageId: Number(row?.self ?? 0),
    otherLastReadMessageId: Number(row?.other ?? 0),
    unreadCount: Number(row?.unread ?? 0),
  };
}

/**
 * Moves the user's read pointer forward, never back (a late request from another device cannot
 * un-read anything), and never past the thread's newest message (an id from elsewhere cannot mark
 * future messages read; the original stored any number). `messageId` null or 0 means "everything
 * so far": the original then reset the user's unread counter, which with counts computed from the
 * pointer is the same thing. Returns the fresh status.
 */
export async function markThreadRead(
  db: Queryable,
  thread: Pick<DirectMessageThread, "id" | "user1Id" | "user2Id">,
  userId: number,
  messageId: number | null,
): Promise<ReadStatus> {
  const newest = sql`coalesce((select max(${directMessages.id}) from ${directMessages} where ${directMessages.threadId} = ${thread.id}), 0)`;
  const wanted = messageId && messageId > 0 ? sql`least(${messageId}::int, ${newest})` : newest;
  await db.execute(sql`
    insert into ${directMessageReads} (user_id, thread_id, last_read_message_id, updated_at)
    values (${userId}, ${thread.id}, ${wanted}, now())
    on conflict (user_id, thread_id) do update
      set last_read_message_id = greatest(${directMessageReads.lastReadMessageId}, excluded.last_read_message_id),
          updated_at = now()`);
  return getReadStatus(db, thread, userId);
}

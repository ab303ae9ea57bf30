/**
 * Message search: PostgreSQL full-text search over the channel and direct messages a user can read
 * now, with nothing running beside the database. Each message table holds its words as a stored,
 * generated tsvector with a GIN index (migration 0007); a query is read by websearch_to_tsquery
 * (words, "a phrase", -excluded, or) in SEARCH_LANGUAGE's configuration, which must be the one the
 * vectors were built with.
 *
 * Who reads what is services/access.ts's, in its SQL form: channels as channelReadableBy decides
 * (a member of the workspace or its owner; for a private channel, a member of the channel: leaving
 * or being removed ends it), threads as threadParticipant. The readable conversations are found
 * first (few), then their matching messages through the GIN index, never a deleted one.
 *
 * Bounded work: a page holds at most SEARCH_PAGE_MAX hits, found by keyset (search-cursor.ts) so a
 * page never re-reads earlier ones; each branch (channels, threads) stops at the page's size, and
 * snippets (ts_headline, the costly part) are made for the page's rows only, at most two fragments
 * each.
 */
import { type SQL, sql } from "drizzle-orm";
import type { SearchLanguage } from "../config";
import { notFound } from "../errors";
import {
  channelReadableBy,
  type Queryable,
  requireChannelAccess,
  requireThreadParticipant,
  requireWorkspaceMember,
  threadParticipant,
} from "./access";
import { asDate } from "./message-statements";
import { encodeCursor, type KindOrder, type SearchCursor, type SearchSort } from "./search-cursor";

/** Hits per page: the default, and the bound `limit` is clamped to. */
export const SEARCH_PAGE_DEFAULT = 20;
export const SEARCH_PAGE_MAX = 50;
/** Longest query, in characters: a search box's worth. */
export const SEARCH_QUERY_MAX_CHARS = 256;

/** Marks around the matched words in a snippet, before it is escaped (presenters/search.ts). */
export const HIGHLIGHT_START = "\uE000";
export const HIGHLIGHT_STOP = "\uE001";

export interface SearchRequest {
  /** What the user typed (trimmed, 1..SEARCH_QUERY_MAX_CHARS characters). */
  q: string;
  workspaceId?: number;
  channelId?: number;
  threadId?: number;
  /** Only messages by this user. */
  fromUserId?: number;
  /** Only messages created before (after) this instant. */
  before?: Date;
  after?: Date;
  sort: SearchSort;
  limit: number;
  cursor?: SearchCursor;
}

export interface SearchHit {
  kind: "channel" | "dm";
  conversationId: number;
  /** The channel's workspace; null for a thread. */
  workspaceId: number | null;
  messageId: number;
  parentId: number | null;
  sender: { id: number; displayName: string | null; avatarUrl: string | null };
  createdAt: Date;
  /** The matched words between HIGHLIGHT_START and HIGHLIGHT_STOP. */
  snippet: string;
  rank: number;
}

export interface SearchPage {
  hits: SearchHit[];
  /** The cursor of the next page, or null when this one is the last. */
  nextCursor: string | null;
}

/**
 * The filters' own checks, with the messages routes' answers: a channel or thread that does not
 * exist is a 404, one the caller cannot read a 403 (requireChannelAccess, requireThreadParticipant),
 * and so for a workspace; an unknown author is a 404 "User not found".
 */
async function checkFilters(db: Queryable, userId: number, request: SearchRequest): Promise<void> {
  if (request.workspaceId !== undefined) await requireWorkspaceMember(db, request.workspaceId, userId);
  if (request.channelId !== undefined) await requireChannelAccess(db, request.channelId, userId);
  if (request.threadId !== undefined) await requireThreadParticipant(db, request.threadId, userId);
  if (request.fromUserId !== undefined) {
    const rows = await db.execute(sql`select 1 from users where id = ${request.fromUserId}`);
    if (rows.length === 0) throw notFound("User not found");
  }
}

/** The channels searched: readable now, narrowed by the filters (none when only a thread is asked). */
function channelScope(userId: number, request: SearchRequest): SQL | null {
  if (request.threadId !== undefined && request.channelId === undefined) return null;
  const me = sql`${userId}::int`;
  // Aliases differ from those inside channelReadableBy, which would otherwise capture them.
  return sql`select sc.id from channels sc
    where sc.workspace_id in (
        select wm.workspace_id from workspace_members wm where wm.user_id = ${me}
        union select w.id from workspaces w where w.owner_id = ${me})
      ${request.workspaceId === undefined ? sql`` : sql`and sc.workspace_id = ${request.workspaceId}`}
      ${request.channelId === undefined ? sql`` : sql`and sc.id = ${request.channelId}`}
      and ${channelReadableBy(sql`sc.id`, me)}`;
}

/** The threads searched: the user's, unless a channel or workspace narrows the search to channels. */
function threadScope(userId: number, request: SearchRequest): SQL | null {
  if (
    request.threadId === undefined &&
    (request.channelId !== undefined || request.workspaceId !== undefined)
  ) {
    return null;
  }
  const me = sql`${userId}::int`;
  return sql`select st.id from direct_message_threads st
    where (st.user1_id = ${me} or st.user2_id = ${me})
      ${request.threadId === undefined ? sql`` : sql`and st.id = ${request.threadId}`}
      and ${threadParticipant(sql`st.id`, me)}`;
}

interface Branch {
  kind: "channel" | "dm";
  order: KindOrder;
  table: SQL;
  conversation: SQL;
  author: SQL;
  scope: SQL;
}

/** The page's candidates of one message table, in the page's order, at most `take`. */
function branchQuery(branch: Branch, request: SearchRequest, query: SQL, take: number): SQL {
  const rank = sql`ts_rank(m.search_vector, ${query})`;
  const key = request.sort === "relevance" ? rank : sql`m.created_at`;
  const cursor = request.cursor;
  let after = sql``;
  if (cursor?.sort === "relevance") {
    after = sql`and (${rank}, ${branch.order}::int, m.id) < (${cursor.rank}::real, ${cursor.kind}::int, ${cursor.id}::int)`;
  } else if (cursor?.sort === "newest") {
    after = sql`and (m.created_at, ${branch.order}::int, m.id) < (${cursor.createdAt}::timestamptz, ${cursor.kind}::int, ${cursor.id}::int)`;
  }
  return sql`(select ${branch.kind}::text as kind, ${branch.order}::int as kind_order, m.id,
      m.${branch.conversation} as conversation_id, m.${branch.author} as author_id, m.parent_id,
      m.created_at, m.created_at::text as created_key, m.content, ${rank} as rank
    from ${branch.table} m
    where m.${branch.conversation} = any(array(${branch.scope}))
      and m.search_vector @@ ${query}
      and not m.is_deleted
      ${request.fromUserId === undefined ? sql`` : sql`and m.${branch.author} = ${request.fromUserId}`}
      ${request.before === undefined ? sql`` : sql`and m.created_at < ${request.before.toISOString()}::timestamptz`}
      ${request.after === undefined ? sql`` : sql`and m.created_at > ${request.after.toISOString()}::timestamptz`}
      ${after}
    order by ${key} desc, m.id desc
    limit ${take})`;
}

type HitRow = {
  kind: "channel" | "dm";
  kind_order: number;
  id: number;
  conversation_id: number;
  author_id: number;
  parent_id: number | null;
  created_at: string | Date;
  created_key: string;
  rank: number | string;
  workspace_id: number | null;
  display_name: string | null;
  avatar_url: string | null;
  snippet: string;
};

/** A page of the messages matching `request.q` that `userId` can read now (see the module comment). */
export async function searchMessages(
  db: Queryable,
  userId: number,
  language: SearchLanguage,
  request: SearchRequest,
): Promise<SearchPage> {
  await checkFilters(db, userId, request);
  // One row more than the page tells whether another page follows.
  const take = request.limit + 1;
  const query = sql`websearch_to_tsquery(${language}::regconfig, ${request.q})`;
  const branches: SQL[] = [];
  const channels = channelScope(userId, request);
  if (channels) {
    branches.push(
      branchQuery(
        {
          kind: "channel",
          order: 1,
          table: sql`messages`,
          conversation: sql`channel_id`,
          author: sql`user_id`,
          scope: channels,
        },
        request,
        query,
        take,
      ),
    );
  }
  const threads = threadScope(userId, request);
  if (threads) {
    branches.push(
      branchQuery(
        {
          kind: "dm",
          order: 0,
          table: sql`direct_messages`,
          conversation: sql`thread_id`,
          author: sql`sender_id`,
          scope: threads,
        },
        request,
        query,
        take,
      ),
    );
  }
  const key = request.sort === "relevance" ? sql.raw("rank") : sql.raw("created_at");
  const options = `StartSel=${HIGHLIGHT_START}, StopSel=${HIGHLIGHT_STOP}, MaxFragments=2, MaxWords=20, MinWords=6, ShortWord=2, FragmentDelimiter=" … "`;
  // The snippets are made in the outer query, so for the page's rows only.
  const rows = await db.execute<HitRow>(sql`
    select hit.kind, hit.kind_order, hit.id, hit.conversation_id, hit.author_id, hit.parent_id,
      hit.created_at, hit.created_key, hit.rank,
      (select c.workspace_id from channels c where hit.kind = 'channel' and c.id = hit.conversation_id) as workspace_id,
      u.display_name, u.avatar_url,
      ts_headline(${language}::regconfig, translate(hit.content, ${HIGHLIGHT_START + HIGHLIGHT_STOP}, ''),
        ${query}, ${options}) as snippet
    from (
      select * from (${sql.join(branches, sql` union all `)}) as candidates
      order by candidates.${key} desc, candidates.kind_order desc, candidates.id desc
      limit ${take}
    ) as hit
    join users u on u.id = hit.author_id
    order by hit.${key} desc, hit.kind_order desc, hit.id desc`);
  const hits = rows.slice(0, request.limit).map(toHit);
  const last = rows.length > request.limit ? rows[request.limit - 1] : undefined;
  return { hits, nextCursor: last ? encodeCursor(cursorAt(last, request.sort)) : null };
}

function cursorAt(row: HitRow, sort: SearchSort): SearchCursor {
  const kind = Number(row.kind_order) === 1 ? 1 : 0;
  return sort === "relevance"
    ? { sort, rank: Number(row.rank), kind, id: Number(row.id) }
    : { sort, createdAt: row.created_key, kind, id: Number(row.id) };
}

function toHit(row: HitRow): SearchHit {
  return {
    kind: row.kind,
    conversationId: Number(row.conversation_id),
    workspaceId: row.workspace_id === null ? null : Number(row.workspace_id),
    messageId: Number(row.id),
    parentId: row.parent_id === null ? null : Number(row.parent_id),
    sender: { id: Number(row.author_id), displayName: row.display_name, avatarUrl: row.avatar_url },
    createdAt: asDate(row.created_at),
    snippet: row.snippet,
    rank: Number(row.rank),
  };
}

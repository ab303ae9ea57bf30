/**
 * PostgreSQL schema of Braumchat, in drizzle pg-core.
 *
 * It reproduces the original service's schema (Alembic head c3d2e1f0a9b8, see
 * /work/shared/fixtures/original-schema.sql) column for column: same table and column names, column order,
 * types, nullability, DB defaults, and constraint/index names. That is what lets `scripts/lib/migrate.ts`
 * adopt a database created by the original without touching its DDL, and test/db/schema-parity.test.ts
 * holds it to that. Consequences worth knowing:
 *
 * - Column order matches the original (e.g. `users.username` comes last, `friends.created_at` second),
 *   because the original's data dumps and any positional INSERT depend on it.
 * - Columns the original filled in its application code have no DB default, as in the original. The app side
 *   gets them through `$defaultFn` so drizzle inserts fill them in.
 * - Redundant indexes of the original (`ix_<table>_id` next to the primary key) are kept: dropping them is a
 *   schema change, and would belong in a later migration, not in the baseline.
 * - Fixes of the original's schema (docs/original-defects.md#d22-schema-constraints: unique workspace
 *   membership, message index, partial unique pending invite) are not in the baseline: they come with
 *   migrations after it, so that adopted and fresh databases get them the same way, and are marked below with
 *   the migration that added them.
 */
import { sql } from "drizzle-orm";
import {
  type AnyPgColumn,
  boolean,
  check,
  customType,
  foreignKey,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  serial,
  text,
  timestamp,
  unique,
  uniqueIndex,
  varchar,
} from "drizzle-orm/pg-core";

/** timestamptz, read and written as JS Date. */
const tz = { withTimezone: true, mode: "date" } as const;

/** PostgreSQL's `tsvector`; only SQL reads it (services/search.ts), so it stays text on the JS side. */
const tsvector = customType<{ data: string }>({ dataType: () => "tsvector" });

/**
 * The text search configuration the stored vectors are built with (migration 0007). A generated
 * column's expression must be a constant, so this is fixed at migration time; SEARCH_LANGUAGE
 * (config.ts) must name the same one, and changing it means rebuilding the column (README,
 * "Search"). 'simple' lower-cases words without stemming or stop words: chat is multilingual and
 * full of names, code and abbreviations that a language's stemmer would mangle.
 */
export const SEARCH_VECTOR_CONFIG = "simple";

/** `search_vector tsvector GENERATED ALWAYS AS (to_tsvector('simple', content)) STORED`. */
const searchVector = () =>
  tsvector("search_vector").generatedAlwaysAs(
    sql.raw(`to_tsvector('${SEARCH_VECTOR_CONFIG}'::regconfig, content)`),
  );

/** `created_at timestamptz NOT NULL DEFAULT now()`, on every table. */
const createdAt = () => timestamp("created_at", tz).defaultNow().notNull();

/**
 * `updated_at timestamptz NULL`: NULL until the row is modified, then now() on every drizzle UPDATE
 * (the original did this in its ORM, SQLAlchemy `onupdate=func.now()`; there is no trigger, so raw SQL
 * updates do not bump it). The explicit NULL on insert is needed because drizzle would otherwise run the
 * `$onUpdate` function on insert too.
 */
const updatedAt = () =>
  timestamp("updated_at", tz)
    .$defaultFn(() => sql`null`)
    .$onUpdate(() => sql`now()`);

/** Named foreign key `fk_<table>_<column>_<reftable>`, as the original's naming convention made them. */
function fk(name: string, column: AnyPgColumn, target: AnyPgColumn) {
  return foreignKey({ name, columns: [column], foreignColumns: [target] });
}

// ---------------------------------------------------------------------------------------------------------
// users, user_sessions
// ---------------------------------------------------------------------------------------------------------

export const users = pgTable(
  "users",
  {
    id: serial("id").notNull(),
    email: varchar("email", { length: 255 }).notNull(),
    /** passlib bcrypt (`$2b$12$…`); NULL means the account cannot log in. */
    hashedPassword: varchar("hashed_password", { length: 255 }),
    /** The public handle `base#dddd`; unique case-insensitively (uq_users_display_name_lower). */
    displayName: varchar("display_name", { length: 255 }),
    avatarUrl: varchar("avatar_url", { length: 1024 }),
    // App defaults, no DB default (adoption parity with the original schema).
    isActive: boolean("is_active")
      .notNull()
      .$defaultFn(() => true),
    isSuperuser: boolean("is_superuser")
      .notNull()
      .$defaultFn(() => false),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    /** Legacy login name; never written by the current API (NULL for new users). */
    username: varchar("username", { length: 32 }),
  },
  (t) => [
    primaryKey({ name: "pk_users", columns: [t.id] }),
    index("ix_users_id").on(t.id),
    // Case-sensitive, as in the original.
    uniqueIndex("ix_users_email").on(t.email),
    uniqueIndex("ix_users_username").on(t.username),
    uniqueIndex("uq_users_display_name_lower").on(sql`lower(${t.displayName})`),
    // Added by this project (migration 0001): e-mails are matched case-insensitively
    // (docs/original-defects.md#d11-e-mail-case). Not unique, because an adopted database may hold case
    // variants as distinct accounts.
    index("ix_users_email_lower").on(sql`lower(${t.email})`),
    // Column names are written bare: a CHECK is stored as an expression on the table's own columns.
    check("ck_users_display_name_handle", sql`display_name IS NULL OR display_name ~ '^.{2,32}#\\d{4}$'`),
  ],
);

export const userSessions = pgTable(
  "user_sessions",
  {
    id: serial("id").notNull(),
    userId: integer("user_id").notNull(),
    /** UUID4 text; the `sid` of the tokens. */
    sessionId: varchar("session_id", { length: 64 }).notNull(),
    userAgent: varchar("user_agent", { length: 512 }),
    ipAddress: varchar("ip_address", { length: 128 }),
    revokedAt: timestamp("revoked_at", tz),
    // Nullable with a DB default, exactly as the original has it.
    lastSeenAt: timestamp("last_seen_at", tz).defaultNow(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    // Added by this project (migration 0001) for refresh rotation with reuse detection; NULL
    // in sessions the original created, whose first refresh is then accepted once.
    /** `jti` of the refresh token that may rotate next. */
    refreshTokenId: varchar("refresh_token_id", { length: 64 }),
    /** `jti` of the one before it, honoured within the grace window only. */
    previousRefreshTokenId: varchar("previous_refresh_token_id", { length: 64 }),
    /** When the current pair was issued (whole seconds: the pair's `iat`). */
    refreshedAt: timestamp("refreshed_at", tz),
  },
  (t) => [
    primaryKey({ name: "pk_user_sessions", columns: [t.id] }),
    index("ix_user_sessions_id").on(t.id),
    index("ix_user_sessions_user_id").on(t.userId),
    unique("uq_user_sessions_session_id").on(t.sessionId),
    fk("fk_user_sessions_user_id_users", t.userId, users.id),
  ],
);

// ---------------------------------------------------------------------------------------------------------
// workspaces, workspace_members, workspace_invites
// ---------------------------------------------------------------------------------------------------------

export const workspaces = pgTable(
  "workspaces",
  {
    id: serial("id").notNull(),
    name: varchar("name", { length: 255 }).notNull(),
    slug: varchar("slug", { length: 255 }).notNull(),
    ownerId: integer("owner_id").notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    primaryKey({ name: "pk_workspaces", columns: [t.id] }),
    index("ix_workspaces_id").on(t.id),
    unique("uq_workspaces_slug").on(t.slug),
    // Added by this project (migration 0005): who can reach whom counts an owner by owner_id
    // (services/access.ts reachable), asked per user.
    index("ix_workspaces_owner_id").on(t.ownerId),
    fk("fk_workspaces_owner_id_users", t.ownerId, users.id),
  ],
);

export const workspaceMembers = pgTable(
  "workspace_members",
  {
    id: serial("id").notNull(),
    workspaceId: integer("workspace_id").notNull(),
    userId: integer("user_id").notNull(),
    /** `owner` | `admin` | `member`. App default, no DB default (adoption parity). */
    role: varchar("role", { length: 50 })
      .notNull()
      .$defaultFn(() => "member"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    primaryKey({ name: "pk_workspace_members", columns: [t.id] }),
    index("ix_workspace_members_id").on(t.id),
    // Added by this project (migration 0002, docs/original-defects.md#d22-schema-constraints): one membership
    // per user and workspace.
    unique("uq_workspace_members_workspace_user").on(t.workspaceId, t.userId),
    index("ix_workspace_members_user_id").on(t.userId),
    fk("fk_workspace_members_user_id_users", t.userId, users.id),
    fk("fk_workspace_members_workspace_id_workspaces", t.workspaceId, workspaces.id),
  ],
);

export const workspaceInvites = pgTable(
  "workspace_invites",
  {
    id: serial("id").notNull(),
    workspaceId: integer("workspace_id").notNull(),
    inviterUserId: integer("inviter_user_id").notNull(),
    inviteeUserId: integer("invitee_user_id").notNull(),
    /** `pending` | `accepted` | `declined`; this one has a DB default in the original. */
    status: varchar("status", { length: 20 }).default("pending").notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    primaryKey({ name: "pk_workspace_invites", columns: [t.id] }),
    index("ix_workspace_invites_id").on(t.id),
    // Migration 0002 (docs/original-defects.md#d22-schema-constraints) replaced the original's unique
    // (workspace_id, invitee_user_id, status), which
    // made a second accepted or declined invite for the same person fail: only one *pending* invite.
    uniqueIndex("uq_workspace_invites_pending_invitee")
      .on(t.workspaceId, t.inviteeUserId)
      .where(sql`status = 'pending'`),
    fk("fk_workspace_invites_invitee_user_id_users", t.inviteeUserId, users.id),
    fk("fk_workspace_invites_inviter_user_id_users", t.inviterUserId, users.id),
    fk("fk_workspace_invites_workspace_id_workspaces", t.workspaceId, workspaces.id),
  ],
);

// ---------------------------------------------------------------------------------------------------------
// channels, channel_members, messages
// ---------------------------------------------------------------------------------------------------------

export const channels = pgTable(
  "channels",
  {
    id: serial("id").notNull(),
    workspaceId: integer("workspace_id").notNull(),
    name: varchar("name", { length: 255 }).notNull(),
    // App default, no DB default (adoption parity).
    isPrivate: boolean("is_private")
      .notNull()
      .$defaultFn(() => false),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    // Added by this project (migration 0002).
    topic: varchar("topic", { length: 250 }),
    isArchived: boolean("is_archived").default(false).notNull(),
  },
  (t) => [
    primaryKey({ name: "pk_channels", columns: [t.id] }),
    index("ix_channels_id").on(t.id),
    index("ix_channels_workspace_id").on(t.workspaceId),
    fk("fk_channels_workspace_id_workspaces", t.workspaceId, workspaces.id),
  ],
);

/**
 * Unused by the original; here it decides who sees a private channel
 * (docs/original-defects.md#d3-private-channels).
 */
export const channelMembers = pgTable(
  "channel_members",
  {
    id: serial("id").notNull(),
    channelId: integer("channel_id").notNull(),
    userId: integer("user_id").notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    primaryKey({ name: "pk_channel_members", columns: [t.id] }),
    index("ix_channel_members_id").on(t.id),
    // Added by this project (migration 0002, docs/original-defects.md#d22-schema-constraints).
    unique("uq_channel_members_channel_user").on(t.channelId, t.userId),
    fk("fk_channel_members_channel_id_channels", t.channelId, channels.id),
    fk("fk_channel_members_user_id_users", t.userId, users.id),
  ],
);

/** Channel messages. */
export const messages = pgTable(
  "messages",
  {
    id: serial("id").notNull(),
    channelId: integer("channel_id").notNull(),
    userId: integer("user_id").notNull(),
    content: text("content").notNull(),
    // App defaults, no DB default (adoption parity; direct_messages, below, does have DB defaults).
    isEdited: boolean("is_edited")
      .notNull()
      .$defaultFn(() => false),
    isDeleted: boolean("is_deleted")
      .notNull()
      .$defaultFn(() => false),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    // This project's own (migration 0007): threads, reactions.
    /** The root this message replies to (one level: a root has none). */
    parentId: integer("parent_id"),
    /** On a root: its replies, the last one's time, and the latest repliers (at most 5). */
    replyCount: integer("reply_count").default(0).notNull(),
    lastReplyAt: timestamp("last_reply_at", tz),
    replyUserIds: integer("reply_user_ids").array().default(sql`'{}'::integer[]`).notNull(),
    /** How many reactions the message has: a page asks for reactions only when some have any. */
    reactionCount: integer("reaction_count").default(0).notNull(),
    // Migration 0007: full-text search (services/search.ts).
    searchVector: searchVector(),
  },
  (t) => [
    primaryKey({ name: "pk_messages", columns: [t.id] }),
    index("ix_messages_id").on(t.id),
    // Added by this project (migration 0002, docs/original-defects.md#d22-schema-constraints): a channel's
    // history, newest first, by id cursor.
    index("ix_messages_channel_id_id").on(t.channelId, t.id),
    fk("fk_messages_channel_id_channels", t.channelId, channels.id),
    fk("fk_messages_user_id_users", t.userId, users.id),
    // Migration 0007: a thread's replies, in order.
    index("ix_messages_parent_id_id").on(t.parentId, t.id),
    foreignKey({ name: "fk_messages_parent_id_messages", columns: [t.parentId], foreignColumns: [t.id] }),
    // Migration 0007: the words of every message (GIN: one posting list per word).
    index("ix_messages_search_vector").using("gin", t.searchVector),
  ],
);

/**
 * This project's own (migration 0003): how far each user has read each channel, for unread counts. One row
 * per user and channel, created on the first read; the pointer only moves forward. Rows go with their channel
 * or user (ON DELETE CASCADE), so deleting either needs no extra step.
 */
export const channelReads = pgTable(
  "channel_reads",
  {
    userId: integer("user_id").notNull(),
    channelId: integer("channel_id").notNull(),
    /** The highest message id the user has read in the channel; 0 = nothing read. */
    lastReadMessageId: integer("last_read_message_id").default(0).notNull(),
    updatedAt: timestamp("updated_at", tz).defaultNow().notNull(),
  },
  (t) => [
    primaryKey({ name: "pk_channel_reads", columns: [t.userId, t.channelId] }),
    index("ix_channel_reads_channel_id").on(t.channelId),
    fk("fk_channel_reads_user_id_users", t.userId, users.id).onDelete("cascade"),
    fk("fk_channel_reads_channel_id_channels", t.channelId, channels.id).onDelete("cascade"),
  ],
);

// ---------------------------------------------------------------------------------------------------------
// direct_message_threads, direct_messages
// ---------------------------------------------------------------------------------------------------------

export const directMessageThreads = pgTable(
  "direct_message_threads",
  {
    id: serial("id").notNull(),
    /**
     * Where the conversation was started (the opener's workspace); no access rule reads it. NOT NULL in the
     * original; nullable since migration 0005, which also made its foreign key ON DELETE SET NULL: a thread
     * belongs to its two people and outlives the workspace (services/access.ts, services/dm.ts).
     */
    workspaceId: integer("workspace_id"),
    /** The pair with user1_id < user2_id (ck_direct_message_threads_user_order since migration 0004). */
    user1Id: integer("user1_id").notNull(),
    user2Id: integer("user2_id").notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    primaryKey({ name: "pk_direct_message_threads", columns: [t.id] }),
    index("ix_direct_message_threads_id").on(t.id),
    // Migration 0004 (docs/original-defects.md#d22-schema-constraints) replaced the original's unique
    // (workspace_id, user1_id, user2_id): a thread
    // belongs to a pair of users whatever workspace it was opened from, so concurrent opens of the same
    // pair (from one workspace or two) now collide here instead of creating two threads. The migration
    // folded the duplicates an adopted database may hold and stored every pair in order first.
    unique("uq_direct_message_threads_users").on(t.user1Id, t.user2Id),
    check("ck_direct_message_threads_user_order", sql`user1_id < user2_id`),
    // Added by this project (migration 0004): the threads of a user are found by either column.
    index("ix_direct_message_threads_user2_id").on(t.user2Id),
    fk("fk_direct_message_threads_user1_id_users", t.user1Id, users.id),
    fk("fk_direct_message_threads_user2_id_users", t.user2Id, users.id),
    fk("fk_direct_message_threads_workspace_id_workspaces", t.workspaceId, workspaces.id).onDelete(
      "set null",
    ),
  ],
);

export const directMessages = pgTable(
  "direct_messages",
  {
    id: serial("id").notNull(),
    threadId: integer("thread_id").notNull(),
    senderId: integer("sender_id").notNull(),
    content: text("content").notNull(),
    // Unlike messages.is_deleted/is_edited, these two have DB defaults in the original.
    isDeleted: boolean("is_deleted").default(false).notNull(),
    isEdited: boolean("is_edited").default(false).notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    // This project's own (migration 0007): threads, reactions.
    /** The root this message replies to (one level: a root has none). */
    parentId: integer("parent_id"),
    /** On a root: its replies, the last one's time, and the latest repliers (at most 5). */
    replyCount: integer("reply_count").default(0).notNull(),
    lastReplyAt: timestamp("last_reply_at", tz),
    replyUserIds: integer("reply_user_ids").array().default(sql`'{}'::integer[]`).notNull(),
    /** How many reactions the message has: a page asks for reactions only when some have any. */
    reactionCount: integer("reaction_count").default(0).notNull(),
    // Migration 0007: full-text search (services/search.ts).
    searchVector: searchVector(),
  },
  (t) => [
    primaryKey({ name: "pk_direct_messages", columns: [t.id] }),
    index("ix_direct_messages_id").on(t.id),
    // Added by this project (migration 0002, docs/original-defects.md#d22-schema-constraints).
    index("ix_direct_messages_thread_id_id").on(t.threadId, t.id),
    fk("fk_direct_messages_sender_id_users", t.senderId, users.id),
    fk("fk_direct_messages_thread_id_direct_message_threads", t.threadId, directMessageThreads.id),
    // Migration 0007: a thread's replies, in order.
    index("ix_direct_messages_parent_id_id").on(t.parentId, t.id),
    foreignKey({
      name: "fk_direct_messages_parent_id_direct_messages",
      columns: [t.parentId],
      foreignColumns: [t.id],
    }),
    index("ix_direct_messages_search_vector").using("gin", t.searchVector),
  ],
);

/**
 * This project's own (migration 0004; docs/original-defects.md#d15-store-expiry-and-outages): how far each
 * participant has read each thread, which the original kept in Redis only. Unread counts are computed from it
 * (the other participant's messages after the pointer), so they hold across devices and restarts and need no
 * counter to keep in step. The pointer only moves forward.
 */
export const directMessageReads = pgTable(
  "direct_message_reads",
  {
    userId: integer("user_id").notNull(),
    threadId: integer("thread_id").notNull(),
    /** The highest message id the user has read in the thread; 0 = nothing read. */
    lastReadMessageId: integer("last_read_message_id").default(0).notNull(),
    updatedAt: timestamp("updated_at", tz).defaultNow().notNull(),
  },
  (t) => [
    primaryKey({ name: "pk_direct_message_reads", columns: [t.userId, t.threadId] }),
    index("ix_direct_message_reads_thread_id").on(t.threadId),
    fk("fk_direct_message_reads_user_id_users", t.userId, users.id).onDelete("cascade"),
    fk(
      "fk_direct_message_reads_thread_id_direct_message_threads",
      t.threadId,
      directMessageThreads.id,
    ).onDelete("cascade"),
  ],
);

// ---------------------------------------------------------------------------------------------------------
// This project's own (migration 0007): reactions and mentions
// ---------------------------------------------------------------------------------------------------------

/** One row per message, user and emoji; rows go with their message or user. */
export const messageReactions = pgTable(
  "message_reactions",
  {
    messageId: integer("message_id").notNull(),
    userId: integer("user_id").notNull(),
    /** A Unicode emoji sequence or a `:short_name:` of the fixed set (services/reactions.ts). */
    emoji: text("emoji").notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ name: "pk_message_reactions", columns: [t.messageId, t.userId, t.emoji] }),
    fk("fk_message_reactions_message_id_messages", t.messageId, messages.id).onDelete("cascade"),
    fk("fk_message_reactions_user_id_users", t.userId, users.id).onDelete("cascade"),
  ],
);

export const directMessageReactions = pgTable(
  "direct_message_reactions",
  {
    messageId: integer("message_id").notNull(),
    userId: integer("user_id").notNull(),
    emoji: text("emoji").notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ name: "pk_direct_message_reactions", columns: [t.messageId, t.userId, t.emoji] }),
    fk("fk_direct_message_reactions_message_id_direct_messages", t.messageId, directMessages.id).onDelete(
      "cascade",
    ),
    fk("fk_direct_message_reactions_user_id_users", t.userId, users.id).onDelete("cascade"),
  ],
);

/**
 * Who a message mentions, resolved when it was stored (services/mentions.ts): one row per message
 * and mentioned user, for channels and threads alike (`conversation_kind`), so a user's mentions
 * are one listing. No foreign key to the message (it is in one of two tables): reads join the
 * message and the reader's access, and deleting a channel deletes its rows.
 */
export const messageMentions = pgTable(
  "message_mentions",
  {
    id: serial("id").notNull(),
    userId: integer("user_id").notNull(),
    conversationKind: text("conversation_kind").notNull(),
    conversationId: integer("conversation_id").notNull(),
    messageId: integer("message_id").notNull(),
    authorId: integer("author_id").notNull(),
    /** How the user was named: `user` (their handle), `channel` (@channel) or `here` (@here). */
    via: text("via").notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ name: "pk_message_mentions", columns: [t.id] }),
    unique("uq_message_mentions_message_user").on(t.conversationKind, t.messageId, t.userId),
    index("ix_message_mentions_user_id_id").on(t.userId, t.id),
    index("ix_message_mentions_conversation").on(t.conversationKind, t.conversationId, t.userId, t.messageId),
    check("ck_message_mentions_kind", sql`conversation_kind in ('channel', 'dm')`),
    check("ck_message_mentions_via", sql`via in ('user', 'channel', 'here')`),
    fk("fk_message_mentions_user_id_users", t.userId, users.id).onDelete("cascade"),
  ],
);

// ---------------------------------------------------------------------------------------------------------
// friends, friend_requests (column order differs from the other tables: created_at/updated_at come first)
// ---------------------------------------------------------------------------------------------------------

export const friends = pgTable(
  "friends",
  {
    id: serial("id").notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    /** One row per pair, stored with user1_id < user2_id (enforced by ck_friends_ck_friends_order). */
    user1Id: integer("user1_id").notNull(),
    user2Id: integer("user2_id").notNull(),
  },
  (t) => [
    primaryKey({ name: "pk_friends", columns: [t.id] }),
    index("ix_friends_id").on(t.id),
    unique("uq_friends_users").on(t.user1Id, t.user2Id),
    // The doubled prefix is the original's (its naming convention prefixed an already prefixed name).
    check("ck_friends_ck_friends_order", sql`user1_id < user2_id`),
    fk("fk_friends_user1_id_users", t.user1Id, users.id).onDelete("cascade"),
    fk("fk_friends_user2_id_users", t.user2Id, users.id).onDelete("cascade"),
  ],
);

export const friendRequests = pgTable(
  "friend_requests",
  {
    id: serial("id").notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    requesterId: integer("requester_id").notNull(),
    addresseeId: integer("addressee_id").notNull(),
    /**
     * `pending` | `accepted` | `declined`. The DB default came with migration 0002
     * (docs/original-defects.md#d22-schema-constraints: the original had none, unlike
     * workspace_invites.status); writes still state the status they mean, since one row per direction is
     * reused.
     */
    status: varchar("status").default("pending").notNull(),
  },
  (t) => [
    primaryKey({ name: "pk_friend_requests", columns: [t.id] }),
    index("ix_friend_requests_id").on(t.id),
    unique("uq_friend_requests_users").on(t.requesterId, t.addresseeId),
    fk("fk_friend_requests_addressee_id_users", t.addresseeId, users.id).onDelete("cascade"),
    fk("fk_friend_requests_requester_id_users", t.requesterId, users.id).onDelete("cascade"),
  ],
);

// ---------------------------------------------------------------------------------------------------------
// audit_logs (this project's own)
// ---------------------------------------------------------------------------------------------------------

/**
 * Who changed what in a workspace: membership, roles, channels, invites, settings. Rows are never updated.
 * `workspace_id` has no foreign key on purpose: the trail of a deleted workspace, its deletion included,
 * stays for operators to read.
 */
export const auditLogs = pgTable(
  "audit_logs",
  {
    id: serial("id").notNull(),
    workspaceId: integer("workspace_id").notNull(),
    actorUserId: integer("actor_user_id"),
    action: varchar("action", { length: 64 }).notNull(),
    targetType: varchar("target_type", { length: 32 }).notNull(),
    targetId: integer("target_id"),
    details: jsonb("details").$type<Record<string, unknown>>().default({}).notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ name: "pk_audit_logs", columns: [t.id] }),
    index("ix_audit_logs_workspace_id_id").on(t.workspaceId, t.id),
    fk("fk_audit_logs_actor_user_id_users", t.actorUserId, users.id).onDelete("set null"),
  ],
);

// ---------------------------------------------------------------------------------------------------------
// Row types
// ---------------------------------------------------------------------------------------------------------

export type User = typeof users.$inferSelect;
export type NewUser = typeof users.$inferInsert;
export type UserSession = typeof userSessions.$inferSelect;
export type NewUserSession = typeof userSessions.$inferInsert;
export type Workspace = typeof workspaces.$inferSelect;
export type NewWorkspace = typeof workspaces.$inferInsert;
export type WorkspaceMember = typeof workspaceMembers.$inferSelect;
export type NewWorkspaceMember = typeof workspaceMembers.$inferInsert;
export type WorkspaceInvite = typeof workspaceInvites.$inferSelect;
export type NewWorkspaceInvite = typeof workspaceInvites.$inferInsert;
export type Channel = typeof channels.$inferSelect;
export type NewChannel = typeof channels.$inferInsert;
export type ChannelMember = typeof channelMembers.$inferSelect;
export type NewChannelMember = typeof channelMembers.$inferInsert;
export type Message = typeof messages.$inferSelect;
export type NewMessage = typeof messages.$inferInsert;
export type ChannelReadState = typeof channelReads.$inferSelect;
export type NewChannelReadState = typeof channelReads.$inferInsert;
export type DirectMessageThread = typeof directMessageThreads.$inferSelect;
export type NewDirectMessageThread = typeof directMessageThreads.$inferInsert;
export type DirectMessage = typeof directMessages.$inferSelect;
export type NewDirectMessage = typeof directMessages.$inferInsert;
export type DirectMessageReadState = typeof directMessageReads.$inferSelect;
export type NewDirectMessageReadState = typeof directMessageReads.$inferInsert;
export type Friend = typeof friends.$inferSelect;
export type NewFriend = typeof friends.$inferInsert;
export type FriendRequest = typeof friendRequests.$inferSelect;
export type NewFriendRequest = typeof friendRequests.$inferInsert;
export type AuditLog = typeof auditLogs.$inferSelect;
export type NewAuditLog = typeof auditLogs.$inferInsert;

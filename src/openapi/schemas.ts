/**
 * Response schemas for the OpenAPI document: one zod schema per presenter (src/presenters/*),
 * named as docs/http-api.md names the shapes, plus the error bodies of docs/http-api.md#errors.
 *
 * These describe what the presenters produce; they validate nothing at run time in the Worker.
 * Two checks keep them honest: presenters.check.ts fails `npm run typecheck` when a presenter's
 * fields and its schema's differ, and test/openapi/responses.test.ts validates real responses
 * against the served document. Objects are strict (`additionalProperties: false`), so a field a
 * presenter adds without documenting it fails that test.
 *
 * `.meta({ id })` makes each a named component (`#/components/schemas/<id>`).
 */
import { z } from "zod";
import { WORKSPACE_ROLES } from "../services/access";

/** ISO 8601 with an offset (`...Z` here, docs/http-api.md#shapes); null only where the column allows it. */
const timestamp = () => z.iso.datetime({ offset: true });
const id = () => z.number().int().positive().describe("Positive integer id");

const REQUEST_STATUSES = ["pending", "accepted", "declined"] as const;

// ---------------------------------------------------------------------------------------------------------
// Errors (docs/http-api.md#errors)
// ---------------------------------------------------------------------------------------------------------

export const ErrorDetail = z
  .strictObject({ detail: z.string().describe("Human-readable reason, e.g. `Not Found`, `Forbidden`") })
  .meta({ id: "ErrorDetail", description: "A handled error (any status but 422)." });

export const ValidationIssue = z
  .strictObject({
    loc: z
      .array(z.union([z.string(), z.number().int()]))
      .describe(
        'Where: "body", "query", "path" or "header", then the field (or "__root__", or a JSON offset)',
      ),
    msg: z.string(),
    type: z.string().describe("Pydantic v1 error type, e.g. `value_error.missing`"),
    ctx: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ id: "ValidationIssue", description: "One item of a 422 body, in Pydantic v1 style." });

export const ValidationError = z
  .strictObject({ detail: z.array(ValidationIssue) })
  .meta({ id: "ValidationError", description: "Request validation failed (422)." });

// ---------------------------------------------------------------------------------------------------------
// Users and auth (docs/http-api.md#accounts-and-sessions, docs/http-api.md#users)
// ---------------------------------------------------------------------------------------------------------

export const UserPublic = z
  .strictObject({
    id: id(),
    display_name: z.string().nullable().describe("The full handle, `name#1234`"),
    avatar_url: z.string().nullable(),
  })
  .meta({ id: "UserPublic", description: "Another user, as anyone may see them." });

export const UserRead = z
  .strictObject({
    id: id(),
    email: z.string(),
    display_name: z.string().nullable(),
    avatar_url: z.string().nullable(),
    is_active: z.boolean(),
    is_superuser: z.boolean(),
    created_at: timestamp().nullable(),
  })
  .meta({ id: "UserRead", description: "The caller's own account." });

export const Token = z
  .strictObject({
    access_token: z.string(),
    token_type: z.literal("bearer"),
    refresh_token: z.string(),
  })
  .meta({ id: "Token", description: "A token pair; both tokens carry the session id (`sid`)." });

export const UserSessionRead = z
  .strictObject({
    session_id: z.string(),
    user_agent: z.string().nullable(),
    ip_address: z.string().nullable(),
    created_at: timestamp().nullable(),
    last_seen_at: timestamp().nullable(),
    revoked_at: timestamp().nullable(),
    is_current: z.boolean().describe("Additive: whether this is the caller's own session"),
  })
  .meta({ id: "UserSessionRead" });

export const RevokedSessions = z
  .strictObject({ revoked: z.number().int().describe("How many sessions were revoked") })
  .meta({ id: "RevokedSessions" });

export const OnlineStatus = z
  .strictObject({ user_id: z.number().int(), online: z.boolean() })
  .meta({ id: "OnlineStatus" });

// ---------------------------------------------------------------------------------------------------------
// Workspaces, members, invites, audit log (docs/http-api.md#workspaces-members-and-invites)
// ---------------------------------------------------------------------------------------------------------

export const WorkspaceRole = z.enum(WORKSPACE_ROLES).meta({ id: "WorkspaceRole" });

export const WorkspaceRead = z
  .strictObject({
    id: id(),
    name: z.string(),
    slug: z.string(),
    owner_id: z.number().int(),
    created_at: timestamp().nullable(),
    role: WorkspaceRole.optional().describe("Additive: the caller's role in the workspace"),
  })
  .meta({ id: "WorkspaceRead" });

export const WorkspaceMemberRead = z
  .strictObject({
    workspace_id: z.number().int(),
    user_id: z.number().int(),
    role: WorkspaceRole,
    user: UserPublic,
    created_at: timestamp().nullable(),
  })
  .meta({ id: "WorkspaceMemberRead" });

export const WorkspaceInviteRead = z
  .strictObject({
    id: id(),
    workspace_id: z.number().int(),
    workspace_name: z.string().describe('"" when the workspace is gone'),
    status: z.enum(REQUEST_STATUSES),
    inviter: UserPublic,
    invitee: UserPublic,
    created_at: timestamp().nullable(),
  })
  .meta({ id: "WorkspaceInviteRead" });

export const AuditLogRead = z
  .strictObject({
    id: id(),
    workspace_id: z.number().int(),
    actor_user_id: z.number().int().nullable(),
    actor: UserPublic.nullable().describe("Null when the entry has no actor or the account is gone"),
    action: z.string().describe("e.g. `member.role_changed`, `channel.created`"),
    target_type: z.string().describe("`workspace`, `user`, `invite` or `channel`"),
    target_id: z.number().int().nullable(),
    details: z.record(z.string(), z.unknown()),
    created_at: timestamp().nullable(),
  })
  .meta({ id: "AuditLogRead" });

export const AuditLogPage = z
  .strictObject({
    items: z.array(AuditLogRead),
    next_before_id: z.number().int().nullable().describe("The `before_id` of the next (older) page, or null"),
  })
  .meta({ id: "AuditLogPage" });

// ---------------------------------------------------------------------------------------------------------
// Channels, messages, presence, read state (docs/http-api.md#channels, docs/http-api.md#channel-messages)
// ---------------------------------------------------------------------------------------------------------

const channelFields = {
  id: id(),
  workspace_id: z.number().int(),
  name: z.string(),
  is_private: z.boolean(),
  created_at: timestamp().nullable(),
  topic: z.string().nullable().describe("Additive"),
  is_archived: z.boolean().describe("Additive"),
};

export const ChannelRead = z.strictObject(channelFields).meta({ id: "ChannelRead" });

export const ChannelListItem = z
  .strictObject({
    ...channelFields,
    unread_count: z.number().int().describe("Additive: the caller's unread messages in the channel"),
    unread_mention_count: z
      .number()
      .int()
      .describe("Additive: the caller's mentions in messages after their read pointer"),
  })
  .meta({ id: "ChannelListItem", description: "ChannelRead with the caller's unread counts." });

export const ChannelMemberRead = z
  .strictObject({
    channel_id: z.number().int(),
    user_id: z.number().int(),
    user: UserPublic,
    created_at: timestamp().nullable(),
  })
  .meta({ id: "ChannelMemberRead" });

export const ReactionRead = z
  .strictObject({
    emoji: z.string().describe("A Unicode emoji, or a `:short_name:` of the fixed set"),
    count: z.number().int().positive(),
    me: z.boolean().describe("Whether the caller is among those who reacted so"),
  })
  .meta({ id: "ReactionRead" });

/** A message's thread and reactions, for channel and direct messages alike (presenters/threads.ts). */
const threadFields = {
  parent_id: z
    .number()
    .int()
    .nullable()
    .describe("Additive: the thread root this message replies to; null for a root"),
  reply_count: z.number().int().describe("Additive: on a root, its replies (deleted ones included)"),
  last_reply_at: timestamp().nullable().describe("Additive: on a root, when the last reply came"),
  reply_user_ids: z
    .array(z.number().int())
    .describe("Additive: on a root, the latest repliers, newest first (at most 5)"),
  reactions: z.array(ReactionRead).describe("Additive: reactions as the caller sees them"),
};

export const MessageRead = z
  .strictObject({
    id: id(),
    channel_id: z.number().int(),
    user_id: z.number().int(),
    content: z.string().describe('"" once deleted'),
    client_id: z.string().nullable().describe("Echoed to the sender of a POST; null in listings"),
    is_edited: z.boolean(),
    is_deleted: z.boolean(),
    created_at: timestamp().nullable(),
    updated_at: timestamp().nullable(),
    author: UserPublic,
    ...threadFields,
  })
  .meta({ id: "MessageRead" });

export const ChannelReadState = z
  .strictObject({
    channel_id: z.number().int(),
    last_read_message_id: z.number().int(),
    unread_count: z.number().int(),
  })
  .meta({ id: "ChannelReadState" });

export const PresenceUser = z
  .strictObject({ user_id: z.number().int(), display_name: z.string().nullable() })
  .meta({ id: "PresenceUser" });

// ---------------------------------------------------------------------------------------------------------
// Friends (docs/http-api.md#friends)
// ---------------------------------------------------------------------------------------------------------

export const FriendRequestRead = z
  .strictObject({
    id: id(),
    status: z.enum(REQUEST_STATUSES),
    requester: UserPublic,
    addressee: UserPublic,
    created_at: timestamp().nullable(),
    updated_at: timestamp().nullable(),
  })
  .meta({ id: "FriendRequestRead" });

// ---------------------------------------------------------------------------------------------------------
// Operational (docs/http-api.md#operational-routes)
// ---------------------------------------------------------------------------------------------------------

export const Alive = z.strictObject({ status: z.literal("ok") }).meta({ id: "Alive" });

export const Ready = z
  .strictObject({ status: z.literal("ok"), db: z.literal("ok"), redis: z.literal("ok") })
  .meta({ id: "Ready" });

export const NotReady = z
  .object({
    detail: z.literal("Service Unavailable"),
    status: z.literal("error"),
    db: z.string().optional().describe('"ok" or the error'),
    redis: z.string().optional().describe('"ok" or the error'),
  })
  .meta({ id: "NotReady", description: "Not ready; with invalid settings, the problems are listed too." });

// ---------------------------------------------------------------------------------------------------------
// Direct messages (docs/http-api.md#direct-messages)
// ---------------------------------------------------------------------------------------------------------

export const ThreadRead = z
  .strictObject({
    id: id(),
    workspace_id: z
      .number()
      .int()
      .nullable()
      .describe(
        "The opener's workspace, recorded at creation only (a thread is per pair of users); null once that workspace is deleted",
      ),
    participants: z.array(UserPublic).describe("The two users, lower id first, the caller included"),
    unread_count: z.number().int(),
    read_only: z
      .boolean()
      .describe(
        "The two share no workspace and are not friends: the history stays readable, nothing new can be sent",
      ),
    created_at: timestamp().nullable(),
    updated_at: timestamp().nullable(),
  })
  .meta({ id: "ThreadRead" });

export const DirectMessageRead = z
  .strictObject({
    id: id(),
    thread_id: z.number().int(),
    user_id: z.number().int().describe("The sender"),
    content: z.string().describe('"" once deleted'),
    client_id: z.string().nullable().describe("Echoed to the sender of a POST; null in listings"),
    is_deleted: z.boolean(),
    is_edited: z.boolean(),
    created_at: timestamp().nullable(),
    updated_at: timestamp().nullable(),
    author: UserPublic,
    ...threadFields,
  })
  .meta({ id: "DirectMessageRead" });

export const ReadStatus = z
  .strictObject({
    thread_id: z.number().int(),
    self_last_read_message_id: z.number().int().describe("0 when nothing was read"),
    other_last_read_message_id: z.number().int().describe("0 when nothing was read"),
    unread_count: z.number().int().describe("Additive: the caller's unread messages in the thread"),
  })
  .meta({ id: "ReadStatus" });

// ---------------------------------------------------------------------------------------------------------
// Mentions (this project's own: GET /users/me/mentions)
// ---------------------------------------------------------------------------------------------------------

export const MentionRead = z
  .strictObject({
    id: id().describe("The mention's id: the keyset cursor (`before_id`)"),
    conversation_kind: z.enum(["channel", "dm"]),
    workspace_id: z.number().int().nullable().describe("The channel's workspace; null for a DM thread"),
    channel_id: z.number().int().nullable(),
    thread_id: z.number().int().nullable(),
    via: z
      .enum(["user", "channel", "here"])
      .describe("How the caller was named: `@handle`, `@channel`, `@here`"),
    created_at: timestamp().nullable(),
    message: z.union([MessageRead, DirectMessageRead]),
  })
  .meta({ id: "MentionRead" });

// ---------------------------------------------------------------------------------------------------------
// Search (this project's own: GET /search/messages)
// ---------------------------------------------------------------------------------------------------------

export const SearchHitRead = z
  .strictObject({
    conversation_kind: z.enum(["channel", "dm"]),
    conversation_id: id().describe("The channel's id, or the DM thread's"),
    workspace_id: z.number().int().nullable().describe("The channel's workspace; null for a DM thread"),
    message_id: id(),
    parent_id: z.number().int().nullable().describe("The thread's root when the message is a reply"),
    sender: UserPublic,
    created_at: timestamp().nullable(),
    snippet: z
      .string()
      .describe("Safe HTML: the message's text escaped, matched words in `<mark>`, at most two fragments"),
    rank: z.number().describe("ts_rank of the message for the query (higher is more relevant)"),
  })
  .meta({ id: "SearchHitRead" });

export const SearchPage = z
  .strictObject({
    results: z.array(SearchHitRead),
    next_cursor: z
      .string()
      .nullable()
      .describe("Pass as `cursor` for the next page, with the same query; null on the last page"),
  })
  .meta({ id: "SearchPage" });

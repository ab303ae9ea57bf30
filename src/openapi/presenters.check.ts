/**
 * Compile-time check that every response schema (schemas.ts) has exactly the fields its presenter
 * produces, with compatible types: `npm run typecheck` fails when a presenter gains, loses or
 * retypes a field and its schema is not updated. No run-time code.
 */
import type { z } from "zod";
import type { TokenPair } from "../auth/tokens";
import type { toAuditLogPage, toAuditLogRead } from "../presenters/audit-logs";
import type { toChannelMemberRead, toChannelRead } from "../presenters/channels";
import type { toDirectMessageRead, toReadStatus, toThreadRead } from "../presenters/dm";
import type { toFriendRequestRead } from "../presenters/friends";
import type { toInviteRead } from "../presenters/invites";
import type { toMentionRead } from "../presenters/mentions";
import type { toMessageRead, toReadState } from "../presenters/messages";
import type { toSearchHitRead, toSearchPage } from "../presenters/search";
import type { toReactionRead } from "../presenters/threads";
import type { toUserPublic, toUserRead } from "../presenters/users";
import type { toWorkspaceMemberRead, toWorkspaceRead } from "../presenters/workspaces";
import type { PresentUser } from "../realtime/conversation-room";
import type * as S from "./schemas";

type Keys<T> = keyof T extends infer K ? (K extends string ? K : never) : never;
type SameKeys<A, B> = [Keys<A>] extends [Keys<B>] ? ([Keys<B>] extends [Keys<A>] ? true : false) : false;

/**
 * True when the schema names exactly the presenter's fields and every value the schema allows
 * is one the presenter's type allows (the schema may be narrower: an enum for a string column).
 */
type Describes<Schema extends z.ZodType, Produced> =
  SameKeys<z.output<Schema>, Produced> extends true
    ? [z.output<Schema>] extends [Produced]
      ? true
      : false
    : false;

type Presents<Schema extends z.ZodType, F extends (...args: never[]) => unknown> = Describes<
  Schema,
  ReturnType<F>
>;

type Assert<T extends true> = T;

export type PresenterChecks = [
  Assert<Presents<typeof S.UserPublic, typeof toUserPublic>>,
  Assert<Presents<typeof S.UserRead, typeof toUserRead>>,
  Assert<Describes<typeof S.Token, TokenPair>>,
  Assert<Presents<typeof S.WorkspaceRead, typeof toWorkspaceRead>>,
  Assert<Presents<typeof S.WorkspaceMemberRead, typeof toWorkspaceMemberRead>>,
  Assert<Presents<typeof S.WorkspaceInviteRead, typeof toInviteRead>>,
  Assert<Presents<typeof S.AuditLogRead, typeof toAuditLogRead>>,
  Assert<Presents<typeof S.AuditLogPage, typeof toAuditLogPage>>,
  Assert<Presents<typeof S.ChannelRead, typeof toChannelRead>>,
  Assert<Presents<typeof S.ChannelMemberRead, typeof toChannelMemberRead>>,
  Assert<Presents<typeof S.MessageRead, typeof toMessageRead>>,
  Assert<Presents<typeof S.ChannelReadState, typeof toReadState>>,
  Assert<Describes<typeof S.PresenceUser, PresentUser>>,
  Assert<Presents<typeof S.FriendRequestRead, typeof toFriendRequestRead>>,
  Assert<Presents<typeof S.ThreadRead, typeof toThreadRead>>,
  Assert<Presents<typeof S.DirectMessageRead, typeof toDirectMessageRead>>,
  Assert<Presents<typeof S.ReadStatus, typeof toReadStatus>>,
  Assert<Presents<typeof S.MentionRead, typeof toMentionRead>>,
  Assert<Presents<typeof S.SearchHitRead, typeof toSearchHitRead>>,
  Assert<Presents<typeof S.SearchPage, typeof toSearchPage>>,
  Assert<Presents<typeof S.ReactionRead, typeof toReactionRead>>,
];

/**
 * What the server sends on the notification socket (`/ws/notifications`, notification-feed.ts):
 * the events services raise through the Notifier (services/notifier.ts) after a change is
 * committed, as zod schemas. Payloads that are REST shapes reuse their response schemas
 * (src/openapi/schemas.ts). The AsyncAPI document is generated from these schemas and the
 * recording test (test/realtime/protocol-frames.test.ts) validates real frames against it.
 *
 * Delivery is best effort: a user without an open notification socket misses the event, so a
 * client re-fetches its lists when it (re)connects.
 */
import { z } from "zod";
import {
  ChannelRead,
  DirectMessageRead,
  MessageRead,
  UserPublic,
  WorkspaceInviteRead,
  WorkspaceRead,
  WorkspaceRole,
} from "../../openapi/schemas";

const int = () => z.number().int();
const by = UserPublic.nullable().describe("Who did it (null when the account is gone)");
const leaving = z
  .enum(["left", "removed"])
  .describe("`left`: the user left; `removed`: someone removed them");

const mentionedVia = z
  .enum(["user", "channel", "here"])
  .describe("How the user was named: `@handle`, `@channel` or `@here`");

const event = <T extends string, P extends z.ZodType>(type: T, payload: P, description: string) =>
  z.strictObject({ type: z.literal(type), payload }).describe(description);

const invite = <T extends `invite.${string}`>(type: T, description: string) =>
  event(type, WorkspaceInviteRead, description);

/** What a client sends on the notification socket: anything, only to prove the socket alive. */
export const notificationFrameSchemas = {
  "keep-alive": z
    .string()
    .describe(
      "Any text frame (the web app sends `ping` every 10 s): it only proves the socket alive; nothing is answered",
    ),
};

/** Every event of the notification socket, by type. */
export const notificationEventSchemas = {
  "invite.created": invite("invite.created", "To the invitee: someone invited them to a workspace"),
  "invite.accepted": invite("invite.accepted", "To the inviter: the invitee accepted"),
  "invite.declined": invite("invite.declined", "To the inviter: the invitee declined"),
  "invite.cancelled": invite(
    "invite.cancelled",
    "To the invitee: the invite was withdrawn, or its workspace deleted (the invite as it was)",
  ),
  "friend.requested": event(
    "friend.requested",
    z.strictObject({ id: int().describe("The friend request") }),
    "To the addressee: someone sent them a friend request",
  ),
  "friend.accepted": event(
    "friend.accepted",
    z.strictObject({ id: int().describe("The friend request"), by }),
    "To the requester: the addressee accepted",
  ),
  "friend.declined": event(
    "friend.declined",
    z.strictObject({ id: int().describe("The friend request"), by }),
    "To the requester: the addressee declined",
  ),
  "friend.cancelled": event(
    "friend.cancelled",
    z.strictObject({ id: int().describe("The friend request") }),
    "To the addressee: the requester withdrew their request",
  ),
  "friend.removed": event(
    "friend.removed",
    z.strictObject({ user_id: int().describe("The former friend"), by }),
    "To the other user: a friendship was ended",
  ),
  "workspace.member_added": event(
    "workspace.member_added",
    z.strictObject({ workspace: WorkspaceRead, role: WorkspaceRole, by }),
    "To the new member: they joined a workspace (an accepted invite)",
  ),
  "workspace.role_changed": event(
    "workspace.role_changed",
    z.strictObject({ workspace: WorkspaceRead, role: WorkspaceRole.describe("The new role"), by }),
    "To the member: their role changed (ownership transfers tell both people)",
  ),
  "workspace.member_removed": event(
    "workspace.member_removed",
    z.strictObject({ workspace_id: int(), workspace_name: z.string(), reason: leaving, by }),
    "To the member: they left or were removed from a workspace",
  ),
  "workspace.deleted": event(
    "workspace.deleted",
    z.strictObject({ workspace_id: int(), workspace_name: z.string(), by }),
    "To every member: the workspace was deleted",
  ),
  "channel.member_added": event(
    "channel.member_added",
    z.strictObject({ channel: ChannelRead, by }),
    "To the new member: they were added to a (private) channel",
  ),
  "channel.member_removed": event(
    "channel.member_removed",
    z.strictObject({
      channel_id: int(),
      workspace_id: int(),
      channel_name: z.string(),
      reason: leaving,
      by,
    }),
    "To the member: they left or were removed from a channel",
  ),
  "dm.unread": event(
    "dm.unread",
    z.strictObject({ thread_id: int(), delta: z.literal(1) }),
    "To a DM's recipient who has no socket open on its thread: one more unread message there",
  ),
  mention: event(
    "mention",
    z.union([
      z.strictObject({
        workspace_id: int(),
        channel_id: int(),
        via: mentionedVia,
        message: MessageRead.omit({ reactions: true }).extend({ workspace_id: int() }),
      }),
      z.strictObject({
        thread_id: int(),
        via: mentionedVia,
        message: DirectMessageRead.omit({ reactions: true }).extend({ sender_id: int() }),
      }),
    ]),
    "To someone a new message mentions (`@handle`, `@channel`, `@here`), wherever their sockets are",
  ),
} as const;

type Schemas = typeof notificationEventSchemas;
export type NotificationEventType = keyof Schemas;

/** Every event of the notification socket, as the client receives it. */
export type NotificationEvent = z.output<Schemas[NotificationEventType]>;

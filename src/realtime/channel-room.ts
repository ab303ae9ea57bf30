/**
 * ChannelRoom: one Durable Object per channel (named `channel:{id}`). It holds every open
 * `/ws/chat/{workspace_id}/{channel_id}` socket of the channel, and it is the channel's only
 * writer: posts (REST and socket alike), edits and deletes all come here, are stored in
 * PostgreSQL, and are then broadcast, in one order.
 *
 * The machinery (the single-writer queue with batched inserts, `since` catch-up, idempotent
 * client_id, broadcast, typing, presence, the liveness rules, hibernation) is shared with the
 * direct-message threads and explained in conversation.ts. What is the channel's own:
 *
 *   - One object per channel rather than per workspace keeps each object's fan-out proportional
 *     to one conversation and lets busy channels live apart.
 *   - Who may write is channel access as REST checks it (services/access.ts): a member removed from
 *     the channel or its workspace, or an archived channel, stops socket posts at once. Losing
 *     access closes the socket; an archived channel only refuses the message.
 *   - Events carry `workspace_id` (presenters/messages.ts).
 *   - Presence (contract 2.7, 3.3; D15): GET /channels/{id}/presence asks this object, which answers
 *     from the sockets actually open, so a crash or an eviction cannot leave anyone "present". A
 *     user's first socket here is announced as `presence` online, their last one's close as offline.
 *   - Read frames move the user's read pointer (services/messages.ts markChannelRead) and are told
 *     to the user's own sockets here, with the unread count.
 */
import type { Env } from "../env";
import { AppError } from "../errors";
import type { Logger } from "../log";
import { toMessageEvent, toReadState } from "../presenters/messages";
import { requireChannelAccess } from "../services/access";
import {
  type ChangeOutcome,
  deleteMessage,
  editMessage,
  getMessage,
  insertMessage,
  type MessageView,
  markChannelRead,
  messagesSince,
} from "../services/messages";
import type { MessageScope } from "../services/rate-limits";
import {
  Conversation,
  type PostInput as ConversationPostInput,
  type PostResult as ConversationPostResult,
  type Member,
  openConversationSocket,
  pickScope,
  type Refusal,
  userTag,
} from "./conversation";

export { CATCH_UP_MAX, PING_FRAME, PONG_FRAME, type PresentUser } from "./conversation";

export const roomName = (channelId: number) => `channel:${channelId}`;

/** The object of a channel, for RPC. */
export function channelRoom(namespace: Env["CHANNEL_ROOM"], channelId: number) {
  return namespace.get(namespace.idFromName(roomName(channelId)));
}

/** Closes every chat socket of these channels, for when they are deleted. Best effort, like below. */
export async function closeChannelRooms(
  namespace: Env["CHANNEL_ROOM"],
  channelIds: readonly number[],
  log: Logger,
): Promise<void> {
  await Promise.all(
    channelIds.map(async (channelId) => {
      try {
        await channelRoom(namespace, channelId).disconnectAll();
      } catch (error) {
        log.warn("could not close a deleted channel's sockets", { channel_id: channelId, err: error });
      }
    }),
  );
}

/**
 * Closes a user's chat sockets in these channels (1008), for when they lose access: removed from
 * the channels or from their workspace. Best effort: a room that cannot be reached is logged, and
 * its sockets stop writing anyway (every socket post re-checks access).
 */
export async function disconnectUserFromChannels(
  namespace: Env["CHANNEL_ROOM"],
  channelIds: readonly number[],
  userId: number,
  log: Logger,
  reason = "Access revoked",
): Promise<void> {
  await Promise.all(
    channelIds.map(async (channelId) => {
      try {
        await channelRoom(namespace, channelId).disconnectUser(userId, reason);
      } catch (error) {
        log.warn("could not close a removed user's chat sockets", {
          channel_id: channelId,
          user_id: userId,
          err: error,
        });
      }
    }),
  );
}

/** The ids that name a channel's conversation. */
export interface ChannelScope {
  workspaceId: number;
  channelId: number;
}

/** What the Worker has established about a handshake before handing it to the object. */
export interface RoomHandshake extends ChannelScope {
  userId: number;
  sessionId: string | null;
  /** The token's `exp`, in seconds since the epoch. */
  expiresAtSeconds: number;
  /** The subprotocol to echo ("bearer" when the token came that way), or null. */
  protocol: string | null;
  /** The last message id the client has; null for no catch-up. */
  since: number | null;
}

/**
 * Hands an authenticated, authorised upgrade to the channel's object, which answers the 101. The
 * token itself stays in the Worker: the object only learns what it needs to enforce.
 */
export function openRoomSocket(namespace: Env["CHANNEL_ROOM"], handshake: RoomHandshake) {
  return openConversationSocket(channelRoom(namespace, handshake.channelId), handshake);
}

export type PostInput = ConversationPostInput<ChannelScope>;
export type PostResult = ConversationPostResult<MessageView>;

export interface EditInput extends ChannelScope {
  messageId: number;
  userId: number;
  content: string;
}

export interface DeleteInput extends ChannelScope {
  messageId: number;
  userId: number;
  /** The caller is the workspace's owner or an admin. */
  moderator: boolean;
}

const SCOPE_KEYS = ["workspaceId", "channelId"] as const;

export class ChannelRoom extends Conversation<ChannelScope, MessageView> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, "channel", "channel-room");
  }

  // -------------------------------------------------------------------------------------------
  // RPC from the Worker (routes/messages.ts, routes/channels.ts, routes/workspaces.ts)
  // -------------------------------------------------------------------------------------------

  /** Edits a message and broadcasts `message.updated`. */
  async edit(input: EditInput): Promise<ChangeOutcome> {
    return this.runChange(this.scopeOf(input), "message.updated", () => editMessage(this.db, input));
  }

  /** Soft-deletes a message and broadcasts `message.deleted` (without its content). */
  async remove(input: DeleteInput): Promise<ChangeOutcome> {
    return this.runChange(this.scopeOf(input), "message.deleted", () => deleteMessage(this.db, input));
  }

  /** Closes every socket here (1008), for a deleted channel. Returns how many were closed. */
  override disconnectAll(reason = "Channel deleted"): number {
    return super.disconnectAll(reason);
  }

  // -------------------------------------------------------------------------------------------
  // Hooks of Conversation
  // -------------------------------------------------------------------------------------------

  /** RATE_LIMIT_POST_MESSAGE_PER_10_SECONDS (contract 6.2), per user and channel. */
  protected messageScope(input: PostInput): MessageScope {
    return { kind: "channel", channelId: input.channelId };
  }

  protected scopeOf(value: ChannelScope): ChannelScope {
    return { workspaceId: value.workspaceId, channelId: value.channelId };
  }

  protected parseScope(value: Record<string, unknown>): ChannelScope | null {
    return pickScope(value, SCOPE_KEYS);
  }

  protected nameOf(scope: ChannelScope): string {
    return roomName(scope.channelId);
  }

  protected insertMessage(input: PostInput) {
    return insertMessage(this.db, input);
  }

  protected loadMessage(scope: ChannelScope, messageId: number) {
    return getMessage(this.db, scope.channelId, messageId);
  }

  protected loadSince(scope: ChannelScope, sinceId: number, max: number) {
    return messagesSince(this.db, scope.channelId, sinceId, max);
  }

  protected messagePayload(message: MessageView, scope: ChannelScope, clientId: string | null) {
    return toMessageEvent(message, scope.workspaceId, clientId);
  }

  /**
   * A member removed from the channel or its workspace, or an archived channel, stops writing at
   * once. Losing access closes the socket too (it may not read either); an archived channel only
   * refuses the message.
   */
  protected async senderRefusal(scope: ChannelScope, userId: number): Promise<Refusal | null> {
    try {
      await requireChannelAccess(this.db, scope.channelId, userId, { write: true });
      return null;
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      const detail = typeof error.detail === "string" ? error.detail : "Forbidden";
      return { status: error.status, detail, closeSocket: detail !== "Channel is archived" };
    }
  }

  /** Additive: `{"type":"read","last_read_message_id":n}` moves the read pointer, as POST .../read does. */
  protected async handleReadFrame(
    ws: WebSocket,
    member: Member<ChannelScope>,
    fields: Record<string, unknown>,
  ) {
    const id = this.readFrameId(ws, fields, 0);
    if (id === null) return;
    const state = await markChannelRead(this.db, member.userId, member.channelId, id);
    // The user's other tabs in this channel learn it too.
    this.broadcast(
      { type: "read", payload: { user_id: member.userId, ...toReadState(state) } },
      userTag(member.userId),
    );
  }
}

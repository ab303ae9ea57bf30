/**
 * Channels as conversations (conversation-kind.ts): who may read and write is channel access as
 * services/access.ts decides it everywhere else; events carry `workspace_id`; only a user's first
 * socket is announced as present, and their last socket's close as gone; a read pointer that
 * moves is told to the reader's other sockets here, with the unread count.
 */
import { eq } from "drizzle-orm";
import { channels } from "../../db/schema";
import { toMessageEvent } from "../../presenters/messages";
import { canSeeChannel, channelReaders, findChannelAccess, isManager } from "../../services/access";
import { channelMessageTable } from "../../services/conversation-messages";
import type { ConversationKindRules } from "../conversation-kind";
import { CLOSE_REASONS } from "../protocol/close-codes";
import type { Refusal } from "../write-ports";

export interface ChannelConversation {
  id: number;
  workspaceId: number;
}

const notFound: Refusal = { code: "not_found", detail: "Not Found" };

export const channelRules: ConversationKindRules<ChannelConversation> = {
  kind: "channel",
  endpoint: "chat",
  table: channelMessageTable,
  notFound,
  removeNeeds: "write",
  deletedReason: CLOSE_REASONS.channelDeleted,

  async load(db, id) {
    const [row] = await db
      .select({ id: channels.id, workspaceId: channels.workspaceId })
      .from(channels)
      .where(eq(channels.id, id));
    return row;
  },

  /**
   * A member removed from the channel or its workspace loses it entirely (their socket closes);
   * an archived channel is read-only; owners and admins moderate.
   */
  async standing(db, channel, userId) {
    const found = await findChannelAccess(db, channel.id, userId);
    if (!found)
      return { readRefusal: notFound, writeRefusal: notFound, socketRefusal: null, moderator: false };
    const canRead = found.role !== null && canSeeChannel(found.channel, found.isChannelMember);
    return {
      readRefusal: canRead ? null : { code: "forbidden", detail: "Forbidden", closeSocket: true },
      writeRefusal: found.channel.isArchived ? { code: "archived", detail: "Channel is archived" } : null,
      socketRefusal: null,
      moderator: isManager(found.role),
    };
  },

  handshakeRefusal(channel, fields) {
    return fields.workspaceId === channel.workspaceId
      ? null
      : { code: "forbidden", detail: "Channel is not in this workspace" };
  },

  auditWorkspace: (channel) => channel.workspaceId,
  rateScope: (channel) => ({ kind: "channel", channelId: channel.id }),
  conversationFields: (channel) => ({ workspace_id: channel.workspaceId, channel_id: channel.id }),
  eventPayload: (message, channel, clientId) => toMessageEvent(message, channel.workspaceId, clientId),
  readPeers: () => [],
  receipt: (state, userId) => ({
    event: {
      type: "read",
      payload: {
        user_id: userId,
        channel_id: state.conversationId,
        last_read_message_id: state.lastReadMessageId,
        unread_count: state.unreadCount,
      },
    },
    onlyTheReader: true,
  }),
  presence: { announceEveryJoin: false, leaveWhenFeedEmpty: false },
  readers: (db, channel, options) => channelReaders(db, channel.id, options),
  afterPublish: async () => {},
};

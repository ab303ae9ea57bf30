/**
 * Channels and channel members on the wire (ChannelRead, docs/http-api.md#channels; `topic` and
 * `is_archived` are additive, and the web client already reads an optional `topic`).
 */
import type { Channel, User } from "../db/schema";
import { isoTime, toUserPublic } from "./users";

export function toChannelRead(channel: Channel) {
  return {
    id: channel.id,
    workspace_id: channel.workspaceId,
    name: channel.name,
    is_private: channel.isPrivate,
    created_at: isoTime(channel.createdAt),
    topic: channel.topic,
    is_archived: channel.isArchived,
  };
}

export interface ChannelMemberView {
  channelId: number;
  joinedAt: Date;
  user: Pick<User, "id" | "displayName" | "avatarUrl">;
}

export function toChannelMemberRead(member: ChannelMemberView) {
  return {
    channel_id: member.channelId,
    user_id: member.user.id,
    user: toUserPublic(member.user),
    created_at: isoTime(member.joinedAt),
  };
}

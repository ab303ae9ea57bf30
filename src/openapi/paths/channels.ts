/** Channel routes (docs/http-api.md#channels, both paths; src/routes/channels.ts). */
import { z } from "zod";
import {
  channelCreate,
  channelList,
  channelMemberAdd,
  channelMemberParam,
  channelParam,
  channelUpdate,
  workspaceParam,
} from "../../routes/channels";
import { operation } from "../define";
import { ChannelListItem, ChannelMemberRead, ChannelRead } from "../schemas";

const tag = "channels";

const CHANNEL_FORBIDDEN = "`Forbidden`: not allowed to see the channel (or its workspace), or to do this.";

const create = (path: string, alias: boolean) =>
  operation({
    method: "post",
    path,
    tag,
    summary: alias ? "Create a channel (the web app's path)" : "Create a channel",
    params: workspaceParam,
    body: channelCreate,
    ok: { description: "The new channel.", schema: ChannelRead },
    errors: {
      403: "`Forbidden`: not a member of the workspace (or no such workspace), or not allowed to.",
      409: "`Channel name already taken`.",
    },
  });

const list = (path: string, alias: boolean) =>
  operation({
    method: "get",
    path,
    tag,
    summary: alias ? "A workspace's channels (the web app's path)" : "A workspace's channels",
    description: "The channels the caller can see, by id, with the caller's unread counts.",
    params: workspaceParam,
    query: channelList,
    ok: { description: "Channels.", schema: z.array(ChannelListItem) },
    errors: { 403: "`Forbidden`: not a member of the workspace (or no such workspace)." },
  });

export const channelOperations = [
  create("/channels/workspaces/{workspace_id}/channels", false),
  list("/channels/workspaces/{workspace_id}/channels", false),
  create("/workspaces/{workspace_id}/channels", true),
  list("/workspaces/{workspace_id}/channels", true),
  operation({
    method: "get",
    path: "/channels/{channel_id}",
    tag,
    summary: "A channel",
    params: channelParam,
    ok: { description: "The channel.", schema: ChannelRead },
    errors: { 403: CHANNEL_FORBIDDEN, 404: "`Not Found`." },
  }),
  operation({
    method: "patch",
    path: "/channels/{channel_id}",
    tag,
    summary: "Rename, set the topic, archive or unarchive a channel",
    params: channelParam,
    body: channelUpdate,
    ok: { description: "The updated channel.", schema: ChannelRead },
    errors: { 403: CHANNEL_FORBIDDEN, 404: "`Not Found`.", 409: "`Channel name already taken`." },
  }),
  operation({
    method: "delete",
    path: "/channels/{channel_id}",
    tag,
    summary: "Delete a channel",
    params: channelParam,
    ok: { status: 204, description: "Deleted; its sockets are closed." },
    errors: { 403: CHANNEL_FORBIDDEN, 404: "`Not Found`." },
  }),
  operation({
    method: "get",
    path: "/channels/{channel_id}/members",
    tag,
    summary: "A channel's members",
    params: channelParam,
    ok: { description: "Members.", schema: z.array(ChannelMemberRead) },
    errors: { 403: CHANNEL_FORBIDDEN, 404: "`Not Found`." },
  }),
  operation({
    method: "post",
    path: "/channels/{channel_id}/members",
    tag,
    summary: "Add a workspace member to a channel (or join it)",
    params: channelParam,
    body: channelMemberAdd,
    ok: { description: "The channel member.", schema: ChannelMemberRead },
    errors: {
      400: "`User is not a member of this workspace` or `User is already a member of this channel`.",
      403: CHANNEL_FORBIDDEN,
      404: "`Not Found`.",
    },
  }),
  operation({
    method: "delete",
    path: "/channels/{channel_id}/members/{user_id}",
    tag,
    summary: "Remove a channel member, or leave (the caller's own id)",
    params: channelMemberParam,
    ok: { status: 204, description: "Removed; their sockets on the channel are closed." },
    errors: { 403: CHANNEL_FORBIDDEN, 404: "`Not Found` or `Member not found`." },
  }),
];

/** Channel messages, presence and read state (docs/http-api.md#channel-messages; src/routes/messages.ts). */
import { z } from "zod";
import {
  channelParam,
  messageCreate,
  messageEdit,
  messageParam,
  pageQuery,
  readUpdate,
} from "../../routes/messages";
import { operation } from "../define";
import { ChannelReadState, MessageRead, PresenceUser } from "../schemas";

const tag = "messages";

const FORBIDDEN = "`Forbidden`: the caller may not read (or write) the channel; `Channel is archived`.";
const NOT_FOUND = "`Not Found` (the channel).";
/** A reply names a reply as its root. */
export const PARENT_REPLY = "`Threads are one level deep: reply to the thread's first message`.";

export const messageOperations = [
  operation({
    method: "get",
    path: "/channels/{channel_id}/messages",
    tag,
    summary: "A page of a channel's messages",
    description:
      "Without a cursor, or with `before_id`: the newest messages (below `before_id`), newest first. " +
      "With `after_id`: the oldest above it, oldest first. `limit` is clamped to 1..100 (default 50). " +
      "Deleted messages are left out; `client_id` is null. Replies are listed too, unless " +
      "`include_replies=false` (thread roots only; a deleted root with replies stays as a tombstone).",
    params: channelParam,
    query: pageQuery,
    ok: { description: "Messages.", schema: z.array(MessageRead) },
    errors: { 403: FORBIDDEN, 404: NOT_FOUND },
  }),
  operation({
    method: "post",
    path: "/channels/{channel_id}/messages",
    tag,
    summary: "Post a message",
    description:
      "Stored and broadcast to the channel's sockets. The same `client_id` from the same user within a " +
      "day returns the first message instead of storing a second. With `parent_id`, a reply in that " +
      "root's thread: the root's counters follow and go out as `thread.updated`.",
    params: channelParam,
    body: messageCreate,
    ok: { description: "The message, with the caller's `client_id`.", schema: MessageRead },
    errors: { 400: PARENT_REPLY, 403: FORBIDDEN, 404: `${NOT_FOUND} \`Parent message not found\`.` },
    routeLimit: "posts per user and channel",
  }),
  operation({
    method: "patch",
    path: "/channels/{channel_id}/messages/{message_id}",
    tag,
    summary: "Edit a message (its author only)",
    params: messageParam,
    body: messageEdit,
    ok: { description: "The edited message.", schema: MessageRead },
    errors: { 403: FORBIDDEN, 404: "`Not Found` or `Message not found`." },
  }),
  operation({
    method: "delete",
    path: "/channels/{channel_id}/messages/{message_id}",
    tag,
    summary: "Delete a message (its author, or the workspace's owner and admins)",
    params: messageParam,
    ok: { status: 204, description: "Deleted (soft: listed no more, broadcast as `message.deleted`)." },
    errors: { 403: FORBIDDEN, 404: "`Not Found` or `Message not found`." },
  }),
  operation({
    method: "get",
    path: "/channels/{channel_id}/presence",
    tag,
    summary: "Who holds a socket on the channel now",
    params: channelParam,
    ok: { description: "Present users, by user id.", schema: z.array(PresenceUser) },
    errors: { 403: FORBIDDEN, 404: NOT_FOUND },
  }),
  operation({
    method: "get",
    path: "/channels/{channel_id}/read",
    tag,
    summary: "The caller's read pointer in the channel",
    params: channelParam,
    ok: { description: "Read state.", schema: ChannelReadState },
    errors: { 403: FORBIDDEN, 404: NOT_FOUND },
  }),
  operation({
    method: "post",
    path: "/channels/{channel_id}/read",
    tag,
    summary: "Move the caller's read pointer (forward only)",
    params: channelParam,
    body: readUpdate,
    ok: { description: "Read state after the move.", schema: ChannelReadState },
    errors: { 403: FORBIDDEN, 404: NOT_FOUND },
  }),
];

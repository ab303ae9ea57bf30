/**
 * Direct-message routes (docs/http-api.md#direct-messages; src/routes/dm.ts). The thread socket is in
 * ./realtime.ts.
 */
import { z } from "zod";
import {
  directMessageCreate,
  directMessageEdit,
  directMessageParam,
  directPageQuery,
  threadCreate,
  threadListQuery,
  threadParam,
  threadReadUpdate,
} from "../../routes/dm";
import { operation } from "../define";
import { DirectMessageRead, ReadStatus, ThreadRead } from "../schemas";
import { PARENT_REPLY } from "./messages";

const tag = "direct messages";

const THREAD_ERRORS = { 403: "`Not part of this thread`.", 404: "`Thread not found`." };
/** Saying something new (posting, editing) needs the two to still reach each other. */
const READ_ONLY = "`Thread is read-only: its participants share no workspace and are not friends`";

export const dmOperations = [
  operation({
    method: "post",
    path: "/dm/threads",
    tag,
    summary: "Open the thread with another user",
    description:
      "Exactly one of `user_id` and `participant_email` (else 422 on `__root__`). The same thread is " +
      "returned whoever opens it and from whichever workspace; it is created only when the two " +
      "share any workspace or are friends, and records `workspace_id` (the caller's workspace, " +
      "where the conversation was started). By e-mail, a user out of reach answers 404 like an " +
      "unknown address.",
    body: threadCreate,
    ok: { description: "The thread, created or not.", schema: ThreadRead },
    errors: {
      400: "`Cannot create direct message thread with yourself`.",
      403:
        "`Forbidden` (the caller is not a member of the workspace named) or " +
        "`You share no workspace with this user and are not friends`.",
      404: "`User not found` or `Workspace not found`.",
    },
    routeLimit: "threads opened per user",
  }),
  operation({
    method: "get",
    path: "/dm/threads",
    tag,
    summary: "The caller's threads, most recent activity first",
    description:
      "`q` matches the other participant's handle; `limit` is clamped to 1..50 (default 50); " +
      "`workspace_id` is accepted and ignored (threads are per pair of users).",
    query: threadListQuery,
    ok: { description: "Threads, with the caller's unread counts.", schema: z.array(ThreadRead) },
  }),
  operation({
    method: "get",
    path: "/dm/threads/{thread_id}/messages",
    tag,
    summary: "A page of a thread's messages",
    description:
      "Newest first; `before_id` pages back, `after_id` pages forward (oldest first); `offset` also " +
      "works. `limit` is clamped to 1..100 (default 50); `client_id` is null. `include_replies=false` " +
      "lists thread roots only.",
    params: threadParam,
    query: directPageQuery,
    ok: { description: "Messages.", schema: z.array(DirectMessageRead) },
    errors: THREAD_ERRORS,
  }),
  operation({
    method: "post",
    path: "/dm/threads/{thread_id}/messages",
    tag,
    summary: "Send a direct message",
    description:
      "Stored and broadcast on the thread's sockets; an absent recipient gets `dm.unread`. The same " +
      "`client_id` returns the first message instead of storing a second. With `parent_id`, a reply " +
      "in that root's thread (`thread.updated` follows).",
    params: threadParam,
    body: directMessageCreate,
    ok: { description: "The message, with the caller's `client_id`.", schema: DirectMessageRead },
    errors: {
      400: PARENT_REPLY,
      403: `\`Not part of this thread\` or ${READ_ONLY}.`,
      404: "`Thread not found` or `Parent message not found`.",
    },
    routeLimit: "messages per user",
  }),
  operation({
    method: "patch",
    path: "/dm/threads/{thread_id}/messages/{message_id}",
    tag,
    summary: "Edit a direct message (its sender only)",
    params: directMessageParam,
    body: directMessageEdit,
    ok: { description: "The edited message.", schema: DirectMessageRead },
    errors: {
      403: `\`Not part of this thread\`, \`Forbidden\` or ${READ_ONLY}.`,
      404: "`Thread not found` or `Message not found`.",
    },
  }),
  operation({
    method: "delete",
    path: "/dm/threads/{thread_id}/messages/{message_id}",
    tag,
    summary: "Delete a direct message (its sender only)",
    params: directMessageParam,
    ok: { status: 204, description: "Deleted (soft: broadcast as `message.deleted`)." },
    errors: {
      403: "`Not part of this thread` or `Forbidden`.",
      404: "`Thread not found` or `Message not found`.",
    },
  }),
  operation({
    method: "get",
    path: "/dm/threads/{thread_id}/read-status",
    tag,
    summary: "Both participants' read pointers",
    params: threadParam,
    ok: { description: "Read status (0: nothing read).", schema: ReadStatus },
    errors: THREAD_ERRORS,
  }),
  operation({
    method: "post",
    path: "/dm/threads/{thread_id}/read",
    tag,
    summary: "Move the caller's read pointer (forward only)",
    description: "`null`, 0 or absent marks everything so far. Broadcast as a `read` receipt.",
    params: threadParam,
    body: threadReadUpdate,
    ok: { description: "Read status after the move.", schema: ReadStatus },
    errors: THREAD_ERRORS,
  }),
];

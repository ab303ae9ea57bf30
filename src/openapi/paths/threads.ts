/** Threads and reactions, for channels and DM threads alike (src/routes/threads.ts). */
import { z } from "zod";
import { repliesQuery } from "../../http/message-params";
import type { ConversationKind } from "../../realtime/names";
import { reactionParam, repliesParam } from "../../routes/threads";
import { operation } from "../define";
import { DirectMessageRead, MessageRead, ReactionRead } from "../schemas";

const KINDS = {
  channel: {
    tag: "messages",
    base: "/channels/{channel_id}",
    schema: MessageRead,
    forbidden: "`Forbidden` (the caller may not read, or write, the channel) or `Channel is archived`",
    notFound: "`Not Found` (the channel)",
  },
  dm: {
    tag: "dm",
    base: "/dm/threads/{thread_id}",
    schema: DirectMessageRead,
    forbidden: "`Not part of this thread`, or (writing) the thread is read-only",
    notFound: "`Thread not found`",
  },
} as const;

const operationsOf = (kind: ConversationKind) => {
  const { tag, base, schema, forbidden, notFound } = KINDS[kind];
  const reaction = (method: "put" | "delete") =>
    operation({
      method,
      path: `${base}/messages/{message_id}/reactions/{emoji}`,
      tag,
      summary:
        method === "put"
          ? "Add the caller's reaction (idempotent)"
          : "Remove the caller's reaction (idempotent)",
      description:
        "`emoji` (URL-encoded) is one Unicode emoji, or a `:short_name:` of the fixed set (`:+1:`, " +
        "`:tada:`, ...). A change is told to the conversation's sockets as `reaction.added` / " +
        "`reaction.removed`; a repeat changes nothing and tells nobody. A message has at most 20 " +
        "different emoji.",
      params: reactionParam(kind),
      ok: { description: "The message's reactions as the caller sees them.", schema: z.array(ReactionRead) },
      errors: {
        403: `${forbidden}.`,
        404: `${notFound} or \`Message not found\` (also a deleted message).`,
        409: "`A message has at most 20 different reactions`.",
      },
      routeLimit: "reactions per user per minute",
    });
  return [
    operation({
      method: "get",
      path: `${base}/messages/{message_id}/replies`,
      tag,
      summary: "A page of a thread's replies",
      description:
        "Keyset pages as history: newest first, `before_id` pages back, `after_id` pages forward " +
        "(oldest first); `limit` 1..100 (default 50). A deleted root's thread stays readable. " +
        "Replies are posted with `parent_id` on POST .../messages.",
      params: repliesParam(kind),
      query: repliesQuery,
      ok: { description: "Replies.", schema: z.array(schema) },
      errors: { 403: `${forbidden}.`, 404: `${notFound} or \`Message not found\` (not a root here).` },
    }),
    reaction("put"),
    reaction("delete"),
  ];
};

export const threadOperations = [...operationsOf("channel"), ...operationsOf("dm")];

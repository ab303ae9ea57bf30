/**
 * Threads and reactions, for channels and direct-message threads alike (one set of routes per
 * kind, built from the same definitions). Both are answered by the conversation's object, which
 * checks access as for its messages (404, then 403) and orders the events with its messages.
 *
 * - GET .../messages/{message_id}/replies: a thread's replies, keyset pages as history (newest
 *   first; `after_id` pages forward, oldest first). The root must be a root of this conversation
 *   (404 "Message not found" otherwise); a deleted root's thread stays readable. Replies are
 *   posted with `parent_id` on the ordinary POST .../messages (and the socket's `message` frame).
 * - PUT and DELETE .../messages/{message_id}/reactions/{emoji}: add or remove the caller's
 *   reaction; idempotent (adding twice, or removing one never made, changes nothing and tells
 *   nobody). The emoji is one Unicode emoji or a `:short_name:` of the fixed set (422 otherwise,
 *   services/reactions.ts); a message has at most 20 different ones (409). Answers the message's
 *   reactions as the caller sees them. Writing is needed (an archived channel or a read-only DM
 *   thread refuses: 403), and RATE_LIMIT_REACTION_PER_MINUTE counts each call (429).
 */
import { Hono } from "hono";
import { createFactory } from "hono/factory";
import { z } from "zod";
import type { AppEnv } from "../context";
import { requireAuth } from "../http/auth";
import { repliesQuery } from "../http/message-params";
import { unwrap } from "../http/refusals";
import { validate, zId } from "../http/validation";
import { toDirectMessageRead } from "../presenters/dm";
import { toMessageRead } from "../presenters/messages";
import { toReactionRead } from "../presenters/threads";
import type { ConversationKind } from "../realtime/names";
import { conversationStub } from "../realtime/port";
import type { StoredMessage } from "../services/conversation-messages";
import { PAGE_SIZE_DEFAULT } from "../services/message-rules";
import { emojiProblem } from "../services/reactions";

/** An emoji from the path (Hono decodes it), validated as services/reactions.ts says. */
const zEmoji = () =>
  z.string().superRefine((value, ctx) => {
    const problem = emojiProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem, input: value });
  });

/** How each kind names its paths and presents its messages. */
const KINDS = {
  channel: { base: "/channels/:channel_id", param: "channel_id", present: toMessageRead },
  dm: { base: "/dm/threads/:thread_id", param: "thread_id", present: toDirectMessageRead },
} as const satisfies Record<
  ConversationKind,
  { base: string; param: string; present: (message: StoredMessage) => unknown }
>;

export const repliesParam = (kind: ConversationKind) =>
  z.object({ [KINDS[kind].param]: zId(), message_id: zId() });
export const reactionParam = (kind: ConversationKind) =>
  z.object({ [KINDS[kind].param]: zId(), message_id: zId(), emoji: zEmoji() });

const factory = createFactory<AppEnv>();

function routesFor(kind: ConversationKind) {
  const { base, param, present } = KINDS[kind];
  const object = (env: AppEnv["Bindings"], id: number) => conversationStub(env, kind, id);

  const react = (adding: boolean) =>
    factory.createHandlers(requireAuth, validate("param", reactionParam(kind)), async (c) => {
      const params = c.req.valid("param") as Record<string, number> & { emoji: string };
      const conversationId = params[param] as number;
      const reactions = unwrap(
        await object(c.env, conversationId).react({
          conversationId,
          userId: c.var.caller.userId,
          messageId: params.message_id as number,
          emoji: params.emoji,
          present: adding,
        }),
      );
      return c.json(reactions.map(toReactionRead));
    });

  return new Hono<AppEnv>()
    .get(
      `${base}/messages/:message_id/replies`,
      requireAuth,
      validate("param", repliesParam(kind)),
      validate("query", repliesQuery),
      async (c) => {
        const params = c.req.valid("param") as Record<string, number>;
        const query = c.req.valid("query");
        const conversationId = params[param] as number;
        const replies = unwrap(
          await object(c.env, conversationId).replies({
            conversationId,
            userId: c.var.caller.userId,
            rootId: params.message_id as number,
            page: {
              beforeId: query.before_id,
              afterId: query.after_id,
              limit: query.limit ?? PAGE_SIZE_DEFAULT,
            },
          }),
        );
        return c.json(replies.map((message) => present(message)));
      },
    )
    .put(`${base}/messages/:message_id/reactions/:emoji`, ...react(true))
    .delete(`${base}/messages/:message_id/reactions/:emoji`, ...react(false));
}

export const threadRoutes = new Hono<AppEnv>().route("/", routesFor("channel")).route("/", routesFor("dm"));

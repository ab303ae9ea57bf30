/**
 * Direct-message routes (docs/http-api.md#direct-messages).
 *
 * - POST /dm/threads: the thread of the caller and another user (by `user_id` or
 *   `participant_email`, exactly one), the same one whoever opens it, from whichever workspace and
 *   however often; created only if the two can reach each other: any shared workspace, or
 *   friends (docs/original-defects.md#d18-relationships, services/access.ts). `workspace_id` names the
 *   caller's workspace, which a new thread records. Oneself is a 400 and an unknown user a 404
 *   (docs/original-defects.md#d9-500s-for-ordinary-mistakes). 200 ThreadRead, created or not (as the
 *   original).
 * - GET /dm/threads: the caller's threads, most recent activity first (the newest message, else
 *   the thread's creation), with the caller's `unread_count`; `q` matches the other participant's
 *   handle only (docs/original-defects.md#d20-self-matching-search); `limit` 1..50 (default 50), `offset` >=
 *   0 as the web app pages; `workspace_id` is accepted and, as in the original, ignored (threads are per
 *   pair).
 * - GET /dm/threads/{id}/messages: keyset pages by id as channel messages
 *   (docs/original-defects.md#d13-paging): newest first; `before_id` pages back, `after_id` pages forward
 *   (oldest first); `limit` 1..100 (default 50). `offset` (the original's paging, which the web app's default
 *   call carries) still works. `include_replies=false` lists thread roots only, as for channels.
 * - POST /dm/threads/{id}/messages: stored and broadcast by the thread's object, which also tells
 *   an absent recipient (`dm.unread`). A
 *   per-user limit over REST and the socket together (RATE_LIMIT_DM_MESSAGE_PER_10_SECONDS, 429;
 *   docs/original-defects.md#d14-rate-limit-bypass) and the idempotent `client_id` of channels. Creating
 *   threads (and looking users up through this route) is limited per user too
 *   (RATE_LIMIT_DM_THREAD_CREATE_PER_MINUTE); re-opening an existing thread is not.
 * - PATCH and DELETE /dm/threads/{id}/messages/{message_id}: edit and soft delete, by the sender
 *   only; broadcast as `message.updated` and `message.deleted`.
 * - GET /dm/threads/{id}/read-status and POST /dm/threads/{id}/read: the read pointers of both
 *   participants, kept in PostgreSQL (docs/original-defects.md#d15-store-expiry-and-outages); a read moves
 *   the caller's forward only and is broadcast as a `read` receipt. ReadStatus also carries the caller's
 *   `unread_count`.
 *
 * Every message and read route is answered by the thread's object (realtime/dm-thread.ts), the
 * single gate of its messages: 404 "Thread not found" and 403 "Not part of this thread" as the
 * original, then the limit (429).
 * A thread whose participants can no longer reach each other is read-only (services/access.ts):
 * posting and editing answer 403; reading, read pointers and deleting one's own messages still
 * work.
 */
import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../context";
import { requireAuth } from "../http/auth";
import {
  historyQuery,
  messageCreate,
  messageEdit,
  postedMessage,
  postInput,
  zCursor,
} from "../http/message-params";
import { rateLimitRefusal } from "../http/rate-limit";
import { unwrap } from "../http/refusals";
import { jsonBody, validate, zId, zInt, zText } from "../http/validation";
import { toDirectMessageRead, toReadStatus, toThreadRead } from "../presenters/dm";
import { conversationStub } from "../realtime/port";
import { normaliseEmail } from "../services/accounts";
import { getThreadView, listThreads, openThread, THREAD_PAGE_DEFAULT, THREAD_PAGE_MAX } from "../services/dm";
import { PAGE_SIZE_DEFAULT } from "../services/message-rules";
import { checkMessageRate } from "../services/rate-limits";

const MAX_EMAIL_LENGTH = 255;

/**
 * An e-mail address, normalised as at registration (docs/original-defects.md#d11-e-mail-case), else
 * "value is not a valid email address".
 */
const zEmail = () =>
  z.string().transform((raw, ctx) => {
    const normalised = raw.length <= 320 ? normaliseEmail(raw) : "";
    if (normalised.length > MAX_EMAIL_LENGTH || !z.email().safeParse(normalised).success) {
      ctx.addIssue({ code: "invalid_format", format: "email", input: raw });
      return z.NEVER;
    }
    return normalised;
  });

const clamp = (min: number, max: number) => (n: number) => Math.min(max, Math.max(min, n));

export const threadParam = z.object({ thread_id: zId() });
export const directMessageParam = z.object({ thread_id: zId(), message_id: zId() });
export const threadCreate = z
  .object({
    workspace_id: zId(),
    user_id: zId().nullish(),
    participant_email: zEmail().nullish(),
  })
  .superRefine((body, ctx) => {
    const byId = body.user_id !== undefined && body.user_id !== null;
    const byEmail = body.participant_email !== undefined && body.participant_email !== null;
    if (byId === byEmail) {
      ctx.addIssue({
        code: "custom",
        message: "Provide exactly one of user_id or participant_email",
        input: body,
      });
    }
  });
export const threadListQuery = z.object({
  // Accepted, and ignored as in the original: a thread belongs to a pair, not to a workspace.
  workspace_id: zId().optional(),
  q: zText(0, 255).optional(),
  // Clamped rather than refused, as the original's clients expect.
  limit: zInt().transform(clamp(1, THREAD_PAGE_MAX)).optional(),
  offset: zInt().pipe(z.number().min(0)).optional(),
});
export const directPageQuery = historyQuery.extend({
  offset: zInt().pipe(z.number().min(0)).optional(),
});
export const directMessageCreate = messageCreate;
export const directMessageEdit = messageEdit;
/** `null`, 0 or absent: everything so far. */
export const threadReadUpdate = z.object({ last_read_message_id: zCursor().nullish() });

const thread = (c: { env: AppEnv["Bindings"] }, threadId: number) => conversationStub(c.env, "dm", threadId);

export const dmRoutes = new Hono<AppEnv>()
  .post("/dm/threads", requireAuth, jsonBody(threadCreate), async (c) => {
    const body = c.req.valid("json");
    const callerId = c.var.caller.userId;
    const { config, deps, log } = c.var;
    const opened = await openThread(deps.db, callerId, {
      workspaceId: body.workspace_id,
      userId: body.user_id ?? undefined,
      email: body.participant_email ?? undefined,
      // RATE_LIMIT_DM_THREAD_CREATE_PER_MINUTE per user, for creations and lookups of other users
      // (how one would probe who exists); re-opening an existing thread is free (services/dm.ts).
      charge: async () => {
        const decision = await checkMessageRate(deps.store, config, callerId, { kind: "dm-thread" }, log);
        if (!decision.allowed) throw rateLimitRefusal(decision);
      },
    });
    return c.json(toThreadRead(await getThreadView(c.var.deps.db, opened.thread.id, callerId)));
  })

  .get("/dm/threads", requireAuth, validate("query", threadListQuery), async (c) => {
    const query = c.req.valid("query");
    const threads = await listThreads(c.var.deps.db, c.var.caller.userId, {
      q: query.q,
      limit: query.limit ?? THREAD_PAGE_DEFAULT,
      offset: query.offset ?? 0,
    });
    return c.json(threads.map(toThreadRead));
  })

  .get(
    "/dm/threads/:thread_id/messages",
    requireAuth,
    validate("param", threadParam),
    validate("query", directPageQuery),
    async (c) => {
      const { thread_id } = c.req.valid("param");
      const query = c.req.valid("query");
      const page = unwrap(
        await thread(c, thread_id).history({
          conversationId: thread_id,
          userId: c.var.caller.userId,
          page: {
            beforeId: query.before_id,
            afterId: query.after_id,
            limit: query.limit ?? PAGE_SIZE_DEFAULT,
            offset: query.offset,
          },
          includeReplies: query.include_replies ?? true,
        }),
      );
      // client_id is null in listings (docs/http-api.md#channel-messages): it is an echo for the sender, not
      // data.
      return c.json(page.map((message) => toDirectMessageRead(message)));
    },
  )

  .post(
    "/dm/threads/:thread_id/messages",
    requireAuth,
    validate("param", threadParam),
    jsonBody(directMessageCreate),
    async (c) => {
      const { thread_id } = c.req.valid("param");
      const { message, clientId: echo } = postedMessage(
        await thread(c, thread_id).post(postInput(thread_id, c.var.caller.userId, c.req.valid("json"))),
      );
      return c.json(toDirectMessageRead(message, echo));
    },
  )

  .patch(
    "/dm/threads/:thread_id/messages/:message_id",
    requireAuth,
    validate("param", directMessageParam),
    jsonBody(directMessageEdit),
    async (c) => {
      const { thread_id, message_id } = c.req.valid("param");
      const message = unwrap(
        await thread(c, thread_id).edit({
          conversationId: thread_id,
          userId: c.var.caller.userId,
          messageId: message_id,
          content: c.req.valid("json").content,
        }),
      );
      return c.json(toDirectMessageRead(message));
    },
  )

  .delete(
    "/dm/threads/:thread_id/messages/:message_id",
    requireAuth,
    validate("param", directMessageParam),
    async (c) => {
      const { thread_id, message_id } = c.req.valid("param");
      unwrap(
        await thread(c, thread_id).remove({
          conversationId: thread_id,
          userId: c.var.caller.userId,
          messageId: message_id,
        }),
      );
      return c.body(null, 204);
    },
  )

  .get("/dm/threads/:thread_id/read-status", requireAuth, validate("param", threadParam), async (c) => {
    const { thread_id } = c.req.valid("param");
    const state = unwrap(
      await thread(c, thread_id).readState({ conversationId: thread_id, userId: c.var.caller.userId }),
    );
    return c.json(toReadStatus(state));
  })

  .post(
    "/dm/threads/:thread_id/read",
    requireAuth,
    validate("param", threadParam),
    jsonBody(threadReadUpdate),
    async (c) => {
      const { thread_id } = c.req.valid("param");
      const last = c.req.valid("json").last_read_message_id;
      const state = unwrap(
        await thread(c, thread_id).markRead({
          conversationId: thread_id,
          userId: c.var.caller.userId,
          // null or 0: everything so far, as the original reset the whole unread counter.
          lastReadMessageId: last ? last : null,
        }),
      );
      return c.json(toReadStatus(state));
    },
  );

/**
 * Direct-message routes (contract 2.9; D9, D13, D14, D15, D17, D18, D20, D22).
 *
 * - POST /dm/threads: the thread of the caller and another user (by `user_id` or
 *   `participant_email`, exactly one), the same one whoever opens it, from whichever workspace and
 *   however often; created only if the two can reach each other: any shared workspace, or
 *   friends (D18, services/access.ts). `workspace_id` names the caller's workspace, which a new
 *   thread records. Oneself is a 400 and an unknown user a 404 (D9). 200 ThreadRead, created or
 *   not (as the original).
 * - GET /dm/threads: the caller's threads, most recent activity first (the newest message, else
 *   the thread's creation), with the caller's `unread_count`; `q` matches the other participant's
 *   handle only (D20); `limit` 1..50 (default 50), `offset` >= 0 as the web app pages;
 *   `workspace_id` is accepted and, as in the original, ignored (threads are per pair).
 * - GET /dm/threads/{id}/messages: keyset pages by id as channel messages (D13): newest first;
 *   `before_id` pages back, `after_id` pages forward (oldest first); `limit` 1..100 (default 50).
 *   `offset` (the original's paging, which the web app's default call carries) still works.
 * - POST /dm/threads/{id}/messages: stored and broadcast by the thread's object (the single
 *   writer, src/realtime/dm-thread.ts), which also tells an absent recipient (`dm.unread`). A
 *   per-user limit over REST and the socket together (RATE_LIMIT_DM_MESSAGE_PER_10_SECONDS, 429;
 *   D14) and the idempotent `client_id` of channels. Creating threads (and looking users up
 *   through this route) is limited per user too (RATE_LIMIT_DM_THREAD_CREATE_PER_MINUTE);
 *   re-opening an existing thread is not.
 * - PATCH and DELETE /dm/threads/{id}/messages/{message_id}: edit and soft delete, by the sender
 *   only; broadcast as `message.updated` and `message.deleted`.
 * - GET /dm/threads/{id}/read-status and POST /dm/threads/{id}/read: the read pointers of both
 *   participants, kept in PostgreSQL (D15); a read moves the caller's forward only and is
 *   broadcast as a `read` receipt. ReadStatus also carries the caller's `unread_count`.
 *
 * Every route answers 404 "Thread not found" and 403 "Not part of this thread" as the original.
 * A thread whose participants can no longer reach each other is read-only (services/access.ts):
 * posting and editing answer 403 THREAD_READ_ONLY; reading, read pointers and deleting one's own
 * messages still work. The thread socket (routes/dm-socket.ts) is mounted here too, so the app
 * mounts one module.
 */
import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../context";
import { AppError, forbidden, notFound } from "../errors";
import { requireAuth } from "../http/auth";
import { objectLimitRefusal, rateLimitRefusal } from "../http/rate-limit";
import { jsonBody, validate, zId, zInt, zText } from "../http/validation";
import { toDirectMessageRead, toReadStatus, toThreadRead } from "../presenters/dm";
import { dmThread, threadScope } from "../realtime/dm-thread";
import { requireThreadParticipant } from "../services/access";
import { normaliseEmail } from "../services/accounts";
import {
  type DirectChangeOutcome,
  getThreadView,
  listDirectMessages,
  listThreads,
  openThread,
  THREAD_PAGE_DEFAULT,
  THREAD_PAGE_MAX,
} from "../services/dm";
import { getReadStatus } from "../services/dm-reads";
import {
  CLIENT_ID_MAX_CHARS,
  MESSAGE_MAX_CHARS,
  normaliseClientId,
  PAGE_SIZE_DEFAULT,
  PAGE_SIZE_MAX,
  POST_WINDOW_MS,
} from "../services/messages";
import { checkMessageRate } from "../services/rate-limits";
import { dmSocketRoutes } from "./dm-socket";

const MAX_EMAIL_LENGTH = 255;

/** 1..4000 code points, and not only whitespace: the rule of channel messages (routes/messages.ts). */
const zContent = () =>
  z.string().superRefine((value, ctx) => {
    if (value.length === 0) {
      ctx.addIssue({ code: "too_small", origin: "string", minimum: 1, inclusive: true, input: value });
    } else if (value.trim() === "") {
      ctx.addIssue({ code: "custom", message: "content must not be blank", input: value });
    } else if (value.length > MESSAGE_MAX_CHARS && [...value].length > MESSAGE_MAX_CHARS) {
      ctx.addIssue({
        code: "too_big",
        origin: "string",
        maximum: MESSAGE_MAX_CHARS,
        inclusive: true,
        input: value,
      });
    }
  });

/** An e-mail address, normalised as at registration (D11), else "value is not a valid email address". */
const zEmail = () =>
  z.string().transform((raw, ctx) => {
    const normalised = raw.length <= 320 ? normaliseEmail(raw) : "";
    if (normalised.length > MAX_EMAIL_LENGTH || !z.email().safeParse(normalised).success) {
      ctx.addIssue({ code: "invalid_format", format: "email", input: raw });
      return z.NEVER;
    }
    return normalised;
  });

/** A message id cursor: 0 is allowed (`after_id=0` is "from the start"). */
const zCursor = () => zId().pipe(z.number().min(0));
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
  // Clamped rather than refused, as the contract has it.
  limit: zInt().transform(clamp(1, THREAD_PAGE_MAX)).optional(),
  offset: zInt().pipe(z.number().min(0)).optional(),
});

export const directPageQuery = z.object({
  limit: zInt().transform(clamp(1, PAGE_SIZE_MAX)).optional(),
  before_id: zCursor().optional(),
  after_id: zCursor().optional(),
  offset: zInt().pipe(z.number().min(0)).optional(),
});

export const directMessageCreate = z.object({
  content: zContent(),
  client_id: z.string().max(CLIENT_ID_MAX_CHARS).nullish(),
});
export const directMessageEdit = z.object({ content: zContent() });
/** `null`, 0 or absent: everything so far (services/dm-reads.ts markThreadRead). */
export const threadReadUpdate = z.object({ last_read_message_id: zCursor().nullish() });

function unwrapChange(outcome: DirectChangeOutcome) {
  if (outcome.kind === "not_found") throw notFound("Message not found");
  if (outcome.kind === "forbidden") throw forbidden();
  return outcome.message;
}

export const dmRoutes = new Hono<AppEnv>()
  .post("/dm/threads", requireAuth, jsonBody(threadCreate), async (c) => {
    const body = c.req.valid("json");
    const callerId = c.var.caller.userId;
    const { config, deps, log } = c.var;
    const { thread } = await openThread(deps.db, callerId, {
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
    return c.json(toThreadRead(await getThreadView(c.var.deps.db, thread.id, callerId)));
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
      await requireThreadParticipant(c.var.deps.db, thread_id, c.var.caller.userId);
      const page = await listDirectMessages(c.var.deps.db, thread_id, {
        beforeId: query.before_id,
        afterId: query.after_id,
        limit: query.limit ?? PAGE_SIZE_DEFAULT,
        offset: query.offset,
      });
      // client_id is null in listings (contract 2.1): it is an echo for the sender, not data.
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
      const body = c.req.valid("json");
      const userId = c.var.caller.userId;
      const { thread } = await requireThreadParticipant(c.var.deps.db, thread_id, userId, { live: true });
      const clientId = normaliseClientId(body.client_id);
      const result = await dmThread(c.env.DM_THREAD, thread_id).post({
        ...threadScope(thread),
        userId,
        content: body.content,
        clientId: clientId.ok ? clientId.clientId : null,
      });
      // The object decides (one budget over REST and the socket; a retried client_id costs nothing).
      if (result.kind === "rate_limited") {
        throw objectLimitRefusal(result, {
          rule: "dm-message",
          limit: c.var.config.rateLimits.dmMessagePer10Seconds,
          windowMs: POST_WINDOW_MS,
        });
      }
      if (result.kind === "gone") throw notFound("Thread not found");
      if (result.kind === "refused") throw new AppError(403, result.detail);
      return c.json(toDirectMessageRead(result.message, result.clientId));
    },
  )

  .patch(
    "/dm/threads/:thread_id/messages/:message_id",
    requireAuth,
    validate("param", directMessageParam),
    jsonBody(directMessageEdit),
    async (c) => {
      const { thread_id, message_id } = c.req.valid("param");
      const userId = c.var.caller.userId;
      // An edit says something new: not in a read-only thread. Deleting (below) stays allowed.
      const { thread } = await requireThreadParticipant(c.var.deps.db, thread_id, userId, { live: true });
      const outcome = await dmThread(c.env.DM_THREAD, thread_id).edit({
        ...threadScope(thread),
        messageId: message_id,
        userId,
        content: c.req.valid("json").content,
      });
      return c.json(toDirectMessageRead(unwrapChange(outcome)));
    },
  )

  .delete(
    "/dm/threads/:thread_id/messages/:message_id",
    requireAuth,
    validate("param", directMessageParam),
    async (c) => {
      const { thread_id, message_id } = c.req.valid("param");
      const userId = c.var.caller.userId;
      const { thread } = await requireThreadParticipant(c.var.deps.db, thread_id, userId);
      const outcome = await dmThread(c.env.DM_THREAD, thread_id).remove({
        ...threadScope(thread),
        messageId: message_id,
        userId,
      });
      unwrapChange(outcome);
      return c.body(null, 204);
    },
  )

  .get("/dm/threads/:thread_id/read-status", requireAuth, validate("param", threadParam), async (c) => {
    const { thread_id } = c.req.valid("param");
    const userId = c.var.caller.userId;
    const { thread } = await requireThreadParticipant(c.var.deps.db, thread_id, userId);
    return c.json(toReadStatus(await getReadStatus(c.var.deps.db, thread, userId)));
  })

  .post(
    "/dm/threads/:thread_id/read",
    requireAuth,
    validate("param", threadParam),
    jsonBody(threadReadUpdate),
    async (c) => {
      const { thread_id } = c.req.valid("param");
      const userId = c.var.caller.userId;
      const { thread } = await requireThreadParticipant(c.var.deps.db, thread_id, userId);
      const status = await dmThread(c.env.DM_THREAD, thread_id).markRead({
        ...threadScope(thread),
        userId,
        lastReadMessageId: c.req.valid("json").last_read_message_id ?? null,
      });
      return c.json(toReadStatus(status));
    },
  )

  .route("/", dmSocketRoutes)

  // ENV=test only: which instance of a thread's object answers, so the suite can tell that an idle
  // object was evicted and re-created with its sockets (test/dm/hibernation.test.ts).
  .get("/__test__/dm-threads/:thread_id", validate("param", threadParam), async (c) => {
    if (c.var.config?.env !== "test") throw notFound();
    return c.json(await dmThread(c.env.DM_THREAD, c.req.valid("param").thread_id).testProbe());
  });

/**
 * What the message routes of channels and threads accept, written once for both: the content
 * rule (services/message-rules.ts) as the 422 the original answered, cursors, page sizes, and the
 * answer to a post.
 */
import { z } from "zod";
import type { PostInput } from "../realtime/conversation-writer";
import type { PostOutcome } from "../realtime/write-ports";
import type { StoredMessage } from "../services/conversation-messages";
import {
  CLIENT_ID_MAX_CHARS,
  contentProblem,
  MESSAGE_MAX_CHARS,
  normaliseClientId,
  PAGE_SIZE_MAX,
} from "../services/message-rules";
import { refusalError } from "./refusals";
import { zId, zInt, zQueryBool } from "./validation";

/** 1..4000 code points, and not only white space (the original accepted even ""). */
export const zContent = () =>
  z.string().superRefine((value, ctx) => {
    const problem = contentProblem(value);
    if (problem === "empty") {
      ctx.addIssue({ code: "too_small", origin: "string", minimum: 1, inclusive: true, input: value });
    } else if (problem === "blank") {
      ctx.addIssue({ code: "custom", message: "content must not be blank", input: value });
    } else if (problem === "too_long") {
      ctx.addIssue({
        code: "too_big",
        origin: "string",
        maximum: MESSAGE_MAX_CHARS,
        inclusive: true,
        input: value,
      });
    }
  });

/** A message id cursor: 0 is allowed (`after_id=0` is "from the start"). */
export const zCursor = () => zId().pipe(z.number().min(0));

/** Clamped rather than refused, as the original's clients expect: below 1 gives 1, above 100 gives 100. */
export const zPageLimit = () => zInt().transform((n) => Math.min(PAGE_SIZE_MAX, Math.max(1, n)));

export const messageCreate = z.object({
  content: zContent(),
  client_id: z.string().max(CLIENT_ID_MAX_CHARS).nullish(),
  /** A reply: the thread's root, a message of the same conversation that is not itself a reply. */
  parent_id: zId().pipe(z.number().min(1)).nullish(),
});
/** History's paging, for channels and threads alike; `include_replies=false` lists thread roots only. */
export const historyQuery = z.object({
  limit: zPageLimit().optional(),
  before_id: zCursor().optional(),
  after_id: zCursor().optional(),
  include_replies: zQueryBool().optional(),
});

/** A thread's replies: keyset pages as history. */
export const repliesQuery = z.object({
  limit: zPageLimit().optional(),
  before_id: zCursor().optional(),
  after_id: zCursor().optional(),
});

export const messageEdit = z.object({ content: zContent() });

/**
 * What a REST post asks of its conversation's object, for channels and DM threads alike. The body
 * has passed validation (length, unstorable text), so normaliseClientId only turns "" into none.
 */
export function postInput(
  conversationId: number,
  userId: number,
  body: z.infer<typeof messageCreate>,
): PostInput {
  const clientId = normaliseClientId(body.client_id);
  return {
    conversationId,
    userId,
    content: body.content,
    clientId: clientId.ok ? clientId.clientId : null,
    parentId: body.parent_id ?? null,
  };
}

/** The stored (or replayed) message of a post, with the client_id to echo; else the refusal's HTTP error. */
export function postedMessage(outcome: PostOutcome<StoredMessage>): {
  message: StoredMessage;
  clientId: string | null;
} {
  if (outcome.kind === "refused") throw refusalError(outcome.refusal);
  return { message: outcome.message, clientId: outcome.clientId };
}

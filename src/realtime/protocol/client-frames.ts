/**
 * What a client may send on a channel or direct-message socket, and the one parser that turns a
 * frame into one of these or into the error event it is answered with. Pure: no runtime types,
 * so it is tested on its own (client-frames.test.ts) and its schemas describe the protocol too.
 *
 * Frames are JSON objects with their fields at the top level (`{"type":"message","content":"hi"}`):
 *   - `ping`: keep-alive; the runtime answers the exact text `{"type":"ping"}` itself (names.ts).
 *   - `message`: `content` (1..4000 code points, not blank), optional `client_id` (up to 128
 *     characters) that makes the send idempotent, optional `parent_id` (a thread root: a reply).
 *   - `typing`: optional `is_typing` (a real boolean, default true; the original read "false" as
 *     typing).
 *   - `read`: `last_read_message_id` (an integer, or a string of digits as the original took it):
 *     at least 0 on a channel, at least 1 on a thread (0 "reads nothing" there).
 * Anything else is answered with an `error` event and changes nothing; nothing a client sends can
 * throw out of a handler.
 */
import { z } from "zod";
import {
  CLIENT_ID_MAX_CHARS,
  contentProblem,
  describeContentProblem,
  normaliseClientId,
} from "../../services/message-rules";
import type { ConversationKind } from "../names";

/** The largest id PostgreSQL's `integer` holds. */
export const MAX_ROW_ID = 2_147_483_647;

export type ClientFrame =
  | { type: "ping" }
  | { type: "message"; content: string; clientId: string | null; parentId: number | null }
  | { type: "typing"; isTyping: boolean }
  | { type: "read"; lastReadMessageId: number };

/** The payload of the `error` event a refused frame gets (plus fields such as `field`, `client_id`). */
export interface FrameError {
  code: FrameErrorCode;
  detail: string;
  [extra: string]: unknown;
}

export type FrameErrorCode =
  | "invalid_frame"
  | "invalid_json"
  | "unknown_type"
  | "invalid_field"
  | "invalid_content";

export type ParsedFrame = { ok: true; frame: ClientFrame } | { ok: false; error: FrameError };

// -- The frames as schemas: the description of the protocol (docs, tests) -------------------

/** An id the original accepted as a number or a string of digits. */
const idLike = z.union([z.number().int(), z.string().regex(/^\s*\d+\s*$/)]);

export const clientFrameSchemas = {
  ping: z.object({ type: z.literal("ping") }),
  message: z.object({
    type: z.literal("message"),
    content: z.string().min(1).describe("1 to 4000 Unicode code points, not only white space"),
    client_id: z
      .string()
      .max(CLIENT_ID_MAX_CHARS)
      .nullish()
      .describe("the client's id for its optimistic copy: a repeat within a day returns the first message"),
    parent_id: z.number().int().positive().nullish().describe("the thread root this message replies to"),
  }),
  typing: z.object({ type: z.literal("typing"), is_typing: z.boolean().optional() }),
  read: z.object({
    type: z.literal("read"),
    last_read_message_id: idLike.describe("an integer (or a string of digits); at least 0, or 1 on a thread"),
  }),
} as const;

// -- The parser -----------------------------------------------------------------------------

const fail = (code: FrameErrorCode, detail: string, extra: Record<string, unknown> = {}): ParsedFrame => ({
  ok: false,
  error: { code, detail, ...extra },
});

/** Parses one frame of a `kind` socket (see the module comment). Never throws. */
export function parseClientFrame(raw: string | ArrayBuffer, kind: ConversationKind): ParsedFrame {
  if (typeof raw !== "string") return fail("invalid_frame", "Binary frames are not supported");
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return fail("invalid_json", "Frames must be JSON objects");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return fail("invalid_frame", "Frames must be JSON objects");
  }
  const fields = value as Record<string, unknown>;
  switch (fields.type) {
    case "ping":
      return { ok: true, frame: { type: "ping" } };
    case "message":
      return parseMessage(fields);
    case "typing":
      return parseTyping(fields);
    case "read":
      return parseRead(fields, kind === "dm" ? 1 : 0);
    default:
      return fail("unknown_type", "Unknown frame type", {
        frame_type: typeof fields.type === "string" ? fields.type.slice(0, 64) : null,
      });
  }
}

function parseMessage(fields: Record<string, unknown>): ParsedFrame {
  const clientId = normaliseClientId(fields.client_id);
  if (!clientId.ok) {
    return fail("invalid_field", `client_id must be a string of at most ${CLIENT_ID_MAX_CHARS} characters`, {
      field: "client_id",
    });
  }
  const problem = contentProblem(fields.content);
  if (problem) {
    return fail("invalid_content", describeContentProblem(problem), {
      field: "content",
      client_id: clientId.clientId,
    });
  }
  const parent = fields.parent_id;
  if (
    parent !== undefined &&
    parent !== null &&
    (typeof parent !== "number" || !Number.isSafeInteger(parent) || parent < 1 || parent > MAX_ROW_ID)
  ) {
    return fail("invalid_field", "parent_id must be a positive integer", {
      field: "parent_id",
      client_id: clientId.clientId,
    });
  }
  return {
    ok: true,
    frame: {
      type: "message",
      content: fields.content as string,
      clientId: clientId.clientId,
      parentId: typeof parent === "number" ? parent : null,
    },
  };
}

function parseTyping(fields: Record<string, unknown>): ParsedFrame {
  const isTyping = fields.is_typing === undefined ? true : fields.is_typing;
  if (typeof isTyping !== "boolean") {
    return fail("invalid_field", "is_typing must be a boolean", { field: "is_typing" });
  }
  return { ok: true, frame: { type: "typing", isTyping } };
}

function parseRead(fields: Record<string, unknown>, minimum: 0 | 1): ParsedFrame {
  const raw = fields.last_read_message_id;
  const id = typeof raw === "string" && /^\s*\d+\s*$/.test(raw) ? Number(raw) : raw;
  if (typeof id !== "number" || !Number.isSafeInteger(id) || id < minimum || id > MAX_ROW_ID) {
    const what = minimum === 0 ? "a non-negative" : "a positive";
    return fail("invalid_field", `last_read_message_id must be ${what} integer`, {
      field: "last_read_message_id",
    });
  }
  return { ok: true, frame: { type: "read", lastReadMessageId: id } };
}

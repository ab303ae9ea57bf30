/**
 * What a client may send on a channel or direct-message socket, as zod schemas, and the one parser
 * that turns a frame into one of these or into the error event it is answered with. The parser
 * validates with these very schemas, and the AsyncAPI document (/asyncapi.json,
 * src/openapi/asyncapi/) is generated from them, so the document and the server cannot disagree.
 * Pure: no runtime types, so it is tested on its own (client-frames.schemas.test.ts).
 *
 * Frames are JSON objects with their fields at the top level (`{"type":"message","content":"hi"}`):
 *   - `ping`: keep-alive; the runtime answers the exact text `{"type":"ping"}` itself (names.ts).
 *   - `message`: `content` (1..4000 code points, not blank), optional `client_id` (up to 128
 *     characters) that makes the send idempotent.
 *   - `typing`: optional `is_typing` (a real boolean, default true; the original read "false" as
 *     typing).
 *   - `read`: `last_read_message_id` (an integer, or a string of digits as the original took it):
 *     at least 0 on a channel, at least 1 on a thread (0 "reads nothing" there).
 * Other fields are ignored. Anything else is answered with an `error` event and changes nothing;
 * nothing a client sends can throw out of a handler.
 *
 * Each field's error message is the `detail` its error event carries; which field failed decides the
 * code (`invalid_content` for the content, `invalid_field` for the others). Fields are checked in
 * the order of their schema: a bad `client_id` is reported before a bad `content`.
 */
import { z } from "zod";
import {
  CLIENT_ID_MAX_CHARS,
  contentProblem,
  describeContentProblem,
  MESSAGE_MAX_CHARS,
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

export const FRAME_ERROR_CODES = [
  "invalid_frame",
  "invalid_json",
  "unknown_type",
  "invalid_field",
  "invalid_content",
] as const;

export type FrameErrorCode = (typeof FRAME_ERROR_CODES)[number];

/** The payload of the `error` event a refused frame gets. */
export interface FrameError {
  code: FrameErrorCode;
  detail: string;
  /** The field refused. */
  field?: string;
  /** A refused content's frame's client_id, so the client can mark that message. */
  client_id?: string | null;
  /** An unknown type, when it is a string. */
  frame_type?: string | null;
}

export type ParsedFrame = { ok: true; frame: ClientFrame } | { ok: false; error: FrameError };

// -- The frames as schemas ------------------------------------------------------------------

/**
 * Not blank, and text PostgreSQL can store (no NUL, no lone surrogate): for the document only,
 * where a JSON Schema validator (which matches patterns by code point) checks it as the
 * server's `contentProblem` does; the server itself runs `contentProblem`.
 */
const STORABLE_NOT_BLANK = "^(?=[\\s\\S]*\\S)[^\\u0000\\uD800-\\uDFFF]*$";
const STORABLE = "^[^\\u0000\\uD800-\\uDFFF]*$";

const content = z
  .string({ error: describeContentProblem("not_string") })
  .superRefine((value, ctx) => {
    const problem = contentProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: describeContentProblem(problem) });
  })
  .meta({
    minLength: 1,
    maxLength: MESSAGE_MAX_CHARS,
    pattern: STORABLE_NOT_BLANK,
    description: `1 to ${MESSAGE_MAX_CHARS} Unicode code points, not only white space, without NUL characters or lone surrogates`,
  });

const CLIENT_ID_PROBLEM = {
  error: `client_id must be a string of at most ${CLIENT_ID_MAX_CHARS} characters`,
};

const clientId = z
  .union(
    [z.string(CLIENT_ID_PROBLEM).max(CLIENT_ID_MAX_CHARS, CLIENT_ID_PROBLEM), z.null()],
    CLIENT_ID_PROBLEM,
  )
  .superRefine((value, ctx) => {
    if (!normaliseClientId(value).ok) ctx.addIssue({ code: "custom", message: CLIENT_ID_PROBLEM.error });
  })
  .optional()
  .meta({
    pattern: STORABLE,
    description:
      `The client's id for its optimistic copy, at most ${CLIENT_ID_MAX_CHARS} UTF-16 code units ` +
      "(the web app sends `client:` and a UUID). A repeat within a day stores nothing: the sending " +
      'socket gets the first message again. Null or "" mean none.',
  });

/**
 * A regular expression source matching the decimal numbers from `minimum` (0 or 1) to `max`, with
 * any leading zeros: what a string of digits must spell to be read as an id in range, stated so a
 * JSON Schema validator checks it too.
 */
export function decimalsUpTo(max: number, minimum: 0 | 1): string {
  const digits = String(max);
  const shorter = digits.length > 1 ? [`[1-9]\\d{0,${digits.length - 2}}`] : [];
  const sameLength: string[] = [];
  for (let i = 0; i < digits.length; i++) {
    const digit = Number(digits[i]);
    const lowest = i === 0 ? 1 : 0;
    if (digit > lowest) {
      const rest = digits.length - i - 1;
      sameLength.push(`${digits.slice(0, i)}[${lowest}-${digit - 1}]${rest > 0 ? `\\d{${rest}}` : ""}`);
    }
  }
  sameLength.push(digits);
  const zero = minimum === 0 ? ["0"] : [];
  return `0*(?:${[...zero, ...shorter, ...sameLength].join("|")})`;
}

/** `last_read_message_id`: an integer, or (as the original took it) a string of digits. */
function messageId(minimum: 0 | 1) {
  const error = `last_read_message_id must be ${minimum === 0 ? "a non-negative" : "a positive"} integer`;
  const inRange = z.number({ error }).int({ error }).min(minimum, { error }).max(MAX_ROW_ID, { error });
  const digits = new RegExp(`^\\s*${decimalsUpTo(MAX_ROW_ID, minimum)}\\s*$`);
  return z
    .union(
      [
        inRange,
        z
          .string()
          .regex(digits, { error })
          .transform(Number)
          .pipe(inRange)
          .meta({ description: "A string of digits is read as its number (the original's form)" }),
      ],
      { error },
    )
    .meta({ description: `The newest message read: an id, at least ${minimum}` });
}

const ping = z
  .object({ type: z.literal("ping") })
  .describe(
    'Keep-alive: send the exact text {"type":"ping"} every 10 s; the runtime answers `pong` without waking the conversation (other spellings are accepted and not answered)',
  );

const PARENT_PROBLEM = { error: "parent_id must be a positive integer" };

const parentId = z
  .number(PARENT_PROBLEM)
  .int(PARENT_PROBLEM)
  .min(1, PARENT_PROBLEM)
  .max(MAX_ROW_ID, PARENT_PROBLEM)
  .nullable()
  .optional()
  .meta({
    description: "A reply: the id of the thread's root, a message of this conversation that is not a reply",
  });

const message = z
  .object({ type: z.literal("message"), client_id: clientId, content, parent_id: parentId })
  .describe(
    "Post a message: it is stored, then broadcast as `message` to every socket here, the sender's included",
  );

const typing = z
  .object({
    type: z.literal("typing"),
    is_typing: z
      .boolean({ error: "is_typing must be a boolean" })
      .optional()
      .meta({ description: "Typing (true, the default) or stopped (false)" }),
  })
  .describe("Typing or stopped: broadcast as `typing`, throttled per user");

const read = (minimum: 0 | 1) =>
  z
    .object({ type: z.literal("read"), last_read_message_id: messageId(minimum) })
    .describe(
      "Move the read pointer forward (never back, never past the newest message); answered with `read`",
    );

/** Every frame a channel socket (`channel`) and a thread socket (`dm`) accepts, by type. */
export const clientFrameSchemas = {
  channel: { ping, message, typing, read: read(0) },
  dm: { ping, message, typing, read: read(1) },
} as const;

export type ClientFrameType = keyof (typeof clientFrameSchemas)["channel"];

/** The wire form of each frame (what a client sends), per type. */
export type ClientFrameInput<T extends ClientFrameType = ClientFrameType> = z.input<
  (typeof clientFrameSchemas)["channel"][T]
>;

// -- The parser -----------------------------------------------------------------------------

const fail = (
  code: FrameErrorCode,
  detail: string,
  extra: Omit<FrameError, "code" | "detail"> = {},
): ParsedFrame => ({
  ok: false,
  error: { code, detail, ...extra },
});

const isFrameType = (kind: ConversationKind, type: unknown): type is ClientFrameType =>
  typeof type === "string" && Object.hasOwn(clientFrameSchemas[kind], type);

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
  const type = (value as { type?: unknown }).type;
  if (!isFrameType(kind, type)) {
    return fail("unknown_type", "Unknown frame type", {
      frame_type: typeof type === "string" ? type.slice(0, 64) : null,
    });
  }
  const result = clientFrameSchemas[kind][type].safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = String(issue?.path[0] ?? "");
    const detail = issue?.message ?? "Invalid frame";
    if (field === "content") {
      const { client_id } = value as { client_id?: unknown };
      const normalised = normaliseClientId(client_id);
      return fail("invalid_content", detail, {
        field,
        client_id: normalised.ok ? normalised.clientId : null,
      });
    }
    if (field === "parent_id") {
      // The frame's client_id, so the client can mark the reply it could not send.
      const normalised = normaliseClientId((value as { client_id?: unknown }).client_id);
      return fail("invalid_field", detail, { field, client_id: normalised.ok ? normalised.clientId : null });
    }
    return fail("invalid_field", detail, { field });
  }
  return { ok: true, frame: toFrame(result.data) };
}

type ParsedData = z.output<(typeof clientFrameSchemas)["channel"][ClientFrameType]>;

function toFrame(data: ParsedData): ClientFrame {
  switch (data.type) {
    case "ping":
      return { type: "ping" };
    case "message":
      return {
        type: "message",
        content: data.content,
        clientId: data.client_id || null,
        parentId: data.parent_id ?? null,
      };
    case "typing":
      return { type: "typing", isTyping: data.is_typing ?? true };
    case "read":
      return { type: "read", lastReadMessageId: data.last_read_message_id };
  }
}

/**
 * The frame parser, which validates with the frames' zod schemas: every refusal keeps the code,
 * detail and extra fields the socket tests and clients rely on (test/messages/chat-socket.test.ts,
 * test/dm/socket.test.ts, test/fuzz/sockets.test.ts check them over real sockets), and accepted
 * frames come out normalised.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type ClientFrame,
  decimalsUpTo,
  type FrameError,
  MAX_ROW_ID,
  parseClientFrame,
} from "./client-frames";

const refused = (code: FrameError["code"], detail: string, extra: Partial<FrameError> = {}) => ({
  ok: false,
  error: { code, detail, ...extra },
});
const accepted = (frame: ClientFrame) => ({ ok: true, frame });

const CONTENT = { field: "content", client_id: null };

describe("parseClientFrame", () => {
  it.each([
    ["{not json", refused("invalid_json", "Frames must be JSON objects")],
    ["ping", refused("invalid_json", "Frames must be JSON objects")],
    ["[1,2]", refused("invalid_frame", "Frames must be JSON objects")],
    ["null", refused("invalid_frame", "Frames must be JSON objects")],
    ['"message"', refused("invalid_frame", "Frames must be JSON objects")],
    ['{"type":"launch"}', refused("unknown_type", "Unknown frame type", { frame_type: "launch" })],
    ['{"type":"constructor"}', refused("unknown_type", "Unknown frame type", { frame_type: "constructor" })],
    ['{"type":7}', refused("unknown_type", "Unknown frame type", { frame_type: null })],
    [
      JSON.stringify({ type: "x".repeat(100) }),
      refused("unknown_type", "Unknown frame type", { frame_type: "x".repeat(64) }),
    ],
    ['{"type":"ping","extra":1}', accepted({ type: "ping" })],
    ['{"type":"message"}', refused("invalid_content", "content must be a string", CONTENT)],
    ['{"type":"message","content":42}', refused("invalid_content", "content must be a string", CONTENT)],
    [
      '{"type":"message","content":""}',
      refused("invalid_content", "content must not be empty or blank", CONTENT),
    ],
    [
      '{"type":"message","content":" \\n ","client_id":"c1"}',
      refused("invalid_content", "content must not be empty or blank", { field: "content", client_id: "c1" }),
    ],
    [
      JSON.stringify({ type: "message", content: "x".repeat(4001) }),
      refused("invalid_content", "content must be at most 4000 characters", CONTENT),
    ],
    [
      JSON.stringify({ type: "message", content: "😀".repeat(4000) }),
      accepted({ type: "message", content: "😀".repeat(4000), clientId: null, parentId: null }),
    ],
    [
      '{"type":"message","content":"a\\u0000b"}',
      refused("invalid_content", "content must not contain NUL characters (U+0000)", CONTENT),
    ],
    [
      '{"type":"message","content":"a\\ud800"}',
      refused("invalid_content", "content must be valid Unicode (it contains a lone surrogate)", CONTENT),
    ],
    [
      '{"type":"message","content":"","client_id":5}',
      refused("invalid_field", "client_id must be a string of at most 128 characters", {
        field: "client_id",
      }),
    ],
    [
      JSON.stringify({ type: "message", content: "hi", client_id: "c".repeat(129) }),
      refused("invalid_field", "client_id must be a string of at most 128 characters", {
        field: "client_id",
      }),
    ],
    [
      '{"type":"message","content":"hi","client_id":"a\\u0000"}',
      refused("invalid_field", "client_id must be a string of at most 128 characters", {
        field: "client_id",
      }),
    ],
    [
      '{"type":"message","content":"hi","client_id":""}',
      accepted({ type: "message", content: "hi", clientId: null, parentId: null }),
    ],
    [
      '{"type":"message","content":"hi","client_id":null}',
      accepted({ type: "message", content: "hi", clientId: null, parentId: null }),
    ],
    [
      '{"type":"message","content":"hi","client_id":"c1"}',
      accepted({ type: "message", content: "hi", clientId: "c1", parentId: null }),
    ],
    ['{"type":"typing"}', accepted({ type: "typing", isTyping: true })],
    ['{"type":"typing","is_typing":false}', accepted({ type: "typing", isTyping: false })],
    [
      '{"type":"typing","is_typing":"false"}',
      refused("invalid_field", "is_typing must be a boolean", { field: "is_typing" }),
    ],
    [
      '{"type":"typing","is_typing":null}',
      refused("invalid_field", "is_typing must be a boolean", { field: "is_typing" }),
    ],
    ['{"type":"read","last_read_message_id":0}', accepted({ type: "read", lastReadMessageId: 0 })],
    ['{"type":"read","last_read_message_id":" 12 "}', accepted({ type: "read", lastReadMessageId: 12 })],
    [
      '{"type":"read","last_read_message_id":2147483647}',
      accepted({ type: "read", lastReadMessageId: 2147483647 }),
    ],
  ])("a channel socket: %s", (text, expected) => {
    expect(parseClientFrame(text, "channel")).toEqual(expected);
  });

  const channelRead = (detail: string) => refused("invalid_field", detail, { field: "last_read_message_id" });
  it.each([
    ['{"type":"read"}'],
    ['{"type":"read","last_read_message_id":-1}'],
    ['{"type":"read","last_read_message_id":1.5}'],
    ['{"type":"read","last_read_message_id":"x"}'],
    ['{"type":"read","last_read_message_id":"-3"}'],
    ['{"type":"read","last_read_message_id":2147483648}'],
    ['{"type":"read","last_read_message_id":"99999999999"}'],
    ['{"type":"read","last_read_message_id":true}'],
  ])("a channel socket refuses the read pointer in %s", (text) => {
    expect(parseClientFrame(text, "channel")).toEqual(
      channelRead("last_read_message_id must be a non-negative integer"),
    );
  });

  it("a thread's read pointer starts at 1", () => {
    expect(parseClientFrame('{"type":"read","last_read_message_id":0}', "dm")).toEqual(
      channelRead("last_read_message_id must be a positive integer"),
    );
    expect(parseClientFrame('{"type":"read","last_read_message_id":"1"}', "dm")).toEqual(
      accepted({ type: "read", lastReadMessageId: 1 }),
    );
  });

  it("refuses binary frames", () => {
    expect(parseClientFrame(new ArrayBuffer(3), "dm")).toEqual(
      refused("invalid_frame", "Binary frames are not supported"),
    );
  });
});

describe("decimalsUpTo", () => {
  it.each([0, 1] as const)(
    "spells exactly the numbers from %i to the largest id, leading zeros allowed",
    (minimum) => {
      const pattern = new RegExp(`^${decimalsUpTo(MAX_ROW_ID, minimum)}$`);
      const inRange = (text: string) => Number(text) >= minimum && Number(text) <= MAX_ROW_ID;
      const near = [0, 1, 9, 10, 99, 100, 999_999_999, 1_000_000_000, 2_147_483_639, 2_147_483_646];
      for (const n of [
        ...near,
        MAX_ROW_ID,
        MAX_ROW_ID + 1,
        2_147_483_650,
        2_147_483_700,
        3_000_000_000,
        9_999_999_999,
      ]) {
        for (const text of [String(n), `00${n}`]) expect(pattern.test(text), text).toBe(inRange(text));
      }
      fc.assert(
        fc.property(fc.stringMatching(/^0{0,3}\d{1,11}$/), (text) => {
          expect(pattern.test(text), text).toBe(inRange(text));
        }),
        { numRuns: 5000 },
      );
    },
  );
});

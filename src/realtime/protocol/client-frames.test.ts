import { describe, expect, it } from "vitest";
import { CLIENT_ID_MAX_CHARS, MESSAGE_MAX_CHARS } from "../../services/message-rules";
import { MAX_ROW_ID, parseClientFrame } from "./client-frames";

const parse = (frame: unknown, kind: "channel" | "dm" = "channel") =>
  parseClientFrame(typeof frame === "string" ? frame : JSON.stringify(frame), kind);

describe("frames that are not JSON objects", () => {
  it("refuses binary frames", () => {
    expect(parseClientFrame(new Uint8Array([123, 125]).buffer, "channel")).toEqual({
      ok: false,
      error: { code: "invalid_frame", detail: "Binary frames are not supported" },
    });
  });

  it("refuses text that is not JSON as invalid_json, the bare word ping included", () => {
    for (const text of ["{not json", "ping", "", '{"type":"message"']) {
      expect(parse(text), text).toEqual({
        ok: false,
        error: { code: "invalid_json", detail: "Frames must be JSON objects" },
      });
    }
  });

  it("refuses JSON that is not an object as invalid_frame", () => {
    for (const text of ["null", "42", '"message"', "[1,2,3]", "[]", "true"]) {
      expect(parse(text), text).toEqual({
        ok: false,
        error: { code: "invalid_frame", detail: "Frames must be JSON objects" },
      });
    }
  });
});

describe("the frame type", () => {
  it("names an unknown type, cut to 64 characters, and null when it is not a string", () => {
    expect(parse({ type: "launch" })).toEqual({
      ok: false,
      error: { code: "unknown_type", detail: "Unknown frame type", frame_type: "launch" },
    });
    const long = parse({ type: "x".repeat(100) });
    expect(long.ok || long.error.frame_type).toBe("x".repeat(64));
    for (const fields of [{ no: "type" }, { type: 7 }, { type: null }, { type: ["message"] }]) {
      expect(parse(fields), JSON.stringify(fields)).toEqual({
        ok: false,
        error: { code: "unknown_type", detail: "Unknown frame type", frame_type: null },
      });
    }
  });

  it("takes the type as it is spelled: no case folding", () => {
    expect(parse({ type: "Message", content: "hi" })).toMatchObject({
      ok: false,
      error: { code: "unknown_type" },
    });
  });

  it("accepts a ping with any other fields, on both kinds", () => {
    for (const kind of ["channel", "dm"] as const) {
      expect(parse({ type: "ping" }, kind)).toEqual({ ok: true, frame: { type: "ping" } });
      expect(parse({ type: "ping", at: 1, extra: true }, kind)).toEqual({
        ok: true,
        frame: { type: "ping" },
      });
    }
  });
});

describe("message frames", () => {
  it("keeps the content verbatim and the client_id, which is optional", () => {
    expect(parse({ type: "message", content: "  hi\n there ", client_id: "client:1" })).toEqual({
      ok: true,
      frame: { type: "message", content: "  hi\n there ", clientId: "client:1", parentId: null },
    });
    expect(parse({ type: "message", content: "hi" })).toEqual({
      ok: true,
      frame: { type: "message", content: "hi", clientId: null, parentId: null },
    });
  });

  it("reads parent_id (a thread's root) as a positive integer, and refuses anything else", () => {
    expect(parse({ type: "message", content: "re", parent_id: 7 })).toMatchObject({
      ok: true,
      frame: { parentId: 7 },
    });
    expect(parse({ type: "message", content: "re", parent_id: null })).toMatchObject({
      ok: true,
      frame: { parentId: null },
    });
    for (const parent of [0, -1, 1.5, "7", true, 2 ** 31, {}]) {
      expect(
        parse({ type: "message", content: "re", parent_id: parent, client_id: "c" }),
        String(parent),
      ).toEqual({
        ok: false,
        error: {
          code: "invalid_field",
          detail: "parent_id must be a positive integer",
          field: "parent_id",
          client_id: "c",
        },
      });
    }
  });

  it("reads an empty or null client_id as none", () => {
    for (const clientId of ["", null]) {
      expect(parse({ type: "message", content: "hi", client_id: clientId })).toMatchObject({
        ok: true,
        frame: { clientId: null },
      });
    }
  });

  it("accepts a client_id of exactly the maximum length and refuses one longer or not a string", () => {
    const longest = "c".repeat(CLIENT_ID_MAX_CHARS);
    expect(parse({ type: "message", content: "hi", client_id: longest })).toMatchObject({
      ok: true,
      frame: { clientId: longest },
    });
    const refused = {
      ok: false,
      error: {
        code: "invalid_field",
        detail: `client_id must be a string of at most ${CLIENT_ID_MAX_CHARS} characters`,
        field: "client_id",
      },
    };
    for (const clientId of [`${longest}c`, 5, true, { id: "x" }, ["x"], "a\u0000b", "\ud800"]) {
      expect(parse({ type: "message", content: "hi", client_id: clientId }), String(clientId)).toEqual(
        refused,
      );
    }
  });

  it("checks the client_id before the content, so a bad content's error can echo a good client_id", () => {
    expect(parse({ type: "message", client_id: 5 })).toMatchObject({
      ok: false,
      error: { code: "invalid_field" },
    });
    expect(parse({ type: "message", content: "", client_id: "client:empty" })).toEqual({
      ok: false,
      error: {
        code: "invalid_content",
        detail: "content must not be empty or blank",
        field: "content",
        client_id: "client:empty",
      },
    });
    expect(parse({ type: "message", content: "" })).toMatchObject({ error: { client_id: null } });
  });

  it("refuses missing, non-string, empty, blank, too long and unstorable content, saying why", () => {
    const cases: [unknown, string][] = [
      [undefined, "content must be a string"],
      [42, "content must be a string"],
      [{ text: "hi" }, "content must be a string"],
      [null, "content must be a string"],
      ["", "content must not be empty or blank"],
      [" \n\t ", "content must not be empty or blank"],
      ["x".repeat(MESSAGE_MAX_CHARS + 1), `content must be at most ${MESSAGE_MAX_CHARS} characters`],
      ["a\u0000b", "content must not contain NUL characters (U+0000)"],
      ["a\ud800b", "content must be valid Unicode (it contains a lone surrogate)"],
    ];
    for (const [content, detail] of cases) {
      const result = parse({ type: "message", content });
      expect(result, JSON.stringify(content)?.slice(0, 20)).toMatchObject({
        ok: false,
        error: { code: "invalid_content", field: "content" },
      });
      expect(result.ok || result.error.detail).toBe(detail);
    }
  });

  it("counts content in code points: the maximum of emoji is accepted, one more is not", () => {
    const emoji = "😀".repeat(MESSAGE_MAX_CHARS);
    expect(parse({ type: "message", content: emoji })).toMatchObject({ ok: true, frame: { content: emoji } });
    expect(parse({ type: "message", content: `${emoji}a` })).toMatchObject({
      ok: false,
      error: { code: "invalid_content" },
    });
  });
});

describe("typing frames", () => {
  it("reads a missing is_typing as typing, and takes a real boolean", () => {
    expect(parse({ type: "typing" })).toEqual({ ok: true, frame: { type: "typing", isTyping: true } });
    expect(parse({ type: "typing", is_typing: true })).toEqual({
      ok: true,
      frame: { type: "typing", isTyping: true },
    });
    expect(parse({ type: "typing", is_typing: false })).toEqual({
      ok: true,
      frame: { type: "typing", isTyping: false },
    });
  });

  it('refuses anything else, the string "false" included (the original read it as typing)', () => {
    for (const value of ["false", "true", 0, 1, null, {}]) {
      expect(parse({ type: "typing", is_typing: value }), JSON.stringify(value)).toEqual({
        ok: false,
        error: { code: "invalid_field", detail: "is_typing must be a boolean", field: "is_typing" },
      });
    }
  });
});

describe("read frames", () => {
  const read = (id: unknown, kind: "channel" | "dm") =>
    parse({ type: "read", last_read_message_id: id }, kind);
  const refusal = (kind: "channel" | "dm") => ({
    ok: false,
    error: {
      code: "invalid_field",
      detail: `last_read_message_id must be ${kind === "dm" ? "a positive" : "a non-negative"} integer`,
      field: "last_read_message_id",
    },
  });

  it("takes an integer or a string of digits, white space around it allowed", () => {
    for (const kind of ["channel", "dm"] as const) {
      for (const [value, id] of [
        [7, 7],
        ["7", 7],
        [" 42 ", 42],
        [MAX_ROW_ID, MAX_ROW_ID],
        [String(MAX_ROW_ID), MAX_ROW_ID],
      ] as const) {
        expect(read(value, kind), `${kind} ${JSON.stringify(value)}`).toEqual({
          ok: true,
          frame: { type: "read", lastReadMessageId: id },
        });
      }
    }
  });

  it("lets a channel read nothing (0) but not a thread, which starts at 1", () => {
    expect(read(0, "channel")).toEqual({ ok: true, frame: { type: "read", lastReadMessageId: 0 } });
    expect(read("0", "channel")).toEqual({ ok: true, frame: { type: "read", lastReadMessageId: 0 } });
    expect(read(0, "dm")).toEqual(refusal("dm"));
    expect(read("0", "dm")).toEqual(refusal("dm"));
    expect(read(1, "dm")).toEqual({ ok: true, frame: { type: "read", lastReadMessageId: 1 } });
  });

  it("refuses negatives, fractions, ids beyond PostgreSQL's integer, and anything not a number", () => {
    const bad = [
      -1,
      "-1",
      1.5,
      "1.5",
      "1e3",
      "x",
      "",
      "0x10",
      MAX_ROW_ID + 1,
      String(MAX_ROW_ID + 1),
      2 ** 53,
      null,
    ];
    for (const kind of ["channel", "dm"] as const) {
      for (const value of [...bad, true, [1], { id: 1 }]) {
        expect(read(value, kind), `${kind} ${JSON.stringify(value)}`).toEqual(refusal(kind));
      }
      expect(parse({ type: "read" }, kind)).toEqual(refusal(kind));
    }
  });
});

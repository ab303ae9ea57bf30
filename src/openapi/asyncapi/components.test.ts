/**
 * The document's frame schemas and the server's parser agree: on random frames, a JSON Schema
 * validator (ajv, which reads `maxLength` and `pattern` by code point, as JSON Schema says) accepts
 * a frame with one of the socket's documented frame schemas exactly when the parser accepts it.
 * One rule JSON Schema cannot state is left out of the frames generated here and stated in the
 * schema's description instead: `client_id` is counted in UTF-16 code units, so the generator's
 * client ids stay in the Basic Multilingual Plane.
 */
import { Ajv } from "ajv";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseClientFrame } from "../../realtime/protocol/client-frames";
import { buildAsyncApiDocument } from "./document";

const doc = buildAsyncApiDocument(
  {
    framesPerSecond: 10,
    maxSocketsPerUser: 16,
    connectsPerMinute: 60,
    channelMessagesPer10Seconds: 20,
    dmMessagesPer10Seconds: 20,
  },
  { host: "localhost", protocol: "ws" },
);

const ajv = new Ajv({ strict: false });
ajv.addSchema({ components: doc.components }, "doc");

/** Whether any frame schema of the socket accepts the value, as a client reading the document would check. */
function documentAccepts(socket: "chat" | "dm", value: unknown): boolean {
  const operation = doc.operations[`${socket}.receiveFrames` as keyof typeof doc.operations] as {
    messages: { $ref: string }[];
  };
  return operation.messages.some(({ $ref }) => {
    const name = $ref.split("/").pop() as string;
    const validate = ajv.getSchema(`doc#/components/schemas/${name}`);
    if (!validate) throw new Error(`no schema ${name}`);
    return validate(value) as boolean;
  });
}

const text = fc.oneof(
  fc.string(),
  fc.string({ unit: "grapheme" }),
  fc.string({ unit: "binary" }),
  fc.constantFrom("", " ", "\n\t", "\u00a0", "\ufeff", "a\u0000", "\ud800", "x\udc00y", "😀"),
  // Around the limit, counted in code points (an emoji is one).
  fc.string({ unit: fc.constantFrom("a", " ", "😀"), minLength: 3998, maxLength: 4002 }),
);
const bmpText = fc.oneof(
  fc.string({ maxLength: 140 }),
  fc.constantFrom("", "x".repeat(128), "x".repeat(129), "a\u0000", "\ud800"),
);
const id = fc.oneof(
  fc.integer({ min: -3, max: 3 }),
  fc.constantFrom(2147483647, 2147483648, 1.5, -0.5, 1e300),
  fc.stringMatching(/^\s{0,2}0{0,2}\d{1,11}\s{0,2}$/),
  fc.constantFrom("0", "00", "2147483647", "2147483648", " 0012 "),
  fc.constantFrom("x", "", " ", "1e3", "-1", "0x1"),
);
const anything = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.array(fc.integer(), { maxLength: 2 }),
);
const frame = fc.record(
  {
    type: fc.oneof(
      fc.constantFrom("ping", "message", "typing", "read", "pong", "error"),
      fc.string(),
      anything,
    ),
    content: fc.oneof(text, anything),
    client_id: fc.oneof(bmpText, anything),
    is_typing: fc.oneof(fc.boolean(), anything, fc.constant("true")),
    last_read_message_id: fc.oneof(id, anything),
    extra: anything,
  },
  { requiredKeys: ["type"] },
);

describe("the document's frame schemas", () => {
  it.each([
    ["chat", "channel"],
    ["dm", "dm"],
  ] as const)("agree with the parser on %s frames", (socket, kind) => {
    fc.assert(
      fc.property(frame, (value) => {
        const parsed = parseClientFrame(JSON.stringify(value), kind);
        expect(documentAccepts(socket, value), JSON.stringify(parsed)).toBe(parsed.ok);
      }),
      { numRuns: 3000 },
    );
  });

  it("accept the frames the README shows and refuse the newcomer's nested one", () => {
    expect(documentAccepts("chat", { type: "message", content: "hi", client_id: "client:1" })).toBe(true);
    expect(documentAccepts("chat", { type: "ping" })).toBe(true);
    expect(documentAccepts("chat", { type: "message", payload: { content: "hi" } })).toBe(false);
  });
});

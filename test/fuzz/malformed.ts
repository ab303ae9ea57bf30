/**
 * Malformed values for the fuzz tests (fast-check arbitraries): wrong types, NUL and other control
 * characters, lone surrogates, huge and overlong numbers, overlong strings, deep nesting, invalid
 * JSON and bytes that are not UTF-8; and how to write them into URLs and JSON bodies.
 *
 * None of them can pass for a real id: every string holds at least one character that is neither
 * a digit nor a blank nor a sign, and numbers are out of range, negative, fractional or zero, so a
 * fuzzed path or field never names (and deletes, or changes) the fixtures the other cases need.
 */
import fc from "fast-check";

/** A JSON fragment written verbatim into a body: numbers JSON.stringify cannot write, deep nesting. */
export class RawJson {
  constructor(readonly text: string) {}
}

const MARKER = `__raw_${Math.random().toString(36).slice(2)}_`;

/** JSON text of a value that may hold RawJson fragments anywhere, itself included. */
export function toJsonText(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_key, item: unknown) =>
    item instanceof RawJson ? `${MARKER}${raws.push(item.text) - 1}` : item,
  );
  if (text === undefined) return "";
  return text.replace(new RegExp(`"${MARKER}(\\d+)"`, "g"), (_match, index) => raws[Number(index)] ?? "");
}

/**
 * A string percent-encoded for a URL. Unlike encodeURIComponent it also writes lone surrogates,
 * in the bytes UTF-8 would give them if it could (a server must cope with those too).
 */
export function encodeUrlPart(text: string): string {
  let out = "";
  for (const char of text) {
    if (/^[A-Za-z0-9_.~-]$/.test(char)) {
      out += char;
      continue;
    }
    const code = char.codePointAt(0) ?? 0;
    const bytes =
      code >= 0xd800 && code <= 0xdfff
        ? [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)]
        : [...Buffer.from(char, "utf8")];
    out += bytes.map((b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`).join("");
  }
  return out;
}

/** Characters that are none of a digit, a blank or a sign: one of them is in every fuzzed string. */
const oddCharacter = fc.constantFrom(
  // What PostgreSQL cannot store comes up most (a constant listed n times is drawn n times as often).
  "\u0000",
  "\u0000",
  "\u0000",
  "\ud800",
  "\udc00",
  "\u0001",
  "\u0008",
  "\u001b",
  "\u001f",
  "\u007f",
  "\u0085",
  "\u2028",
  "\u2029",
  "\ufeff",
  "\ufffe",
  "\uffff",
  "\ud800",
  "\udbff",
  "\udc00",
  "\udfff",
  "%00",
  "%",
  "%ff",
  "\\",
  "\\u0000",
  '"',
  "'",
  "<",
  "&",
  "#",
  "?",
  "/",
  "..",
  "é",
  "😀",
  "x",
);
/** Anything else: whole code points, blanks, digits and signs included. */
const anyCharacter = fc.oneof(
  oddCharacter,
  fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
  fc.constantFrom(" ", "\t", "\r\n", "0", "9", "-", "+", "."),
);

export const oddString: fc.Arbitrary<string> = fc
  .tuple(fc.array(anyCharacter, { maxLength: 24 }), oddCharacter, fc.array(anyCharacter, { maxLength: 24 }))
  .map(([before, odd, after]) => [...before, odd, ...after].join(""));

/** Longer than any field allows; the longest beyond the 256 KiB body limit. */
export const overlongString = (maxLength: number) =>
  fc
    .tuple(fc.constantFrom(256, 4_097, 65_537, 300_000), oddString)
    .filter(([length]) => length <= maxLength)
    .map(([length, text]) => `${text}${"y".repeat(length)}`);

/** Numbers out of every range we accept, and numbers JSON.parse cannot hold exactly. */
export const hugeNumber: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(2 ** 31, 2 ** 53 + 2, -(2 ** 31) - 1, Number.MAX_VALUE, -1, 0, 0.5, 1e-300, -0.000001),
  fc.bigInt({ min: 10n ** 19n, max: 10n ** 400n }).map((n) => new RawJson(String(n))),
  fc.constantFrom(
    new RawJson("1e400"),
    new RawJson("-1e400"),
    new RawJson(`1${"0".repeat(400)}`),
    new RawJson("1.00000000000000000000000000001"),
    new RawJson("-0"),
    new RawJson("4e-400"),
  ),
);

/** Numbers as a path or query string carries them: never a plain positive id. */
export const hugeNumberText = fc.oneof(
  fc.constantFrom(
    "2147483648",
    "9007199254740993",
    "-1",
    "-0",
    "1.5",
    "1e3",
    "0x10",
    "NaN",
    "Infinity",
    "1_000",
  ),
  fc.bigInt({ min: 10n ** 10n, max: 10n ** 400n }).map(String),
);

/** Arrays or objects nested far deeper than any body we accept (some beyond the body limit). */
export const deepNesting = fc
  .tuple(fc.integer({ min: 20, max: 150_000 }), fc.boolean())
  .map(([depth, arrays]) =>
    arrays
      ? new RawJson(`${"[".repeat(depth)}${"]".repeat(depth)}`)
      : new RawJson(`${'{"a":'.repeat(Math.ceil(depth / 5))}1${"}".repeat(Math.ceil(depth / 5))}`),
  );

export const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -1000, max: 0 }),
  fc.double({ noDefaultInfinity: false }),
  fc.constant([]),
  fc.constant({}),
  fc.array(oddString, { maxLength: 3 }),
  fc.dictionary(oddString, oddString, { maxKeys: 3 }),
);

/** Any malformed JSON value (for a field, a frame's field, or a whole body). */
export const malformedValue = (maxStringLength = 300_000): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 3, arbitrary: oddString },
    { weight: 2, arbitrary: wrongType },
    { weight: 2, arbitrary: hugeNumber },
    { weight: 2, arbitrary: overlongString(maxStringLength) },
    { weight: 1, arbitrary: deepNesting },
  );

/** Malformed text for a path segment or a query value (URLs stay below the runtime's 64 KiB). */
export const malformedText: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: oddString },
  { weight: 2, arbitrary: hugeNumberText },
  { weight: 1, arbitrary: overlongString(4_097) },
);

/** Bodies that are not JSON at all. */
export const invalidJsonText: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "{",
    '{"a":',
    "[1,]",
    '{"a":1}}',
    "'x'",
    "\ufeff{}",
    "{\u0000}",
    "nul\u0000",
    "{}{}",
    "NaN",
    "--",
  ),
  oddString,
);

/** Bytes that are not UTF-8, alone or inside otherwise valid JSON. */
export const notUtf8: fc.Arbitrary<Uint8Array> = fc
  .tuple(
    fc.constantFrom([0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe9], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80]),
    fc.boolean(),
  )
  .map(([bad, inJson]) =>
    inJson
      ? Uint8Array.from([...Buffer.from('{"content":"x'), ...bad, ...Buffer.from('"}')])
      : Uint8Array.from(bad),
  );

/** Content types a JSON route does not take (JSON under other names, `+json`, is a valid request). */
export const foreignContentType = fc.constantFrom(
  "text/plain",
  "text/plain; charset=utf-8",
  "application/xml",
  "application/octet-stream",
  "multipart/form-data",
  "multipart/form-data; boundary=fuzz",
  "application/x-www-form-urlencoded",
  "image/png",
  "x",
  ";",
);

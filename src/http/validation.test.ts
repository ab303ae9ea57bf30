/**
 * toValidationIssues: zod's issues in the vocabulary of the original's 422 bodies (Pydantic v1),
 * which the web app reads (`loc`, `msg`, `type`, `ctx`).
 */
import { describe, expect, it } from "vitest";
import { type ZodType, z } from "zod";
import { toValidationIssues } from "./validation";

function issuesOf(schema: ZodType, input: unknown, location: "body" | "query" | "path" | "header" = "body") {
  const result = schema.safeParse(input);
  if (result.success) throw new Error("the input was accepted");
  return toValidationIssues(result.error, location, input);
}

describe("missing fields", () => {
  it("are 'field required', whatever type or value was expected", () => {
    const schema = z.object({ name: z.string(), role: z.enum(["admin", "member"]), kind: z.literal("x") });
    expect(issuesOf(schema, {})).toEqual([
      { loc: ["body", "name"], msg: "field required", type: "value_error.missing" },
      { loc: ["body", "role"], msg: "field required", type: "value_error.missing" },
      { loc: ["body", "kind"], msg: "field required", type: "value_error.missing" },
    ]);
  });

  it("count a field present as null as present, of the wrong type", () => {
    expect(issuesOf(z.object({ name: z.string() }), { name: null })).toEqual([
      { loc: ["body", "name"], msg: "str type expected", type: "type_error.str" },
    ]);
  });
});

describe("wrong types", () => {
  it("use Pydantic's words for integers, strings, booleans, objects and lists", () => {
    const schema = z.object({
      n: z.number(),
      i: z.int(),
      s: z.string(),
      b: z.boolean(),
      o: z.object({}),
      a: z.array(z.string()),
    });
    const input = { n: "x", i: "x", s: 1, b: "yes", o: [], a: {} };
    expect(issuesOf(schema, input)).toEqual([
      { loc: ["body", "n"], msg: "value is not a valid integer", type: "type_error.integer" },
      { loc: ["body", "i"], msg: "value is not a valid integer", type: "type_error.integer" },
      { loc: ["body", "s"], msg: "str type expected", type: "type_error.str" },
      { loc: ["body", "b"], msg: "value could not be parsed to a boolean", type: "type_error.bool" },
      { loc: ["body", "o"], msg: "value is not a valid dict", type: "type_error.dict" },
      { loc: ["body", "a"], msg: "value is not a valid list", type: "type_error.list" },
    ]);
  });

  it("fall back on zod's message and the expected type's name for other types", () => {
    const [issue] = issuesOf(z.object({ d: z.date() }), { d: "tomorrow" });
    expect(issue).toMatchObject({ loc: ["body", "d"], type: "type_error.date" });
    expect(issue?.msg).toEqual(expect.any(String));
    expect(issue?.msg).not.toBe("");
  });

  it("report the whole body as not a dict at loc [body]", () => {
    expect(issuesOf(z.object({ a: z.string() }), [])).toEqual([
      { loc: ["body"], msg: "value is not a valid dict", type: "type_error.dict" },
    ]);
  });
});

describe("bounds", () => {
  it("say 'characters' for strings, with the limit in ctx", () => {
    const schema = z.object({ s: z.string().min(3).max(5) });
    expect(issuesOf(schema, { s: "ab" })).toEqual([
      {
        loc: ["body", "s"],
        msg: "ensure this value has at least 3 characters",
        type: "value_error.any_str.min_length",
        ctx: { limit_value: 3 },
      },
    ]);
    expect(issuesOf(schema, { s: "abcdef" })).toEqual([
      {
        loc: ["body", "s"],
        msg: "ensure this value has at most 5 characters",
        type: "value_error.any_str.max_length",
        ctx: { limit_value: 5 },
      },
    ]);
  });

  it("say 'greater than or equal' and 'less than or equal' for numbers", () => {
    const schema = z.object({ n: z.number().min(1).max(100) });
    expect(issuesOf(schema, { n: 0 }, "query")).toEqual([
      {
        loc: ["query", "n"],
        msg: "ensure this value is greater than or equal to 1",
        type: "value_error.number.not_ge",
        ctx: { limit_value: 1 },
      },
    ]);
    expect(issuesOf(schema, { n: 101 }, "query")).toEqual([
      {
        loc: ["query", "n"],
        msg: "ensure this value is less than or equal to 100",
        type: "value_error.number.not_le",
        ctx: { limit_value: 100 },
      },
    ]);
  });
});

describe("formats and permitted values", () => {
  it("names a bad e-mail address as Pydantic does", () => {
    expect(issuesOf(z.object({ email: z.email() }), { email: "nope" })).toEqual([
      { loc: ["body", "email"], msg: "value is not a valid email address", type: "value_error.email" },
    ]);
  });

  it("shows a regex as the bare pattern, without slashes, flags or the leading anchor", () => {
    const schema = z.object({ slug: z.string().regex(/^[a-z]+$/i) });
    expect(issuesOf(schema, { slug: "A1" })).toEqual([
      {
        loc: ["body", "slug"],
        msg: 'string does not match regex "[a-z]+$"',
        type: "value_error.str.regex",
        ctx: { pattern: "[a-z]+$" },
      },
    ]);
  });

  it("types another format after its name", () => {
    const [issue] = issuesOf(z.object({ id: z.uuid() }), { id: "x" });
    expect(issue).toMatchObject({ loc: ["body", "id"], type: "value_error.uuid" });
  });

  it("lists the permitted values of an enum or literal, as JSON", () => {
    expect(issuesOf(z.object({ role: z.enum(["admin", "member"]) }), { role: "owner" })).toEqual([
      {
        loc: ["body", "role"],
        msg: 'unexpected value; permitted: "admin", "member"',
        type: "value_error.const",
        ctx: { permitted: ["admin", "member"] },
      },
    ]);
    expect(issuesOf(z.object({ v: z.literal(2) }), { v: 3 })).toMatchObject([
      { msg: "unexpected value; permitted: 2", ctx: { permitted: [2] } },
    ]);
  });
});

describe("locations", () => {
  it("start with the location and keep array indexes as numbers", () => {
    const schema = z.object({ items: z.array(z.object({ id: z.number() })) });
    expect(issuesOf(schema, { items: [{ id: 1 }, { id: "x" }] }, "body")).toEqual([
      { loc: ["body", "items", 1, "id"], msg: "value is not a valid integer", type: "type_error.integer" },
    ]);
    expect(issuesOf(z.object({ "X-Token": z.string() }), { "X-Token": 5 }, "header")[0]?.loc).toEqual([
      "header",
      "X-Token",
    ]);
  });

  it("put a rule of the whole object on __root__, and a field's rule on the field", () => {
    const whole = z
      .object({ a: z.number().optional(), b: z.number().optional() })
      .refine((v) => v.a !== undefined || v.b !== undefined, { message: "a or b is required" });
    expect(issuesOf(whole, {})).toEqual([
      { loc: ["body", "__root__"], msg: "a or b is required", type: "value_error" },
    ]);
    const field = z.object({
      content: z.string().refine((s) => s.trim() !== "", "content must not be blank"),
    });
    expect(issuesOf(field, { content: "  " })).toEqual([
      { loc: ["body", "content"], msg: "content must not be blank", type: "value_error" },
    ]);
  });

  it("report every issue, in zod's order", () => {
    const schema = z.object({ a: z.string(), b: z.number() });
    expect(issuesOf(schema, { a: 1, b: "x" }).map((issue) => issue.loc)).toEqual([
      ["body", "a"],
      ["body", "b"],
    ]);
  });
});

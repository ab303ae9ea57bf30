/**
 * The operations of the served OpenAPI document, each with a valid baseline request (fixture ids in
 * its path, its required query parameters, a body built from its schema) and the fuzz cases that
 * break one input of it at a time; and sending a case to the Worker.
 */
import { randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import fc from "fast-check";
import type { TestApp } from "../support/app";
import {
  encodeUrlPart,
  foreignContentType,
  invalidJsonText,
  malformedText,
  malformedValue,
  notUtf8,
  oddString,
  toJsonText,
} from "./malformed";
import type { World } from "./world";

interface Schema {
  type?: string | string[];
  enum?: unknown[];
  properties?: Record<string, Schema>;
  required?: string[];
  anyOf?: Schema[];
  oneOf?: Schema[];
}

interface Parameter {
  name: string;
  in: "path" | "query" | "header" | "cookie";
  required?: boolean;
  schema?: Schema;
}

export interface Operation {
  method: string;
  /** The document's template, e.g. /channels/{channel_id}/messages */
  path: string;
  parameters: Parameter[];
  /** The media type of the body it takes (JSON, or a form for the login), if any. */
  bodyType?: string;
  bodySchema?: Schema;
  /** A socket handshake (sent with Upgrade headers). */
  socket: boolean;
}

const METHODS = ["get", "post", "put", "patch", "delete"];

export function operationsOf(document: { paths: Record<string, Record<string, any>> }): Operation[] {
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (!METHODS.includes(method)) continue;
      const content = operation.requestBody?.content ?? {};
      const bodyType = Object.keys(content)[0];
      operations.push({
        method: method.toUpperCase(),
        path,
        parameters: [...(item.parameters ?? []), ...(operation.parameters ?? [])],
        bodyType,
        bodySchema: bodyType ? content[bodyType].schema : undefined,
        socket: path.startsWith("/ws/"),
      });
    }
  }
  return operations;
}

// ---------------------------------------------------------------------------------------------
// Baselines: a request each operation would accept, or at least take to its handler
// ---------------------------------------------------------------------------------------------

const uniqueSuffix = () => randomBytes(4).toString("hex");

function pathValue(name: string, op: Operation, world: World): string {
  const { room } = world;
  const ids: Record<string, string | number> = {
    workspace_id: room.workspaceId,
    channel_id: room.channelId,
    thread_id: world.threadId,
    message_id: op.path.startsWith("/dm/") ? world.directMessageId : world.messageId,
    user_id: room.member.id,
    invite_id: world.inviteId,
    request_id: world.friendRequestId,
    session_id: world.spare.sessionId,
    username: room.member.displayName,
    display_name: room.member.displayName,
  };
  return String(ids[name] ?? 1);
}

function queryValue(name: string, world: World): string | undefined {
  const values: Record<string, string> = {
    q: "fu",
    ids: String(world.room.member.id),
    limit: "5",
    offset: "0",
    token: world.owner.accessToken,
    workspace_id: String(world.room.workspaceId),
  };
  return values[name];
}

const firstType = (schema: Schema | undefined): string | undefined => {
  const type = Array.isArray(schema?.type) ? schema?.type.find((t) => t !== "null") : schema?.type;
  return type ?? firstType(schema?.anyOf?.[0] ?? schema?.oneOf?.[0]);
};

/** A valid value for a body field whose name says what it is (undefined for other names). */
function knownFieldValue(name: string, op: Operation, world: World): unknown {
  const { room } = world;
  const byName: Record<string, unknown> = {
    email: `fuzz-${uniqueSuffix()}@example.com`,
    username: "fuzz-nobody@example.com",
    password: "correct horse battery",
    // Wrong on purpose: a fuzzed new password must never replace the owner's.
    current_password: "not the owner's password",
    new_password: "another horse battery",
    grant_type: "password",
    display_name: "Fuzzy",
    name: `fuzz-${uniqueSuffix()}`,
    topic: "a topic",
    content: "fuzz",
    invitee_display_name: room.admin.displayName,
    addressee_display_name: room.admin.displayName,
    user_id: room.member.id,
    workspace_id: room.workspaceId,
    last_read_message_id: op.path.startsWith("/dm/") ? world.directMessageId : world.messageId,
    refresh_token: world.spare.refreshToken,
    id_token: "not-a-google-token",
    avatar_url: "https://example.com/avatar.png",
    is_private: false,
  };
  return byName[name];
}

/** Any valid-looking value of a schema's type. */
function typedValue(schema: Schema): unknown {
  if (schema.enum) return schema.enum[0];
  switch (firstType(schema)) {
    case "integer":
    case "number":
      return 1;
    case "boolean":
      return false;
    case "object":
      return {};
    case "array":
      return [];
    default:
      return "fuzz";
  }
}

/** Required fields, and optional ones whose name gives a real value (a DM's user_id). */
function baselineBody(op: Operation, world: World): Record<string, unknown> | undefined {
  if (!op.bodySchema) return undefined;
  const body: Record<string, unknown> = {};
  const required = new Set(op.bodySchema.required ?? []);
  for (const [name, schema] of Object.entries(op.bodySchema.properties ?? {})) {
    const known = knownFieldValue(name, op, world);
    if (known !== undefined) body[name] = known;
    else if (required.has(name)) body[name] = typedValue(schema);
  }
  return body;
}

// ---------------------------------------------------------------------------------------------
// Cases: one input broken at a time
// ---------------------------------------------------------------------------------------------

export type Mutation =
  | { kind: "path"; name: string; value: string }
  | { kind: "query"; name: string; value: string }
  | { kind: "field"; name: string; value: unknown }
  | { kind: "body"; value: unknown }
  | { kind: "raw"; text: string }
  | { kind: "bytes"; bytes: Uint8Array }
  | { kind: "contentType"; type: string };

/**
 * The cases of an operation. Every case breaks an input the operation declares, so that no case is
 * a valid request with side effects (a deleted workspace would leave the other cases nothing to
 * reach); operations without inputs get odd query parameters they ignore, and bodies that no route
 * may take (not JSON, not UTF-8, NUL inside).
 */
export function mutations(op: Operation): fc.Arbitrary<Mutation> {
  const pathNames = op.parameters.filter((p) => p.in === "path").map((p) => p.name);
  const queryNames = op.parameters.filter((p) => p.in === "query").map((p) => p.name);
  const fieldNames = Object.keys(op.bodySchema?.properties ?? {});
  const options: fc.Arbitrary<Mutation>[] = [];
  if (pathNames.length > 0) {
    options.push(
      fc.record({
        kind: fc.constant("path" as const),
        name: fc.constantFrom(...pathNames),
        value: malformedText,
      }),
    );
  }
  if (queryNames.length > 0) {
    options.push(
      fc.record({
        kind: fc.constant("query" as const),
        name: fc.constantFrom(...queryNames),
        value: malformedText,
      }),
    );
  }
  if (op.bodySchema) {
    const names = fieldNames.length > 0 ? fc.oneof(fc.constantFrom(...fieldNames), oddString) : oddString;
    options.push(
      fc.record({ kind: fc.constant("field" as const), name: names, value: malformedValue() }),
      fc.record({ kind: fc.constant("body" as const), value: malformedValue() }),
      fc.record({ kind: fc.constant("contentType" as const), type: foreignContentType }),
    );
  }
  if (op.method !== "GET") {
    options.push(
      fc.record({ kind: fc.constant("raw" as const), text: invalidJsonText }),
      fc.record({ kind: fc.constant("bytes" as const), bytes: notUtf8 }),
    );
  }
  if (options.length === 0 || (pathNames.length === 0 && queryNames.length === 0 && !op.bodySchema)) {
    options.push(fc.record({ kind: fc.constant("query" as const), name: oddString, value: malformedText }));
  }
  return fc.oneof(...options);
}

/** A short, printable account of a case for failure reports (bodies can be 300 KB). */
export function describeMutation(mutation: Mutation): string {
  const text = JSON.stringify(mutation, (_key, value) => {
    if (value instanceof Uint8Array) return `bytes ${Buffer.from(value).toString("hex")}`;
    if (typeof value === "bigint") return String(value);
    if (value && typeof value === "object" && "text" in value && value.constructor?.name === "RawJson") {
      return `raw ${value.text.length > 80 ? `${value.text.slice(0, 80)}... (${value.text.length} chars)` : value.text}`;
    }
    if (typeof value === "string" && value.length > 120)
      return `${value.slice(0, 80)}... (${value.length} chars)`;
    return value;
  });
  return text;
}

// ---------------------------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------------------------

export interface Outcome {
  status: number;
  body: string;
}

interface Built {
  path: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

function build(op: Operation, mutation: Mutation, world: World): Built {
  const path = op.path.replace(/\{([^}]+)\}/g, (_match, name: string) =>
    encodeUrlPart(
      mutation.kind === "path" && mutation.name === name ? mutation.value : pathValue(name, op, world),
    ),
  );
  const query: [string, string][] = [];
  for (const parameter of op.parameters.filter((p) => p.in === "query")) {
    const value = queryValue(parameter.name, world);
    if (value !== undefined && !(mutation.kind === "query" && mutation.name === parameter.name)) {
      query.push([parameter.name, value]);
    }
  }
  if (mutation.kind === "query") query.push([mutation.name, mutation.value]);
  const search = query.map(([k, v]) => `${encodeUrlPart(k)}=${encodeUrlPart(v)}`).join("&");
  const built: Built = {
    path: `${path}${search ? `?${search}` : ""}`,
    headers: { Authorization: `Bearer ${world.owner.accessToken}` },
  };

  const isForm = op.bodyType === "application/x-www-form-urlencoded";
  const baseline = baselineBody(op, world);
  const bodyType = isForm ? "application/x-www-form-urlencoded" : "application/json";
  const encode = (value: unknown) =>
    isForm && value !== null && typeof value === "object" && !Array.isArray(value)
      ? Object.entries(value)
          .map(([k, v]) => `${encodeUrlPart(k)}=${encodeUrlPart(typeof v === "string" ? v : toJsonText(v))}`)
          .join("&")
      : toJsonText(value);
  switch (mutation.kind) {
    case "field":
      built.body = encode({ ...baseline, [mutation.name]: mutation.value });
      built.headers["Content-Type"] = bodyType;
      break;
    case "body":
      built.body = toJsonText(mutation.value);
      built.headers["Content-Type"] = bodyType;
      break;
    case "raw":
      built.body = mutation.text;
      built.headers["Content-Type"] = bodyType;
      break;
    case "bytes":
      built.body = mutation.bytes;
      built.headers["Content-Type"] = bodyType;
      break;
    case "contentType":
      built.body = isForm ? toJsonText(baseline) : encode(baseline);
      built.headers["Content-Type"] = mutation.type;
      break;
    default:
      if (baseline) {
        built.body = encode(baseline);
        built.headers["Content-Type"] = bodyType;
      }
  }
  return built;
}

/** Sends a case; throws when the connection was closed or reset instead of answered. */
export async function send(app: TestApp, op: Operation, mutation: Mutation, world: World): Promise<Outcome> {
  const built = build(op, mutation, world);
  if (op.socket) return handshake(app, built);
  const res = await fetch(`${app.url}${built.path}`, {
    method: op.method,
    headers: built.headers,
    body: built.body instanceof Uint8Array ? new Blob([Buffer.from(built.body)]) : built.body,
  });
  return { status: res.status, body: await res.text() };
}

/** A socket handshake with Upgrade headers: the status of a refusal, or 101 (then dropped). */
function handshake(app: TestApp, built: Built): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${app.url}${built.path}`, {
      agent: false,
      headers: {
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
      },
    });
    req.on("upgrade", (_res, socket) => {
      socket.destroy();
      resolve({ status: 101, body: "" });
    });
    req.on("response", (res) => {
      let text = "";
      res.on("data", (chunk: Buffer) => {
        text += chunk.toString("utf8");
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/** What makes a case fail: a 5xx, or an error answer without the project's error shapes. */
export function problemWith(outcome: Outcome): string | null {
  if (outcome.status >= 500) return `answered ${outcome.status}: ${outcome.body.slice(0, 300)}`;
  if (outcome.status < 400) return null;
  let body: { detail?: unknown };
  try {
    body = JSON.parse(outcome.body);
  } catch {
    // The runtime's own refusal of an oversized request line or header block.
    return outcome.status === 431 || outcome.status === 414
      ? null
      : `answered ${outcome.status} without JSON`;
  }
  const detail = body.detail;
  const isIssueList =
    Array.isArray(detail) &&
    detail.every(
      (issue) => Array.isArray(issue?.loc) && typeof issue.msg === "string" && typeof issue.type === "string",
    );
  if (typeof detail === "string" || isIssueList) return null;
  return `answered ${outcome.status} with ${outcome.body.slice(0, 200)}`;
}

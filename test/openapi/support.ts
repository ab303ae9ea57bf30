/**
 * Checking real answers of the running Worker against its own OpenAPI document (/openapi.json):
 * the status must be documented for the operation, and the body must match the schema documented
 * for that status (converted to zod by zod's own `z.fromJSONSchema`, components resolved).
 */
import { randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import { expect } from "vitest";
import { z } from "zod";
import type { TestApp } from "../support/app";
import { type ApiResponse, type RequestOptions, request } from "../support/http";

export interface DocumentedResponse {
  description: string;
  content?: Record<string, { schema: unknown }>;
  headers?: Record<string, unknown>;
}

export interface DocumentedOperation {
  operationId: string;
  tags: string[];
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: string; required?: boolean; schema: unknown }[];
  requestBody?: { required?: boolean; content: Record<string, { schema: unknown }> };
  responses: Record<string, DocumentedResponse>;
}

export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, DocumentedOperation>>;
  components: {
    schemas: Record<string, unknown>;
    securitySchemes: Record<string, { type: string; scheme?: string; in?: string; name?: string }>;
    headers?: Record<string, unknown>;
  };
}

export async function loadDocument(app: Pick<TestApp, "fetch">): Promise<OpenApiDocument> {
  const res = await app.fetch("/openapi.json");
  expect(res.status).toBe(200);
  return (await res.json()) as OpenApiDocument;
}

/** A plain answer: what a check needs of an HTTP response. */
export interface Answer {
  status: number;
  contentType: string;
  text: string;
}

export const answerOf = (res: ApiResponse): Answer => ({
  status: res.status,
  contentType: res.headers.get("Content-Type") ?? "",
  text: res.text,
});

export class DocumentChecker {
  private readonly schemas = new Map<string, z.ZodType>();
  /** Per tag (route module): which kinds of answers were checked. */
  readonly exercised = new Map<string, { success: Set<string>; error: Set<string> }>();

  constructor(private readonly doc: OpenApiDocument) {}

  operation(method: string, template: string): DocumentedOperation {
    const operation = this.doc.paths[template]?.[method.toLowerCase()];
    expect(operation, `${method.toUpperCase()} ${template} is not in the document`).toBeDefined();
    return operation as DocumentedOperation;
  }

  /** Zod schema of a documented JSON schema, `#/components/schemas/*` resolved. */
  zodOf(schema: unknown): z.ZodType {
    const key = JSON.stringify(schema);
    let converted = this.schemas.get(key);
    if (!converted) {
      const rooted = JSON.stringify({ ...(schema as object), $defs: this.doc.components.schemas }).replaceAll(
        '"#/components/schemas/',
        '"#/$defs/',
      );
      converted = z.fromJSONSchema(JSON.parse(rooted));
      this.schemas.set(key, converted);
    }
    return converted;
  }

  /** Asserts the answer's status is documented for the operation and its body matches. */
  check(method: string, template: string, answer: Answer): void {
    const label = `${method.toUpperCase()} ${template} → ${answer.status}`;
    const operation = this.operation(method, template);
    const documented = operation.responses[String(answer.status)];
    expect(
      documented,
      `${label} is not documented (documented: ${Object.keys(operation.responses).join(", ")}); body ${answer.text}`,
    ).toBeDefined();
    const content = documented?.content;
    if (!content) {
      expect(answer.text, `${label} should have no body`).toBe("");
    } else {
      // The documented media type the answer was sent as (an operation may document several).
      const documentedTypes = Object.keys(content);
      const mediaType = documentedTypes.find((type) =>
        answer.contentType.toLowerCase().includes(type.split(";")[0] ?? type),
      );
      expect(
        mediaType,
        `${label}: sent as ${answer.contentType}, documented: ${documentedTypes}`,
      ).toBeDefined();
      const essence = (mediaType ?? "").split(";")[0] ?? "";
      const media = content[mediaType ?? ""];
      const body: unknown = essence.endsWith("json") ? JSON.parse(answer.text) : answer.text;
      const result = this.zodOf(media?.schema).safeParse(body);
      expect(result.success, `${label}: ${result.error?.message}\nbody: ${answer.text}`).toBe(true);
    }
    const tag = operation.tags[0] ?? "?";
    const tally = this.exercised.get(tag) ?? { success: new Set(), error: new Set() };
    (answer.status < 400 ? tally.success : tally.error).add(`${label}`);
    this.exercised.set(tag, tally);
  }
}

export interface CallOptions extends RequestOptions {
  params?: Record<string, string | number>;
  query?: Record<string, string | number>;
}

/** Fills a template's `{name}` parameters (percent-encoded) and appends a query string. */
export function pathOf(
  template: string,
  params: CallOptions["params"] = {},
  query: CallOptions["query"] = {},
) {
  const path = template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`no value for {${name}} in ${template}`);
    return encodeURIComponent(String(value));
  });
  const search = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)])).toString();
  return search ? `${path}?${search}` : path;
}

/** Makes a real request and checks its answer against the document; returns the response. */
export async function call<T = any>(
  app: Pick<TestApp, "fetch">,
  checker: DocumentChecker,
  method: string,
  template: string,
  options: CallOptions = {},
): Promise<ApiResponse<T>> {
  const { params, query, ...rest } = options;
  const res = await request<T>(app, method.toUpperCase(), pathOf(template, params, query), rest);
  checker.check(method, template, answerOf(res));
  return res;
}

/** A WebSocket handshake sent by hand: 101 when accepted (the socket is closed at once), else the refusal. */
export function handshake(
  baseUrl: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${baseUrl}${path}`, {
      headers: {
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
        ...headers,
      },
    });
    req.on("upgrade", (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, contentType: "", text: "" });
    });
    req.on("response", (res) => {
      let text = "";
      res.on("data", (chunk: Buffer) => {
        text += chunk.toString("utf8");
      });
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          contentType: String(res.headers["content-type"] ?? ""),
          text,
        }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

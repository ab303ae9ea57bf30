/**
 * The sockets' AsyncAPI document as the Worker serves it (issue 15, item 3): a valid AsyncAPI 3.0
 * document by AsyncAPI's own JSON Schema (@asyncapi/specs), every reference resolving, with this
 * deployment's settings and address; and /docs/sockets, the page that shows it, under the
 * documentation's policy. Real frames are validated against it by
 * test/realtime/protocol-frames.test.ts.
 */
import specs from "@asyncapi/specs";
import { Ajv } from "ajv";
import addFormats from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { request } from "../support/http";
import { answerOf, DocumentChecker, loadDocument } from "./support";

let app: TestApp;
let doc: AsyncApi;

interface AsyncApi {
  asyncapi: string;
  servers: Record<string, { host: string; protocol: string }>;
  channels: Record<string, { address: string; messages: Record<string, { $ref: string }> }>;
  operations: Record<string, { action: string; channel: { $ref: string }; messages: { $ref: string }[] }>;
  components: {
    schemas: Record<string, unknown>;
    messages: Record<string, { name: string; payload: { $ref: string } }>;
  };
  "x-limits": Record<string, number>;
  "x-close-codes": { code: number; reason: string }[];
}

beforeAll(async () => {
  app = await startApp({ env: { WS_FRAMES_PER_SECOND: "7", RATE_LIMIT_POST_MESSAGE_PER_10_SECONDS: "33" } });
  const res = await app.fetch("/asyncapi.json");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("application/json");
  doc = (await res.json()) as AsyncApi;
});
afterAll(async () => {
  await app?.close();
});

/** The value a local `$ref` (`#/a/b`) points at in the document. */
function resolve(ref: string): unknown {
  expect(ref.startsWith("#/"), ref).toBe(true);
  return ref
    .slice(2)
    .split("/")
    .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], doc);
}

describe("/asyncapi.json", () => {
  it("is a valid AsyncAPI 3.0 document", () => {
    // The specification's schema embeds the draft-07 meta-schema ajv would otherwise add itself.
    const ajv = new Ajv({ strict: false, allErrors: true, meta: false, validateSchema: false });
    addFormats.default(ajv);
    const validate = ajv.compile(specs.schemas["3.0.0"] as object);
    expect(doc.asyncapi).toBe("3.0.0");
    expect(validate(doc), JSON.stringify(validate.errors?.slice(0, 5))).toBe(true);
    // The control: the same check refuses a broken document.
    expect(validate({ ...doc, operations: { x: { action: "emit", channel: {} } } })).toBe(false);
  });

  it("resolves every reference, and each operation's messages are its channel's", () => {
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
    expect(refs.length).toBeGreaterThan(100);
    for (const ref of new Set(refs)) expect(resolve(JSON.parse(`{${ref}}`).$ref), ref).toBeDefined();
    for (const [id, operation] of Object.entries(doc.operations)) {
      const channel = operation.channel.$ref;
      for (const { $ref } of operation.messages)
        expect($ref.startsWith(`${channel}/messages/`), `${id}: ${$ref}`).toBe(true);
    }
    expect(Object.keys(doc.channels).sort()).toEqual(["chat", "dm", "notifications"]);
    expect(
      Object.values(doc.channels)
        .map((c) => c.address)
        .sort(),
    ).toEqual(["/ws/chat/{workspace_id}/{channel_id}", "/ws/dm/{thread_id}", "/ws/notifications"]);
  });

  it("states this deployment's settings and address", () => {
    expect(doc["x-limits"].framesPerSecond).toBe(7);
    expect(doc["x-limits"].frameBurst).toBe(28);
    expect(doc["x-limits"].channelMessagesPer10Seconds).toBe(33);
    expect(doc.servers.api).toMatchObject({ host: new URL(app.url).host, protocol: "ws" });
    expect(doc["x-close-codes"]).toContainEqual(
      expect.objectContaining({ code: 1009, reason: "Frames are limited to 16384 characters" }),
    );
  });
});

describe("/docs/sockets", () => {
  it("shows every socket, frame and event of the document, under the documentation's policy", async () => {
    const checker = new DocumentChecker(await loadDocument(app));
    const asyncapi = await request(app, "GET", "/asyncapi.json");
    checker.check("get", "/asyncapi.json", answerOf(asyncapi));

    const page = await request<string>(app, "GET", "/docs/sockets");
    checker.check("get", "/docs/sockets", answerOf(page));
    const docs = await app.fetch("/docs");
    expect(page.headers.get("content-security-policy")).toBe(docs.headers.get("content-security-policy"));
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(page.headers.get("cache-control")).toBe("no-cache");
    for (const channel of Object.values(doc.channels)) expect(page.text).toContain(channel.address);
    for (const [name, message] of Object.entries(doc.components.messages)) {
      expect(page.text).toContain(`id="message-${name}"`);
      expect(page.text).toContain(message.name);
    }
    expect(page.text).toContain('href="/asyncapi.json"');
    expect(page.text).not.toMatch(/<script|style=/);

    const etag = page.headers.get("etag") ?? "";
    const again = await request(app, "GET", "/docs/sockets", { headers: { "If-None-Match": etag } });
    checker.check("get", "/docs/sockets", answerOf(again));
    expect(again.status).toBe(304);

    const css = page.text.match(/href="(\/docs\/assets\/sockets\.[0-9a-f]{16}\.css)"/)?.[1];
    expect(css).toBeDefined();
    const sheet = await request(app, "GET", css as string);
    checker.check("get", "/docs/assets/{file}", answerOf(sheet));
    expect(sheet.headers.get("content-type")).toContain("text/css");
    expect(sheet.headers.get("cache-control")).toContain("immutable");
  });
});

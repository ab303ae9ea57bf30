/**
 * This document and its viewer (src/routes/openapi.ts, src/openapi/viewer/assets.ts), and the
 * sockets' AsyncAPI document with its page (src/openapi/asyncapi/).
 */
import { z } from "zod";
import { operation } from "../define";

const tag = "documentation";

const notModified = {
  304: { description: "Not modified: `If-None-Match` names the current `ETag`." },
};

export const documentationOperations = [
  operation({
    method: "get",
    path: "/openapi.json",
    tag,
    summary: "This OpenAPI 3.1 document",
    auth: false,
    ok: { description: "The document.", schema: z.looseObject({ openapi: z.literal("3.1.0") }) },
  }),
  operation({
    method: "get",
    path: "/docs",
    tag,
    summary: "Interactive documentation (Swagger UI)",
    description:
      "Swagger UI on /openapi.json, every file of it served by this API (GET /docs/assets/{file}): " +
      "the page loads nothing from another host. Sent with `Content-Security-Policy` " +
      "(this origin only, no inline script), `ETag` and `Cache-Control: no-cache`.",
    auth: false,
    ok: {
      description: "An HTML page that loads Swagger UI's script and style, then /openapi.json.",
      schema: z.string(),
      mediaType: "text/html",
    },
    extraResponses: notModified,
  }),
  operation({
    method: "get",
    path: "/asyncapi.json",
    tag,
    summary: "The sockets' AsyncAPI 3.0 document",
    description:
      "The three sockets (/ws/chat, /ws/dm, /ws/notifications): every frame a client sends and every event " +
      "it receives with its JSON Schema, the handshake, `since` and `resync`, `client_id` replay, close " +
      "codes (`x-close-codes`), error codes (`x-error-codes`) and limits with this deployment's settings " +
      "(`x-limits`). Generated from the schemas the server's frame parser validates with.",
    auth: false,
    ok: { description: "The document.", schema: z.looseObject({ asyncapi: z.literal("3.0.0") }) },
  }),
  operation({
    method: "get",
    path: "/docs/sockets",
    tag,
    summary: "The socket protocol for people (/asyncapi.json as a page)",
    description:
      "One HTML page rendered by the Worker from /asyncapi.json, without script, under the same " +
      "`Content-Security-Policy` as /docs, with `ETag` and `Cache-Control: no-cache`.",
    auth: false,
    ok: { description: "An HTML page.", schema: z.string(), mediaType: "text/html" },
    extraResponses: notModified,
  }),
  operation({
    method: "get",
    path: "/docs/assets/{file}",
    tag,
    summary: "A file of the documentation page (Swagger UI's script and style, its start script)",
    description:
      "The names are the ones /docs links to, each with a hash of its content " +
      "(`swagger-ui-bundle.<hash>.js`, `swagger-ui.css` likewise, `docs-init.<hash>.js`, and " +
      "/docs/sockets' `sockets.<hash>.css`): a file " +
      "never changes under its name, so it is sent with `Cache-Control: public, max-age=31536000, " +
      "immutable` and an `ETag`. JavaScript is `text/javascript`, the style sheet `text/css`.",
    auth: false,
    params: z.object({ file: z.string().describe("A hashed file name from the /docs page") }),
    unvalidated: true,
    ok: { description: "The file.", schema: z.string(), mediaType: "text/javascript" },
    errors: { 404: "No such file: not a name the current /docs page links to (an old hash included)." },
    extraResponses: {
      ...notModified,
      200: {
        description: "The file.",
        content: { "text/javascript": { schema: z.string() }, "text/css": { schema: z.string() } },
      },
    },
  }),
];

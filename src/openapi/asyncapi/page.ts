/**
 * GET /docs/sockets: the AsyncAPI document (document.ts) rendered as one HTML page for people, by
 * the Worker, from the very document /asyncapi.json serves: each socket (its address, handshake,
 * the frames a client sends and the events it receives, each with its schema as a table), close
 * codes, error codes, limits, and the shared schemas the events refer to.
 *
 * Why not an AsyncAPI viewer: Swagger UI cannot render AsyncAPI, and AsyncAPI's React component is a
 * multi-megabyte bundle that would need its own rules and modules in every deployment (see
 * viewer/assets.ts). A server-rendered page needs no script at all, so it lives under the same
 * strict policy as /docs (no inline script or style: its style sheet is a hashed file).
 */
import type { AsyncApiDocument } from "./document";

type Schema = Record<string, unknown>;

const html = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Escaped text with `code` spans, the only markup the descriptions use. */
const prose = (text: string) => html(text).replace(/`([^`]+)`/g, "<code>$1</code>");

const paragraphs = (text: string) =>
  text
    .split(/\n\n+/)
    .map((p) => `<p>${prose(p)}</p>`)
    .join("\n");

const refName = (ref: string) => ref.replace("#/components/schemas/", "");
const schemaLink = (name: string) => `<a href="#schema-${html(name)}">${html(name)}</a>`;

/** A one-line summary of a schema's type (a link for a reference). */
function typeOf(schema: Schema): string {
  if (typeof schema.$ref === "string") return schemaLink(refName(schema.$ref));
  if ("const" in schema) return `<code>${html(JSON.stringify(schema.const))}</code>`;
  if (Array.isArray(schema.enum))
    return schema.enum.map((v) => `<code>${html(JSON.stringify(v))}</code>`).join(" | ");
  const options = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (options) return options.map(typeOf).join(" or ");
  const type = Array.isArray(schema.type) ? schema.type.join(" or ") : String(schema.type ?? "any");
  const bounds = [
    schema.minLength !== undefined || schema.maxLength !== undefined
      ? `${schema.minLength ?? 0} to ${schema.maxLength ?? "any number of"} characters`
      : "",
    schema.minimum !== undefined && Number(schema.minimum) > -1e15 ? `≥ ${schema.minimum}` : "",
    schema.exclusiveMinimum !== undefined ? `> ${schema.exclusiveMinimum}` : "",
    schema.maximum !== undefined && Number(schema.maximum) < 1e15 ? `≤ ${schema.maximum}` : "",
    schema.format ? String(schema.format) : "",
  ].filter(Boolean);
  return `<span class="type">${html(type)}${bounds.length ? ` (${html(bounds.join(", "))})` : ""}</span>`;
}

/** An object schema as a table of its fields (nested objects as nested tables); anything else as its type. */
function schemaTable(schema: Schema): string {
  const properties = schema.properties as Record<string, Schema> | undefined;
  if (schema.type !== "object" || !properties) {
    const description = typeof schema.description === "string" ? ` — ${prose(schema.description)}` : "";
    return `<p>${typeOf(schema)}${description}</p>`;
  }
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const rows = Object.entries(properties).map(([name, field]) => {
    const nested = field.type === "object" && field.properties ? schemaTable(field) : "";
    const description = typeof field.description === "string" ? prose(field.description) : "";
    return `<tr><td><code>${html(name)}</code>${required.has(name) ? ' <span class="required">required</span>' : ""}</td><td>${nested ? "object" : typeOf(field)}</td><td>${description}${nested}</td></tr>`;
  });
  const extra = schema.additionalProperties === false ? "" : '<p class="muted">Other fields are ignored.</p>';
  return `<table><tr><th>field</th><th>type</th><th>meaning</th></tr>${rows.join("")}</table>${extra}`;
}

interface Message {
  name: string;
  summary: string;
  contentType: string;
  payload: { $ref: string };
}

function messageBlock(doc: AsyncApiDocument, name: string): string {
  const message = (doc.components.messages as Record<string, Message>)[name] as Message;
  const schema = doc.components.schemas[refName(message.payload.$ref)] as Schema;
  const properties = schema.properties as Record<string, Schema> | undefined;
  const payload = properties?.payload;
  // Events: the `payload` is what differs between them; frames: every field.
  const body =
    payload && schema.type === "object"
      ? `<p>Payload: ${payload.$ref ? typeOf(payload) : ""}</p>${payload.$ref ? "" : schemaTable(payload)}`
      : schemaTable(schema);
  const type =
    message.contentType === "application/json" ? `<code>${html(message.name)}</code>` : html(message.name);
  return `<article class="message" id="message-${html(name)}"><h4>${type} <span class="muted">${html(name)}</span></h4><p>${prose(message.summary)}</p>${body}</article>`;
}

function channelSection(doc: AsyncApiDocument, key: string): string {
  const channel = (doc.channels as Record<string, Record<string, unknown>>)[key] as {
    address: string;
    title: string;
    description: string;
    parameters?: Record<string, { description: string }>;
    bindings: { ws: { query: Schema; headers: Schema } };
  };
  const operations = doc.operations as Record<string, { messages: { $ref: string }[] }>;
  const names = (operation: string) =>
    (operations[`${key}.${operation}`]?.messages ?? []).map((m) => m.$ref.split("/").pop() as string);
  const parameters = Object.entries(channel.parameters ?? {})
    .map(
      ([name, p]) =>
        `<tr><td><code>${html(name)}</code></td><td>path</td><td>${prose(p.description)}</td></tr>`,
    )
    .join("");
  const query = Object.entries((channel.bindings.ws.query.properties ?? {}) as Record<string, Schema>)
    .map(
      ([name, p]) =>
        `<tr><td><code>${html(name)}</code></td><td>query</td><td>${prose(String(p.description ?? ""))}</td></tr>`,
    )
    .join("");
  const headers = Object.entries((channel.bindings.ws.headers.properties ?? {}) as Record<string, Schema>)
    .map(
      ([name, p]) =>
        `<tr><td><code>${html(name)}</code></td><td>header</td><td>${prose(String(p.description ?? ""))}</td></tr>`,
    )
    .join("");
  return `<section id="channel-${html(key)}">
<h2 class="channel"><code>${html(channel.address)}</code> — ${html(channel.title)}</h2>
${paragraphs(channel.description)}
<h3>Handshake</h3>
<table><tr><th>name</th><th>in</th><th>meaning</th></tr>${parameters}${query}${headers}</table>
<h3>Client → server</h3>
${names("receiveFrames")
  .map((name) => messageBlock(doc, name))
  .join("\n")}
<h3>Server → client</h3>
${names("sendEvents")
  .map((name) => messageBlock(doc, name))
  .join("\n")}
</section>`;
}

/** The schemas messages refer to (REST shapes and shared payloads), each once. */
function sharedSchemas(doc: AsyncApiDocument): string {
  const messageSchemas = new Set(
    Object.values(doc.components.messages as Record<string, Message>).map((m) => refName(m.payload.$ref)),
  );
  return Object.entries(doc.components.schemas)
    .filter(([name]) => !messageSchemas.has(name))
    .map(
      ([name, schema]) =>
        `<article class="message" id="schema-${html(name)}"><h4>${html(name)}</h4>${
          typeof (schema as Schema).description === "string"
            ? `<p>${prose((schema as Schema).description as string)}</p>`
            : ""
        }${schemaTable(schema as Schema)}</article>`,
    )
    .join("\n");
}

export function socketsPageHtml(doc: AsyncApiDocument, styleSheetUrl: string): string {
  const channels = Object.keys(doc.channels);
  const closes = doc["x-close-codes"]
    .map(
      (c) =>
        `<tr><td>${c.code}</td><td>${c.reason ? `<code>${html(c.reason)}</code>` : ""}</td><td>${prose(c.meaning)}</td><td>${html(c.clientShould)}</td></tr>`,
    )
    .join("");
  const errors = doc["x-error-codes"]
    .map((e) => `<tr><td><code>${html(e.code)}</code></td><td>${prose(e.meaning)}</td></tr>`)
    .join("");
  const limits = Object.entries(doc["x-limits"])
    .map(([name, value]) => `<tr><td><code>${html(name)}</code></td><td>${html(String(value))}</td></tr>`)
    .join("");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${html(doc.info.title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${html(styleSheetUrl)}">
</head>
<body>
<header>
<h1>${html(doc.info.title)}</h1>
<p>AsyncAPI ${html(doc.asyncapi)}: <a href="/asyncapi.json">/asyncapi.json</a>. The REST API: <a href="/docs">/docs</a>.</p>
</header>
<nav><ul>
${channels.map((key) => `<li><a href="#channel-${html(key)}">${html((doc.channels as Record<string, { address: string }>)[key]?.address ?? key)}</a></li>`).join("\n")}
<li><a href="#close-codes">Close codes</a></li><li><a href="#error-codes">Error codes</a></li><li><a href="#limits">Limits</a></li><li><a href="#schemas">Schemas</a></li>
</ul></nav>
<main>
${paragraphs(doc.info.description)}
${channels.map((key) => channelSection(doc, key)).join("\n")}
<section id="close-codes"><h2>Close codes</h2>
<table><tr><th>code</th><th>reason</th><th>meaning</th><th>then the client should</th></tr>${closes}</table></section>
<section id="error-codes"><h2>Error codes</h2>
<p>The <code>code</code> of <code>error</code> events; <code>detail</code> says more.</p>
<table><tr><th>code</th><th>meaning</th></tr>${errors}</table></section>
<section id="limits"><h2>Limits</h2>
<p>This deployment's settings.</p>
<table><tr><th>limit</th><th>value</th></tr>${limits}</table></section>
<section id="schemas"><h2>Schemas</h2>
${sharedSchemas(doc)}
</section>
</main>
</body>
</html>
`;
}

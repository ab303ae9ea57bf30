/**
 * The schemas of the AsyncAPI document, converted from the protocol's zod schemas with zod's own
 * `z.toJSONSchema` (JSON Schema draft-07, the dialect AsyncAPI's default schema format extends):
 *
 *   - client frames (realtime/protocol/client-frames.ts) as their *input*: what a client may send,
 *     the schemas the server's parser validates with;
 *   - server events (server-events.ts, notification-events.ts) as their *output*: what the server
 *     sends, payloads that are REST shapes referring to the OpenAPI document's response schemas
 *     under the same names (UserPublic, WorkspaceRead, ...).
 *
 * Each frame and event gets a name (`MessageFrame`, `ChannelMessageEvent`, `InviteCreatedEvent`):
 * a schema both kinds of conversation share is named once (`TypingEvent`), one of a kind's own is
 * prefixed (`Channel...`, `Thread...`).
 */
import { z } from "zod";
import { clientFrameSchemas } from "../../realtime/protocol/client-frames";
import {
  notificationEventSchemas,
  notificationFrameSchemas,
} from "../../realtime/protocol/notification-events";
import * as eventPayloads from "../../realtime/protocol/server-events";
import { conversationEventSchemas } from "../../realtime/protocol/server-events";
import * as restSchemas from "../schemas";

export type JsonSchema = Record<string, unknown>;

/** A frame or an event in the document: its socket-level type and the name of its schema. */
export interface NamedMessage {
  /** The frame's `type` (`message.updated`), or "keep-alive" for the notification socket's frames. */
  type: string;
  name: string;
  schema: z.ZodType;
}

const pascal = (type: string) =>
  type
    .split(/[._-]/)
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join("");

type Kind = "channel" | "dm";
const KIND_PREFIX: Record<Kind, string> = { channel: "Channel", dm: "Thread" };

/** Names one kind's schemas: shared ones (the same schema on both kinds) without a prefix. */
function named(byKind: Record<Kind, Record<string, z.ZodType>>, kind: Kind, suffix: string): NamedMessage[] {
  const other = kind === "channel" ? byKind.dm : byKind.channel;
  return Object.entries(byKind[kind]).map(([type, schema]) => ({
    type,
    name: `${other[type] === schema ? "" : KIND_PREFIX[kind]}${pascal(type)}${suffix}`,
    schema,
  }));
}

export const clientFrames = (kind: Kind) => named(clientFrameSchemas, kind, "Frame");
export const conversationEvents = (kind: Kind) => named(conversationEventSchemas, kind, "Event");
const namedAll = (schemas: Record<string, z.ZodType>, suffix: string): NamedMessage[] =>
  Object.entries(schemas).map(([type, schema]) => ({ type, name: `${pascal(type)}${suffix}`, schema }));

export const notificationFrames = () => namedAll(notificationFrameSchemas, "Frame");
export const notificationEvents = () => namedAll(notificationEventSchemas, "Event");

/** The id a schema was given with `.meta({ id })` in the global registry (the OpenAPI schemas). */
const globalId = (schema: z.ZodType) => z.globalRegistry.get(schema)?.id;

const isSchema = (value: unknown): value is z.ZodType => value instanceof z.ZodType;

/**
 * Converts schemas to JSON Schema under their names, the named schemas they contain as references
 * (`#/components/schemas/<name>`).
 */
function convert(entries: [string, z.ZodType][], io: "input" | "output"): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  const seen = new Set<z.ZodType>();
  for (const [id, schema] of entries) {
    if (seen.has(schema)) continue;
    seen.add(schema);
    registry.add(schema, { id });
  }
  const { schemas } = z.toJSONSchema(registry, {
    target: "draft-07",
    io,
    uri: (id) => `#/components/schemas/${id}`,
  });
  // Each is a part of the document, not a document of its own.
  return Object.fromEntries(
    Object.entries(schemas).map(([id, { $schema: _schema, $id: _id, ...schema }]) => [id, schema]),
  );
}

/** Names reachable through `$ref`s from the given schemas. */
function reachable(schemas: Record<string, JsonSchema>, roots: string[]): Set<string> {
  const found = new Set<string>();
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === "object") {
      for (const [key, inner] of Object.entries(value)) {
        if (key === "$ref" && typeof inner === "string") {
          const name = inner.replace("#/components/schemas/", "");
          if (!found.has(name)) {
            found.add(name);
            visit(schemas[name]);
          }
        } else visit(inner);
      }
    }
  };
  for (const root of roots) {
    found.add(root);
    visit(schemas[root]);
  }
  return found;
}

/** Every schema the document refers to, by name. */
export function documentSchemas(messages: { frames: NamedMessage[]; events: NamedMessage[] }) {
  const payloads = Object.entries(eventPayloads as Record<string, unknown>).filter(
    (entry): entry is [string, z.ZodType] => isSchema(entry[1]),
  );
  const rest = Object.values(restSchemas)
    .filter(isSchema)
    .flatMap((schema): [string, z.ZodType][] => {
      const id = globalId(schema);
      return id ? [[id, schema]] : [];
    });
  const frames = convert(
    messages.frames.map((m) => [m.name, m.schema]),
    "input",
  );
  const events = convert(
    [...messages.events.map((m): [string, z.ZodType] => [m.name, m.schema]), ...payloads, ...rest],
    "output",
  );
  for (const name of Object.keys(frames)) {
    if (name in events) throw new Error(`AsyncAPI: ${name} names both a frame and an event schema`);
  }
  const all = { ...frames, ...events };
  const used = reachable(
    all,
    [...messages.frames, ...messages.events].map((m) => m.name),
  );
  return Object.fromEntries(Object.entries(all).filter(([name]) => used.has(name)));
}

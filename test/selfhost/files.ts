/**
 * Readers of the self-hosting files, shared by the static checks (static.test.ts) and the smoke
 * suite (smoke.selfhost.ts): docker-compose.yml and its local override (the `yaml` package, with
 * Compose's variable interpolation), deploy/workerd.capnp (a small reader of the few forms it
 * uses), wrangler.toml (wrangler's own parser), the settings src/config.ts reads, the env files,
 * deploy/Dockerfile, and the `${NAME}` templates of nginx.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { repositoryRoot } from "../support/bundle";

export const root = repositoryRoot;
export const repoPath = (...parts: string[]) => join(root, ...parts);
export const readRepoFile = (...parts: string[]) => readFileSync(repoPath(...parts), "utf8");

// ---------------------------------------------------------------------------------------------
// Compose
// ---------------------------------------------------------------------------------------------

export interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile?: string; target?: string };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] | string; interval?: string; retries?: number };
  restart?: string;
  init?: boolean;
  user?: string;
  profiles?: string[];
  logging?: { driver: string; options?: Record<string, string> };
}

export interface ComposeFile {
  name?: string;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

export interface ParsedYaml<T> {
  value: T;
  /** Tags like `!override` by dotted path, e.g. "services.nginx.ports". */
  tags: Map<string, string>;
  errors: string[];
}

/** Parses YAML with a real parser; Compose's own tags (`!override`, `!reset`) are recorded, not lost. */
export function parseYaml<T>(text: string): ParsedYaml<T> {
  const doc = parseDocument(text, { uniqueKeys: true });
  const tags = new Map<string, string>();
  const walk = (node: unknown, path: string[]) => {
    if (!node || typeof node !== "object") return;
    const n = node as { tag?: string; items?: unknown[]; key?: unknown; value?: unknown };
    if (n.tag && path.length > 0) tags.set(path.join("."), n.tag);
    for (const item of n.items ?? []) {
      const pair = item as { key?: { value?: unknown }; value?: unknown };
      if (pair && typeof pair === "object" && "key" in pair) {
        walk(pair.value, [...path, String(pair.key?.value)]);
      } else {
        walk(item, path);
      }
    }
  };
  walk(doc.contents, []);
  const unresolved = (w: { message: string }) => /^Unresolved tag: !(override|reset)/.test(w.message);
  return {
    value: doc.toJS() as T,
    tags,
    errors: [...doc.errors, ...doc.warnings.filter((w) => !unresolved(w))].map((e) => e.message),
  };
}

export const loadCompose = () => parseYaml<ComposeFile>(readRepoFile("docker-compose.yml"));
export const loadLocalOverride = () => parseYaml<ComposeFile>(readRepoFile("deploy/compose.local.yml"));

export class InterpolationError extends Error {}

/**
 * Compose's variable interpolation: `$$`, `$NAME`, `${NAME}`, `${NAME:-default}`, `${NAME-default}`,
 * `${NAME:?error}`, `${NAME?error}`, `${NAME:+alt}`, `${NAME+alt}`. Like Compose, `:?` refuses an
 * unset or empty variable (which is how the stack refuses to start without its secrets).
 */
export function interpolate(text: string, env: Record<string, string | undefined>): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (match, name: string | undefined, op: string | undefined, arg: string | undefined, bare?: string) => {
      if (match === "$$") return "$";
      if (bare) return env[bare] ?? "";
      const key = name as string;
      const value = env[key];
      const set = value !== undefined;
      const nonEmpty = set && value !== "";
      switch (op) {
        case undefined:
          return value ?? "";
        case ":-":
          return nonEmpty ? (value as string) : (arg ?? "");
        case "-":
          return set ? (value as string) : (arg ?? "");
        case ":?":
          if (!nonEmpty) throw new InterpolationError(`${key}: ${arg || "is required"}`);
          return value as string;
        case "?":
          if (!set) throw new InterpolationError(`${key}: ${arg || "is required"}`);
          return value as string;
        case ":+":
          return nonEmpty ? (arg ?? "") : "";
        case "+":
          return set ? (arg ?? "") : "";
        default:
          throw new Error(`unknown interpolation ${match}`);
      }
    },
  );
}

/** Interpolates every string value (not keys) of a parsed Compose file. */
export function interpolateTree<T>(value: T, env: Record<string, string | undefined>): T {
  if (typeof value === "string") return interpolate(value, env) as T;
  if (Array.isArray(value)) return value.map((v) => interpolateTree(v, env)) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateTree(v, env)])) as T;
  }
  return value;
}

/** Names of the variables a Compose file interpolates (`$${...}` is an escaped literal, not one). */
export function composeVariables(text: string): { all: Set<string>; required: Set<string> } {
  const all = new Set<string>();
  const required = new Set<string>();
  for (const m of text.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?+])?/g)) {
    all.add(m[1] as string);
    if (m[2] === ":?") required.add(m[1] as string);
  }
  return { all, required };
}

// ---------------------------------------------------------------------------------------------
// deploy/workerd.capnp
// ---------------------------------------------------------------------------------------------

export interface WorkerdConfig {
  compatibilityDate?: string;
  compatibilityFlags: string[];
  /** Module name -> its type (esModule, text) and embedded path, relative to the .capnp file. */
  modules: Map<string, { type: string; path: string }>;
  /** Binding name -> environment variable name. */
  fromEnvironment: Map<string, string>;
  /** Binding name -> Durable Object class name. */
  durableObjectBindings: Map<string, string>;
  namespaces: { className: string; uniqueKey?: string; enableSql: boolean }[];
  /** Disk services: name -> path. */
  disks: Map<string, { path: string; writable: boolean }>;
  durableObjectStorage?: string;
  sockets: { name: string; address: string; service: string }[];
}

/** Reads the few forms deploy/workerd.capnp uses (comments dropped first). */
export function readWorkerdConfig(text: string): WorkerdConfig {
  const code = text
    .split("\n")
    .map((line) => line.replace(/#.*$/, ""))
    .join("\n");
  const all = (re: RegExp) => [...code.matchAll(re)];
  const flags = /compatibilityFlags\s*=\s*\[([^\]]*)\]/.exec(code)?.[1] ?? "";
  return {
    compatibilityDate: /compatibilityDate\s*=\s*"([^"]+)"/.exec(code)?.[1],
    compatibilityFlags: [...flags.matchAll(/"([^"]+)"/g)].map((m) => m[1] as string),
    modules: new Map(
      all(/\(\s*name\s*=\s*"([^"]+)"\s*,\s*(esModule|text)\s*=\s*embed\s+"([^"]+)"\s*\)/g).map((m) => [
        m[1] as string,
        { type: m[2] as string, path: m[3] as string },
      ]),
    ),
    fromEnvironment: new Map(
      all(/\(\s*name\s*=\s*"([^"]+)"\s*,\s*fromEnvironment\s*=\s*"([^"]+)"\s*\)/g).map((m) => [
        m[1] as string,
        m[2] as string,
      ]),
    ),
    durableObjectBindings: new Map(
      all(/\(\s*name\s*=\s*"([^"]+)"\s*,\s*durableObjectNamespace\s*=\s*"([^"]+)"\s*\)/g).map((m) => [
        m[1] as string,
        m[2] as string,
      ]),
    ),
    namespaces: all(/\(\s*className\s*=\s*"([^"]+)"([^)]*)\)/g).map((m) => ({
      className: m[1] as string,
      uniqueKey: /uniqueKey\s*=\s*"([^"]+)"/.exec(m[2] as string)?.[1],
      enableSql: /enableSql\s*=\s*true/.test(m[2] as string),
    })),
    disks: new Map(
      all(/\(\s*name\s*=\s*"([^"]+)"\s*,\s*disk\s*=\s*\(([^)]*)\)/g).map((m) => [
        m[1] as string,
        {
          path: /path\s*=\s*"([^"]+)"/.exec(m[2] as string)?.[1] ?? "",
          writable: /writable\s*=\s*true/.test(m[2] as string),
        },
      ]),
    ),
    durableObjectStorage: /durableObjectStorage\s*=\s*\(\s*localDisk\s*=\s*"([^"]+)"\s*\)/.exec(code)?.[1],
    sockets: all(
      /\(\s*name\s*=\s*"([^"]+)"\s*,\s*address\s*=\s*"([^"]+)"[\s\S]*?service\s*=\s*"([^"]+)"\s*\)/g,
    ).map((m) => ({ name: m[1] as string, address: m[2] as string, service: m[3] as string })),
  };
}

export const loadWorkerdConfig = () => readWorkerdConfig(readRepoFile("deploy/workerd.capnp"));

// ---------------------------------------------------------------------------------------------
// wrangler.toml (wrangler's own parser) and src/config.ts
// ---------------------------------------------------------------------------------------------

export interface WranglerRuntime {
  compatibilityDate?: string;
  compatibilityFlags: string[];
  /** Binding name -> class name. */
  durableObjects: Map<string, string>;
  /** Classes whose storage is SQLite (new_sqlite_classes of the migrations, minus deleted ones). */
  sqliteClasses: Set<string>;
  /** Classes of the migrations that are neither deleted nor renamed away. */
  migratedClasses: Set<string>;
  hyperdrive: { binding: string; id: string }[];
  /** Additional modules keep their import names (preserve_file_names) instead of hashed ones. */
  preserveFileNames: boolean;
}

export async function loadWranglerRuntime(): Promise<WranglerRuntime> {
  const { unstable_readConfig, unstable_getDurableObjectClassNameToUseSQLiteMap } = await import("wrangler");
  const config = unstable_readConfig({ config: repoPath("wrangler.toml") }, { hideWarnings: true });
  const sqlite = unstable_getDurableObjectClassNameToUseSQLiteMap(config.migrations);
  return {
    compatibilityDate: config.compatibility_date,
    compatibilityFlags: config.compatibility_flags ?? [],
    durableObjects: new Map(
      (config.durable_objects?.bindings ?? []).map((b: { name: string; class_name: string }) => [
        b.name,
        b.class_name,
      ]),
    ),
    sqliteClasses: new Set([...sqlite].filter(([, useSqlite]) => useSqlite).map(([name]) => name)),
    migratedClasses: new Set(sqlite.keys()),
    hyperdrive: (config.hyperdrive ?? []).map((h: { binding: string; id: string }) => ({
      binding: h.binding,
      id: h.id,
    })),
    preserveFileNames: config.preserve_file_names === true,
  };
}

/** The settings src/config.ts reads: the keys of its environment schema. */
export function configSettings(): string[] {
  const source = readRepoFile("src/config.ts");
  const start = source.indexOf("const environmentSchema = z");
  const end = source.indexOf(".superRefine(", start);
  if (start < 0 || end < 0) throw new Error("src/config.ts: environmentSchema not found");
  return [...source.slice(start, end).matchAll(/^ {4}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1] as string);
}

// ---------------------------------------------------------------------------------------------
// Env files, Dockerfile, templates
// ---------------------------------------------------------------------------------------------

/** Names an env file mentions: `NAME=` lines, commented out or not. */
export function envFileNames(text: string): { set: Set<string>; mentioned: Set<string> } {
  const set = new Set<string>();
  const mentioned = new Set<string>();
  for (const line of text.split("\n")) {
    const m = /^(#\s*)?([A-Z][A-Z0-9_]*)=/.exec(line.trim());
    if (!m) continue;
    mentioned.add(m[2] as string);
    if (!m[1]) set.add(m[2] as string);
  }
  return { set, mentioned };
}

/** Values of the uncommented `NAME=value` lines of an env file. */
export function envFileValues(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) values.set(m[1] as string, (m[2] as string).trim());
  }
  return values;
}

export interface DockerStage {
  from: string;
  name?: string;
  lines: string[];
}

/** deploy/Dockerfile's stages, with `ARG` defaults substituted in FROM and continuation lines joined. */
export function dockerStages(text: string): DockerStage[] {
  const joined = text.replace(/\\\n/g, " ");
  const args = new Map<string, string>();
  const stages: DockerStage[] = [];
  for (const raw of joined.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const arg = /^ARG\s+([A-Za-z_][A-Za-z0-9_]*)=(\S+)/.exec(line);
    if (arg && stages.length === 0) args.set(arg[1] as string, arg[2] as string);
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) {
      const image = (from[1] as string).replace(/\$\{(\w+)\}/g, (_, n: string) => args.get(n) ?? "");
      stages.push({ from: image, name: from[2], lines: [] });
      continue;
    }
    stages.at(-1)?.lines.push(line);
  }
  return stages;
}

/**
 * The `${NAME}` placeholders of a template outside its comments (`#` for nginx, `;` for
 * pgbouncer.ini); nginx's own `$name` variables are not placeholders.
 */
export function templateVariables(text: string, comment = "#"): Set<string> {
  const code = text
    .split("\n")
    .map((line) => (line.includes(comment) ? line.slice(0, line.indexOf(comment)) : line))
    .join("\n");
  return new Set([...code.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1] as string));
}

/**
 * Renders a template as the nginx image does (envsubst of the variables that are defined): each
 * `${NAME}` with a value is replaced, everything else is left alone. Throws if a placeholder
 * would stay, since nginx would then fail on it.
 */
export function renderTemplate(text: string, vars: Record<string, string>): string {
  const rendered = text.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g,
    (match, name: string) => vars[name] ?? match,
  );
  const left = [...templateVariables(rendered)];
  if (left.length > 0) throw new Error(`template placeholders without a value: ${left.join(", ")}`);
  return rendered;
}

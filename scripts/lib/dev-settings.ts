/**
 * Where `npm run dev` takes each setting from, and how it hands the Worker's to wrangler.
 *
 * Every setting, the Worker's (the names src/config.ts validates, SETTING_NAMES) and the dev server's
 * own (PORT, DATA_DIR, ...), comes from the environment or from .dev.vars, the environment winning;
 * an empty value counts as not set, as in the Worker. wrangler passes none of the environment to the
 * Worker, so the Worker's settings go to it in a generated env file (formatEnvLine). Some the dev
 * server makes itself when neither source has them (DATABASE_URL, JWT_SECRET, ENV). Every name read
 * is remembered with its source, for the summary printed at start: names and sources only, never a
 * value, so no secret reaches the terminal.
 */
import { existsSync, readFileSync } from "node:fs";
import { SETTING_NAMES } from "../../src/config";
import { DevError } from "./dev-error";

/** The Worker's settings: exactly what src/config.ts reads. */
export const WORKER_SETTINGS: readonly string[] = SETTING_NAMES;

export type SettingSource = "environment" | "file" | "made";

interface Taken {
  value: string;
  source: SettingSource;
  /** What they are, for settings the dev server made; "over .dev.vars" when the environment won. Never a value. */
  note?: string;
}

export class DevSettings {
  private readonly taken = new Map<string, Taken>();
  private readonly notes: string[] = [];

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly fileVars: Record<string, string>,
    /** How the settings file is named in messages, e.g. ".dev.vars". */
    readonly fileLabel: string,
  ) {}

  /**
   * The value of a setting, from the environment, else the file; undefined when neither has one.
   * `accept` rejects an environment value that cannot be meant for us (the file's is then used).
   */
  get(name: string, accept?: { test: (value: string) => boolean; why: string }): string | undefined {
    const known = this.taken.get(name);
    if (known) return known.value;
    const fromEnv = this.env[name];
    if (fromEnv !== undefined && fromEnv.trim() !== "") {
      if (!accept || accept.test(fromEnv.trim())) {
        const shadowed = this.fileVars[name]?.trim() ? `over ${this.fileLabel}` : undefined;
        return this.take(name, fromEnv, "environment", shadowed);
      }
      this.notes.push(`ignoring ${name} from the environment: ${accept.why}`);
    }
    const fromFile = this.fileVars[name];
    if (fromFile !== undefined && fromFile.trim() !== "") return this.take(name, fromFile, "file");
    return undefined;
  }

  /** A setting the dev server made because neither source had it. */
  make(name: string, value: string, note: string): string {
    this.taken.set(name, { value, source: "made", note });
    return value;
  }

  sourceOf(name: string): SettingSource | undefined {
    return this.taken.get(name)?.source;
  }

  /** The Worker's settings that have a value, for its env file. */
  workerVars(): Record<string, string> {
    const vars: Record<string, string> = {};
    for (const name of WORKER_SETTINGS) {
      const value = this.get(name);
      if (value !== undefined) vars[name] = value;
    }
    return vars;
  }

  /** Names in the settings file that npm run dev does not use: most likely typos. */
  unusedFileNames(): string[] {
    return Object.keys(this.fileVars).filter(
      (name) => !this.taken.has(name) && !WORKER_SETTINGS.includes(name),
    );
  }

  /** What came from where, one line per source; names (and notes) only, never a value. */
  summary(): string[] {
    const named = (source: SettingSource) =>
      [...this.taken]
        .filter(([, t]) => t.source === source)
        .map(([name, t]) => (t.note ? `${name} (${t.note})` : name))
        .sort();
    const lines: string[] = [...this.notes];
    const fromEnv = named("environment");
    const fromFile = named("file");
    const made = named("made");
    if (fromEnv.length > 0) lines.push(`settings from the environment: ${fromEnv.join(", ")}`);
    if (fromFile.length > 0) lines.push(`settings from ${this.fileLabel}: ${fromFile.join(", ")}`);
    if (made.length > 0) lines.push(`settings made by npm run dev: ${made.join(", ")}`);
    const defaults = WORKER_SETTINGS.filter((name) => !this.taken.has(name)).length;
    lines.push(`the Worker's other ${defaults} settings take their defaults (.dev.vars.example lists them)`);
    const unused = this.unusedFileNames();
    if (unused.length > 0) {
      lines.push(
        `warning: ${this.fileLabel} sets ${unused.join(", ")}, which npm run dev does not use (a typo?)`,
      );
    }
    return lines;
  }

  private take(name: string, value: string, source: SettingSource, note?: string): string {
    this.taken.set(name, { value, source, note });
    return value;
  }
}

/** The settings file, or nothing when it does not exist. */
export function readDevVars(file: string): Record<string, string> {
  if (!existsSync(file)) return {};
  try {
    return parseDevVars(readFileSync(file, "utf8"));
  } catch (error) {
    throw new DevError(`cannot read ${file}: ${(error as Error).message}`);
  }
}

/**
 * .dev.vars, parsed simply and like wrangler's dotenv does for the cases that matter:
 * `KEY=VALUE` lines, optional `export `, `#` comments (an unquoted value ends at `#`),
 * values optionally in '…', "…" or `…` quotes ("\n" in double quotes is a newline).
 */
export function parseDevVars(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === "" || line.startsWith("#")) continue;
    const match = /^(?:export\s+)?([\w.-]+)\s*=\s*(.*)$/.exec(line);
    if (!match) continue;
    const key = match[1] as string;
    const rest = match[2] as string;
    const quoted = /^(['"`])(.*?)\1\s*(?:#.*)?$/.exec(rest);
    if (quoted) {
      const value = quoted[2] as string;
      vars[key] = quoted[1] === '"' ? value.replace(/\\n/g, "\n").replace(/\\r/g, "\r") : value;
    } else {
      vars[key] = (rest.split("#")[0] as string).trim();
    }
  }
  return vars;
}

/**
 * One line of an env file that wrangler's loader (dotenv, then dotenv-expand) reads back as exactly
 * `value`: quoted so that `#` and spaces survive, every `$` escaped so that nothing is expanded.
 */
export function formatEnvLine(key: string, value: string): string {
  if (/[\r\n]/.test(value)) throw new DevError(`${key}: multi-line values are not supported`);
  const quote = ["'", "`", '"'].find((q) => !value.includes(q));
  if (!quote) throw new DevError(`${key}: a value cannot contain all of ' " and \``);
  return `${key}=${quote}${value.replace(/\$/g, "\\$")}${quote}`;
}

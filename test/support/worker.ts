/**
 * Runs the Worker bundle in workerd through Miniflare, outside of any test framework, so
 * tests (test/support/app.ts) and benchmarks (bench/) start it the same way.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  convertV4MiniflareOptions,
  Miniflare,
  type V4MiniflareOptions,
  type WorkerdStructuredLog,
} from "miniflare";
import { repositoryRoot } from "./bundle";

export interface WorkerRuntime {
  bundlePath: string;
  /** Runtime options derived from wrangler.toml (see runtimeOptionsFromWranglerToml). */
  workerOptions: Record<string, unknown>;
}

export interface RunningWorker {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  /** Lines the Worker wrote to stdout/stderr (its JSON logs). */
  logs: string[];
  dispose(): Promise<void>;
}

/**
 * The options wrangler derives from wrangler.toml that describe the runtime (compatibility,
 * Durable Objects); bindings are left out, each caller decides every setting. Importing
 * wrangler costs seconds, so callers do this once (the test global setup) and pass it on.
 */
export async function runtimeOptionsFromWranglerToml(): Promise<Record<string, unknown>> {
  const { unstable_getMiniflareWorkerOptions } = await import("wrangler");
  const { workerOptions } = unstable_getMiniflareWorkerOptions(join(repositoryRoot, "wrangler.toml"));
  // No modulesRules: the bundle is one module that imports only the runtime's built-ins, and
  // Miniflare 5 refuses the option.
  const keep = ["compatibilityDate", "compatibilityFlags", "durableObjects"] as const;
  return JSON.parse(JSON.stringify(Object.fromEntries(keep.map((k) => [k, workerOptions[k]]))));
}

export async function startWorker(
  runtime: WorkerRuntime,
  bindings: Record<string, string>,
  options: { port?: number; keepLogs?: boolean } = {},
): Promise<RunningWorker> {
  const logs: string[] = [];
  // Miniflare 5 runs workerd with structured logging: each console line of the Worker arrives as
  // one record whose message is the text the Worker wrote.
  const collect = (record: WorkerdStructuredLog) => {
    if (options.keepLogs === false) return;
    logs.push(...record.message.split("\n").filter(Boolean));
  };
  // The options wrangler derives are in Miniflare's version-4 shape (what wrangler itself
  // passes on); convertV4MiniflareOptions turns them into Miniflare 5's, as wrangler does.
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      ...runtime.workerOptions,
      name: "braumchat-api",
      modulesRoot: dirname(runtime.bundlePath),
      modules: bundleModules(runtime.bundlePath),
      bindings,
      host: "127.0.0.1",
      port: options.port ?? 0,
      handleStructuredLogs: collect,
    } as V4MiniflareOptions),
  );
  const url = (await mf.ready).toString().replace(/\/$/, "");
  return { url, logs, dispose: () => mf.dispose() };
}

/**
 * The bundle's modules as wrangler wrote them: the entry, and beside it the files wrangler.toml's
 * Text rules keep out of it (the /docs assets), found from the entry's own imports of them.
 */
function bundleModules(entry: string): { type: "ESModule" | "Text"; path: string }[] {
  const imported = [...readFileSync(entry, "utf8").matchAll(/^import \w+ from "([^":]+)";$/gm)].map(
    (m) => m[1] as string,
  );
  const root = dirname(entry);
  // Node built-ins (`crypto`) are the runtime's; only files wrangler wrote beside the entry count.
  const files = imported.map((name) => join(root, name)).filter((path) => existsSync(path));
  return [{ type: "ESModule", path: entry }, ...files.map((path) => ({ type: "Text" as const, path }))];
}

/**
 * Runs the Worker bundle in workerd through Miniflare, outside of any test framework, so
 * tests (test/support/app.ts) and benchmarks (bench/) start it the same way.
 */
import { join } from "node:path";
import { Miniflare } from "miniflare";
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
  const keep = ["compatibilityDate", "compatibilityFlags", "durableObjects", "modulesRules"] as const;
  return JSON.parse(JSON.stringify(Object.fromEntries(keep.map((k) => [k, workerOptions[k]]))));
}

export async function startWorker(
  runtime: WorkerRuntime,
  bindings: Record<string, string>,
  options: { port?: number; keepLogs?: boolean } = {},
): Promise<RunningWorker> {
  const logs: string[] = [];
  const collect = (stream: NodeJS.ReadableStream) => {
    let pending = "";
    stream.on("data", (chunk: Buffer) => {
      if (options.keepLogs === false) return;
      pending += chunk.toString("utf8");
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      logs.push(...lines.filter(Boolean));
    });
  };
  const mf = new Miniflare({
    ...runtime.workerOptions,
    name: "braumchat-api",
    modules: true,
    scriptPath: runtime.bundlePath,
    bindings,
    host: "127.0.0.1",
    port: options.port ?? 0,
    handleRuntimeStdio: (stdout: NodeJS.ReadableStream, stderr: NodeJS.ReadableStream) => {
      collect(stdout);
      collect(stderr);
    },
  } as ConstructorParameters<typeof Miniflare>[0]);
  const url = (await mf.ready).toString().replace(/\/$/, "");
  return { url, logs, dispose: () => mf.dispose() };
}

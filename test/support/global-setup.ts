/**
 * Runs once before the suite: builds the bundle under test, starts the store bridge the
 * test files share (each file isolates itself with its own key prefix), and prints what the
 * run uses, so a reader of the log knows which PostgreSQL and Redis were exercised.
 */

import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { buildBundle, repositoryRoot } from "./bundle";
import { describePostgres } from "./database";
import { startTestStore } from "./store";

declare module "vitest" {
  export interface ProvidedContext {
    bundlePath: string;
    /** The runtime options wrangler derives from wrangler.toml (compatibility, Durable Objects). */
    workerOptions: Record<string, unknown>;
    /** null when no Redis could be had outside CI: the Worker then uses its in-memory store. */
    store: { restUrl: string; token: string; redisUrl: string } | null;
  }
}

/**
 * Read once here rather than in every test file: importing wrangler costs seconds. Only the
 * options that describe the runtime are kept; the tests decide every binding themselves.
 */
function runtimeOptionsFromWranglerToml(): Record<string, unknown> {
  const { workerOptions } = unstable_getMiniflareWorkerOptions(join(repositoryRoot, "wrangler.toml"));
  const keep = ["compatibilityDate", "compatibilityFlags", "durableObjects", "modulesRules"] as const;
  return JSON.parse(JSON.stringify(Object.fromEntries(keep.map((k) => [k, workerOptions[k]]))));
}

export default async function setup(project: TestProject) {
  const started = Date.now();
  const bundlePath = buildBundle();
  const store = await startTestStore();
  const postgres = await describePostgres();
  console.info(
    [
      `test rig: bundle built in ${Date.now() - started} ms (${bundlePath})`,
      `test rig: ${postgres}`,
      store
        ? `test rig: Redis ${store.kind} at ${store.redisUrl}, Upstash bridge at ${store.restUrl}`
        : "test rig: no Redis found; the Worker uses its in-memory store and store-protocol tests are skipped",
    ].join("\n"),
  );
  project.provide("bundlePath", bundlePath);
  project.provide("workerOptions", runtimeOptionsFromWranglerToml());
  project.provide(
    "store",
    store ? { restUrl: store.restUrl, token: store.token, redisUrl: store.redisUrl } : null,
  );
  return async () => {
    await store?.stop();
  };
}

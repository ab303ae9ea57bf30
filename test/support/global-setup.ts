/**
 * Runs once before the suite: builds the bundle under test, starts the store bridge the
 * test files share (each file isolates itself with its own key prefix), finds PostgreSQL (or
 * starts an embedded one where none answers, outside CI), and prints what the run uses, so a
 * reader of the log knows which PostgreSQL and Redis were exercised.
 */

import type { TestProject } from "vitest/node";
import { buildBundle, TEST_ENTRY } from "./bundle";
import { type ProvidedPostgres, provisionTestPostgres } from "./database";
import { startTestStore } from "./store";
import { runtimeOptionsFromWranglerToml } from "./worker";

declare module "vitest" {
  export interface ProvidedContext {
    bundlePath: string;
    /** The runtime options wrangler derives from wrangler.toml (compatibility, Durable Objects). */
    workerOptions: Record<string, unknown>;
    /** null when no Redis could be had outside CI: the Worker then uses its in-memory store. */
    store: { restUrl: string; token: string; redisUrl: string } | null;
    /** The PostgreSQL server test databases are made on (test/support/database.ts). */
    postgres: ProvidedPostgres;
  }
}

export default async function setup(project: TestProject) {
  const started = Date.now();
  const bundlePath = buildBundle(undefined, TEST_ENTRY);
  const store = await startTestStore();
  const postgres = await provisionTestPostgres().catch(async (error) => {
    await store?.stop();
    throw error;
  });
  console.info(
    [
      `test rig: bundle built in ${Date.now() - started} ms (${bundlePath})`,
      `test rig: ${postgres.description}`,
      store
        ? `test rig: Redis ${store.kind} at ${store.redisUrl}, Upstash bridge at ${store.restUrl}`
        : "test rig: no Redis found; the Worker uses its in-memory store and store-protocol tests are skipped",
    ].join("\n"),
  );
  project.provide("bundlePath", bundlePath);
  project.provide("workerOptions", await runtimeOptionsFromWranglerToml());
  project.provide("postgres", postgres.provided);
  project.provide(
    "store",
    store ? { restUrl: store.restUrl, token: store.token, redisUrl: store.redisUrl } : null,
  );
  return async () => {
    await store?.stop();
    await postgres.stop();
  };
}

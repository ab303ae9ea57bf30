/**
 * Builds the Worker bundle exactly as `npm run build` does (wrangler's dry-run output), so
 * the tests exercise the same file that is deployed and self-hosted.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const testBundleDir = join(repositoryRoot, ".test-dist");
export const testBundlePath = join(testBundleDir, "index.js");

/** The test suite's entry: the deployed Worker plus test-only routes and probes (test-worker.ts). */
export const TEST_ENTRY = join(repositoryRoot, "test/support/test-worker.ts");

/**
 * Bundles `entry` (default: wrangler.toml's main, the deployed Worker) with wrangler's settings.
 */
export function buildBundle(outdir = testBundleDir, entry?: string): string {
  execFileSync(
    join(repositoryRoot, "node_modules/.bin/wrangler"),
    [
      "deploy",
      ...(entry ? [entry] : []),
      "--dry-run",
      "--outdir",
      outdir,
      "--config",
      join(repositoryRoot, "wrangler.toml"),
    ],
    {
      cwd: repositoryRoot,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
    },
  );
  const bundle = join(outdir, entry ? `${entry.split("/").at(-1)?.replace(/\.ts$/, "")}.js` : "index.js");
  if (!existsSync(bundle)) throw new Error(`wrangler did not produce ${bundle}`);
  return bundle;
}

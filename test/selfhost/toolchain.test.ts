/**
 * One runtime everywhere (runs in `npm test`; starts nothing but `workerd --version`):
 * - the lockfile holds one workerd, the one wrangler (build, `npm run dev`), Miniflare (the tests)
 *   and deploy/Dockerfile's api image (which copies the locked package's binary) all run;
 * - wrangler.toml and deploy/workerd.capnp use that workerd's own compatibility date, so
 *   upgrading workerd fails here until both files move to the new date (read the compatibility
 *   flags that changed in between first);
 * - the Node the project runs on (.nvmrc, fetched by .ci/run on an older machine) satisfies
 *   package.json's engines, and the tools image uses the same Node line.
 */
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { beforeAll, describe, expect, it } from "vitest";
import {
  dockerStages,
  loadWorkerdConfig,
  loadWranglerRuntime,
  readRepoFile,
  type WranglerRuntime,
} from "./files";

const require = createRequire(import.meta.url);
/** The installed `workerd` package: its binary, version and the compatibility date it declares. */
const installed = require("workerd") as { default: string; version: string; compatibilityDate: string };

interface LockEntry {
  version?: string;
  dependencies?: Record<string, string>;
}
const lock = JSON.parse(readRepoFile("package-lock.json")) as { packages: Record<string, LockEntry> };
/** Every copy of a package in the lockfile, nested ones included: "path@version". */
const lockedCopies = (name: string) =>
  Object.entries(lock.packages)
    .filter(([path]) => path === `node_modules/${name}` || path.endsWith(`/node_modules/${name}`))
    .map(([path, entry]) => `${path}@${entry.version}`);

let wrangler: WranglerRuntime;
beforeAll(async () => {
  wrangler = await loadWranglerRuntime();
});

describe("workerd", () => {
  it("is locked once, and wrangler and Miniflare both use that copy", () => {
    expect(lockedCopies("workerd"), "one workerd for the tests, the build and the image").toEqual([
      `node_modules/workerd@${installed.version}`,
    ]);
    for (const platform of ["linux-64", "linux-arm64"]) {
      expect(lockedCopies(`@cloudflare/workerd-${platform}`)).toEqual([
        `node_modules/@cloudflare/workerd-${platform}@${installed.version}`,
      ]);
    }
    for (const tool of ["wrangler", "miniflare"]) {
      expect(lock.packages[`node_modules/${tool}`]?.dependencies?.workerd, tool).toBe(installed.version);
    }
  });

  it("is the binary the api image copies and the self-hosting suite runs", () => {
    const build = dockerStages(readRepoFile("deploy/Dockerfile")).find((s) => s.name === "build");
    expect(build?.lines.join("\n")).toContain(
      `cp "$(node -p "require('workerd').default")" /usr/local/bin/workerd`,
    );
    expect(execFileSync(installed.default, ["--version"], { encoding: "utf8" }).trim()).toBe(
      `workerd ${installed.compatibilityDate}`,
    );
  });

  it("runs the Worker at its own compatibility date, in wrangler.toml and deploy/workerd.capnp alike", () => {
    const upgrade = `the installed workerd ${installed.version} declares ${installed.compatibilityDate}: set it in both files after reading the compatibility flags that changed`;
    expect(wrangler.compatibilityDate, `wrangler.toml: ${upgrade}`).toBe(installed.compatibilityDate);
    expect(loadWorkerdConfig().compatibilityDate, `deploy/workerd.capnp: ${upgrade}`).toBe(
      installed.compatibilityDate,
    );
  });
});

describe("Node", () => {
  const pinned = readRepoFile(".nvmrc").trim();
  const version = (text: string) => text.split(".").map(Number) as [number, number, number];

  it("pins in .nvmrc a version that package.json's engines accept", () => {
    expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
    const engines = (JSON.parse(readRepoFile("package.json")) as { engines: { node: string } }).engines.node;
    const minimum = /^>=(\d+\.\d+\.\d+)$/.exec(engines)?.[1];
    expect(minimum, `engines.node is ">=x.y.z" (.ci/run reads it): ${engines}`).toBeDefined();
    const [a, b] = [version(pinned), version(minimum as string)];
    const atLeast = a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
    expect(atLeast, `.nvmrc ${pinned} is older than engines ${engines}`).toBeGreaterThanOrEqual(0);
    expect(readRepoFile(".npmrc")).toMatch(/^engine-strict=true$/m);
  });

  it("is the same line in the images that run Node", () => {
    const nodeStages = dockerStages(readRepoFile("deploy/Dockerfile")).filter((s) =>
      s.from.startsWith("node:"),
    );
    expect(nodeStages.map((s) => s.name)).toEqual(["deps", "tools"]);
    for (const s of nodeStages) expect(s.from, s.name).toBe(`node:${version(pinned)[0]}-bookworm-slim`);
  });
});

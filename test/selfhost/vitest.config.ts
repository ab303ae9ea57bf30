/**
 * `npm run test:selfhost`: the self-hosted stack (docker-compose.yml's services, run on this
 * machine without Docker) behind a real nginx, over HTTPS and WSS, plus the static checks of the
 * deploy files. Not part of `npm test` (smoke files end in .selfhost.ts).
 */
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  root: fileURLToPath(new URL("../..", import.meta.url)),
  test: {
    include: ["test/selfhost/**/*.selfhost.ts", "test/selfhost/static.test.ts"],
    environment: "node",
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 240_000,
  },
});

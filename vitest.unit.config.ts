import { defineConfig } from "vitest/config";

/**
 * The fast tier (`npm run test:unit`): the unit tests beside the code in src/, which need no
 * bundle, database or store, and the check of the pointers into docs/. `npm test` runs them too,
 * with everything else.
 */
export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/docs/references.test.ts"],
    environment: "node",
  },
});

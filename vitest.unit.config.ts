import { defineConfig } from "vitest/config";

/**
 * The fast tier (`npm run test:unit`): the unit tests beside the code in src/, which need no
 * bundle, database or store. `npm test` runs them too, with everything else.
 */
export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});

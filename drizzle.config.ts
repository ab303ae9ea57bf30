import { defineConfig } from "drizzle-kit";

// `npx drizzle-kit generate --name <what>` writes the next migration into ./migrations offline; apply
// migrations with `npm run db:migrate` (scripts/migrate.ts), which also adopts databases of the original
// service. Do not use `drizzle-kit migrate`/`push`: they know nothing about adoption.
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/db/schema.ts",
  out: "./migrations",
});

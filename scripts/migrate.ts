/**
 * `npm run db:migrate`: applies ./migrations to the database at DATABASE_URL (and adopts a database of the
 * original service, see scripts/lib/migrate.ts). Exit status 0 on success, 1 on any failure.
 */
import postgres from "postgres";
import { AdoptionRefusedError, DatabaseUnreachableError, migrateDatabase, redactUrl } from "./lib/migrate";

async function main(): Promise<number> {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    console.error("DATABASE_URL is not set; `npm run dev` migrates its embedded database by itself.");
    return 1;
  }
  const started = Date.now();
  console.log(`Migrating ${redactUrl(databaseUrl)}`);
  try {
    const { adopted, applied } = await migrateDatabase(databaseUrl, {
      log: (msg) => console.log(`  ${msg}`),
    });
    const done: string[] = [];
    if (adopted) done.push("adopted the original service's database");
    if (applied > 0) done.push(`applied ${applied} migration${applied === 1 ? "" : "s"}`);
    if (done.length === 0) done.push("already up to date");
    console.log(`Done: ${done.join(", ")} (${Date.now() - started} ms).`);
    return 0;
  } catch (error) {
    console.error(`Migration failed: ${describeError(error)}`);
    return 1;
  }
}

/** The message, plus the server's SQLSTATE and the underlying error of a failed migration statement. */
function describeError(error: unknown): string {
  if (error instanceof DatabaseUnreachableError || error instanceof AdoptionRefusedError)
    return error.message;
  if (error instanceof postgres.PostgresError) return `${error.message} (SQLSTATE ${error.code})`;
  if (error instanceof Error) {
    // drizzle wraps a failing statement: "Failed query: <sql>", with the server's error as the cause.
    const cause = error.cause instanceof Error ? `\n  caused by: ${describeError(error.cause)}` : "";
    return `${error.stack ?? error.message}${cause}`;
  }
  return String(error);
}

process.exitCode = await main();

/**
 * The database of `npm run dev` when DATABASE_URL is not set: the embedded PostgreSQL
 * (scripts/lib/embedded-postgres.ts) on the data in $DATA_DIR/postgres, with a password made once
 * and kept in $DATA_DIR/postgres-password.
 *
 * Earlier versions kept the dev database in PGlite (PostgreSQL compiled to WASM) under
 * $DATA_DIR/pglite. PostgreSQL cannot open PGlite's files and the dev server no longer starts PGlite,
 * so that folder is left as it is and named at every start until the developer deletes it
 * (README, "Development database", says how to copy rows out of it).
 */
import { existsSync, rmSync } from "node:fs";
import path from "node:path";
import { type EmbeddedPostgres, EmbeddedPostgresError, startEmbeddedPostgres } from "./embedded-postgres";
import { keptSecret } from "./kept-secret";

export interface DevDatabaseOptions {
  dataDir: string;
  port: number;
  say: (line: string) => void;
  /** How to show a path in messages (relative to the working folder where that is shorter). */
  show: (file: string) => string;
}

export async function startDevDatabase(options: DevDatabaseOptions): Promise<EmbeddedPostgres> {
  const { dataDir, port, say, show } = options;
  const pgDataDir = path.join(dataDir, "postgres");
  const oldPglite = path.join(dataDir, "pglite");
  if (existsSync(oldPglite)) {
    say(
      `${show(oldPglite)} is the database of an earlier version of the dev server (PGlite) and is no ` +
        `longer used: the dev database is now a real PostgreSQL in ${show(pgDataDir)}. Nothing was copied ` +
        `from it; delete ${show(oldPglite)} once you do not need it (README, "Development database", ` +
        "says how to copy rows out of it).",
    );
  }
  const firstStart = !existsSync(path.join(pgDataDir, "PG_VERSION"));
  const passwordFile = path.join(dataDir, "postgres-password");
  const password = keptSecret(passwordFile);
  if (password.generated && !firstStart) {
    rmSync(passwordFile, { force: true });
    throw new EmbeddedPostgresError(
      `${show(passwordFile)}, the password the embedded database in ${show(pgDataDir)} was made with, is ` +
        `missing: put it back, or move ${show(pgDataDir)} aside to start with an empty database`,
    );
  }
  if (firstStart) say("creating the embedded database (first start only, a few seconds)");
  const started = Date.now();
  const embedded = await startEmbeddedPostgres({
    dataDir: pgDataDir,
    port,
    password: password.value,
    log: say,
  });
  say(
    `DATABASE_URL is not set: started the embedded PostgreSQL ${embedded.version} on 127.0.0.1:${port} ` +
      `in ${Date.now() - started} ms (data in ${show(pgDataDir)}, password in ${show(passwordFile)})`,
  );
  return embedded;
}

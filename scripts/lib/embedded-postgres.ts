/**
 * An embedded PostgreSQL for local development: PGlite (PostgreSQL compiled to WASM, running in
 * this Node process) keeps its data in a folder, and PGLiteSocketServer serves it over the
 * Postgres wire protocol, so postgres.js inside `wrangler dev` and drizzle's migrator can both
 * connect to it like to any server. Nothing to install beyond `npm install`.
 *
 * PGlite is a single-session database: the socket server multiplexes up to `maxConnections`
 * clients onto it, one query (or one transaction) at a time. That is plenty for one developer,
 * not a production database.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

export interface EmbeddedPostgresOptions {
  /** Folder that holds the database files; created if needed. */
  dataDir: string;
  /** TCP port to serve on. */
  port: number;
  /** Address to listen on (default 127.0.0.1: only this machine). */
  host?: string;
}

export interface EmbeddedPostgres {
  /** A postgres:// URL for clients (user postgres, database postgres, no password). */
  url: string;
  /** Closes the server, then the database so that its files are flushed. Safe to call twice. */
  stop(): Promise<void>;
}

/** An expected failure (port taken, folder in use): its message is meant for the user as is. */
export class EmbeddedPostgresError extends Error {
  override name = "EmbeddedPostgresError";
}

/** The setting that moves the port; named in the error when the port is taken. */
const PORT_SETTING = "EMBEDDED_PG_PORT";
const MAX_CONNECTIONS = 20;

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const host = options.host ?? "127.0.0.1";
  const { port } = options;
  const dataDir = path.resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });

  // PGlite takes no lock of its own: two processes on one folder would corrupt it.
  const releaseLock = acquireLock(`${dataDir}.lock`, dataDir);
  let db: PGlite | undefined;
  try {
    // Check the port before opening the database: a first start spends seconds in initdb.
    await ensurePortFree(host, port);
    try {
      db = await PGlite.create(dataDir);
    } catch (error) {
      throw new EmbeddedPostgresError(
        `could not open the embedded database in ${dataDir}: ${describe(error)} ` +
          "(move or delete that folder to start with an empty database)",
      );
    }
    const server = new PGLiteSocketServer({ db, host, port, maxConnections: MAX_CONNECTIONS });
    try {
      await server.start();
    } catch (error) {
      // Another process took the port between the check and now.
      throw portError(error, host, port);
    }

    const database = db;
    let stopping: Promise<void> | undefined;
    return {
      url: `postgres://postgres@${host.includes(":") ? `[${host}]` : host}:${port}/postgres`,
      stop() {
        stopping ??= (async () => {
          try {
            await server.stop();
          } finally {
            try {
              await database.close();
            } finally {
              releaseLock();
            }
          }
        })();
        return stopping;
      },
    };
  } catch (error) {
    await db?.close().catch(() => {});
    releaseLock();
    throw error;
  }
}

async function ensurePortFree(host: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once("error", (error) => reject(portError(error, host, port)));
    probe.listen({ host, port }, () => probe.close(() => resolve()));
  });
}

function portError(error: unknown, host: string, port: number): Error {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "EADDRINUSE") {
    return new EmbeddedPostgresError(
      `port ${port} on ${host} for the embedded database is already in use; ` +
        `set ${PORT_SETTING} to another port`,
    );
  }
  if (code === "EACCES") {
    return new EmbeddedPostgresError(
      `not allowed to listen on port ${port} for the embedded database; set ${PORT_SETTING} to a port above 1024`,
    );
  }
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * A lock file beside the data folder holding our pid. A lock left by a process that no longer
 * runs (killed with SIGKILL, machine crash) is taken over.
 */
function acquireLock(lockPath: string, dataDir: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, "wx", 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        rmSync(lockPath, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = Number.parseInt(safeRead(lockPath), 10);
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isRunning(owner)) {
        throw new EmbeddedPostgresError(
          `the embedded database in ${dataDir} is already in use by process ${owner} ` +
            `(another "npm run dev"?); stop it, or delete ${lockPath} if that process is not one`,
        );
      }
      rmSync(lockPath, { force: true });
    }
  }
  throw new EmbeddedPostgresError(`could not lock the embedded database (${lockPath})`);
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

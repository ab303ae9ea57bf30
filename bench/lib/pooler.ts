/**
 * PgBouncer in front of the benchmark's database, as the self-hosted stack runs it
 * (docker-compose.yml) and as Hyperdrive does on Cloudflare.
 *
 * Why: a stateless Worker cannot keep a PostgreSQL connection across requests, so every request
 * that touches the database connects. Against PostgreSQL itself each connect starts a backend
 * process (measured: about 10 ms of the machine's CPU per request, more than the Worker's own
 * work); against PgBouncer it is a cheap handshake with a process that keeps a few backends warm.
 *
 * Transaction pooling hands a backend to a client for one transaction only, so the Worker runs
 * with DATABASE_PREPARE=false (PgBouncer before 1.21, as Debian bookworm ships, cannot keep named
 * prepared statements apart).
 */
import { spawn } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stopperFor } from "../../test/support/child-process";
import { freePort } from "../../test/support/store";

const CANDIDATES = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer", "/usr/local/bin/pgbouncer"];

export interface Pooler {
  /** `databaseUrl` with its host and port replaced by the pooler's. */
  url: string;
  pid: number | undefined;
  stop(): Promise<void>;
}

export function pgbouncerBinary(): string | undefined {
  return CANDIDATES.find((path) => existsSync(path));
}

async function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Starts PgBouncer (transaction pooling) for the server behind `databaseUrl`. */
export async function startPgBouncer(databaseUrl: string, poolSize = 8): Promise<Pooler> {
  const binary = pgbouncerBinary();
  if (!binary) throw new Error("pgbouncer is not installed (Debian: apt-get install pgbouncer)");
  const target = new URL(databaseUrl);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "bench-pgbouncer-"));
  const user = decodeURIComponent(target.username || "postgres");
  writeFileSync(join(dir, "users.txt"), `"${user}" "${decodeURIComponent(target.password)}"\n`);
  writeFileSync(
    join(dir, "pgbouncer.ini"),
    [
      "[databases]",
      `* = host=${target.hostname} port=${target.port || 5432}`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      "auth_type = trust",
      `auth_file = ${join(dir, "users.txt")}`,
      "pool_mode = transaction",
      `default_pool_size = ${poolSize}`,
      "max_client_conn = 5000",
      // postgres.js sends these startup parameters; PgBouncer must not refuse them.
      "ignore_startup_parameters = extra_float_digits,options",
      "",
    ].join("\n"),
  );
  // PgBouncer refuses to run as root; on a machine where the benchmark runs as root, it runs as
  // the postgres user (who must be able to read its config).
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { execFileSync } = await import("node:child_process");
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    for (const file of ["", "users.txt", "pgbouncer.ini"]) chownSync(join(dir, file), uid, gid);
  }
  const command = asRoot ? "runuser" : binary;
  const args = asRoot
    ? ["-u", "postgres", "--", binary, join(dir, "pgbouncer.ini")]
    : [join(dir, "pgbouncer.ini")];
  const child = spawn(command, args, { stdio: "ignore" });
  const stopChild = stopperFor(child);
  const stop = async () => {
    await stopChild();
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && child.exitCode === null) {
    if (await answers(port)) {
      const url = new URL(databaseUrl);
      url.hostname = "127.0.0.1";
      url.port = String(port);
      return { url: url.toString(), pid: child.pid, stop };
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await stop();
  throw new Error(`pgbouncer did not start (exit code ${child.exitCode})`);
}

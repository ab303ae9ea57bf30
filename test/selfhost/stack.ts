/**
 * docker-compose.yml, run without Docker: the smoke suite's stack.
 *
 * Each service's command, environment and configuration files are taken from the repository's
 * compose file (interpolated from a test ".env" as Compose would) and run on this machine. Only
 * what a container gives for free is replaced: service addresses (postgres:5432 becomes the
 * local PostgreSQL, api:8080 a free local port...), listening ports and folders, and the
 * Let's Encrypt certificate (a self-signed one made with openssl).
 *
 *   postgres   the machine's PostgreSQL (a fresh, empty database of its own)
 *   migrate    its command (scripts/migrate.ts), which must exit 0 first
 *   redis      its command (append-only file, password) in a folder of its own
 *   bridge     its command (scripts/upstash-bridge.ts)
 *   pgbouncer  deploy/pgbouncer/entrypoint.sh, as in the image (Debian's pgbouncer)
 *   api        workerd from node_modules serving deploy/workerd.capnp, unchanged, with the
 *              bundle `npm run build` makes, Durable Objects on a local folder
 *   nginx      deploy/nginx/tls/default.conf.template rendered as the nginx image renders it,
 *              with deploy/nginx/braumchat/, inside a minimal nginx.conf (the image's own part)
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { buildBundle } from "../support/bundle";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { freePort, redisAnswers } from "../support/store";
import { call, type Endpoint } from "./clients";
import {
  type ComposeFile,
  dockerStages,
  interpolateTree,
  loadCompose,
  loadWorkerdConfig,
  readRepoFile,
  renderTemplate,
  repoPath,
  root,
} from "./files";
import { ManagedProcess, waitFor } from "./processes";

export const DOMAIN = "braumchat.test";

export interface SelfHostStack {
  endpoint: Endpoint;
  /** workerd's own port (what nginx proxies to), e.g. http://127.0.0.1:41234. */
  apiUrl: string;
  /** The running workerd's process id (it changes with restartApi). */
  apiPid(): number | undefined;
  /** A direct connection to the stack's database, for inspecting what the API stored. */
  sql: postgres.Sql;
  /** Its URL (the "postgres" service's database). */
  databaseUrl: string;
  /** The compose file as Compose would see it with the test's .env. */
  compose: ComposeFile;
  paths: {
    tmp: string;
    /** The api service's /data/durable-objects. */
    durableObjects: string;
    /** nginx's TLS_DIR: fullchain.pem, privkey.pem. */
    tls: string;
    /** nginx's ACME_WEBROOT. */
    webroot: string;
    nginxPid: string;
    nginxConf: string;
    nginxPrefix: string;
  };
  /** The variables the nginx templates were rendered with. */
  nginxVariables: Record<string, string>;
  /** Environment for extra processes run like the services (PATH and HOME only, as in a container). */
  baseEnv: Record<string, string>;
  processes: ManagedProcess[];
  /**
   * Stops workerd as `docker compose restart` does (SIGTERM, SIGKILL after a grace period) and
   * starts it again on the same port and storage; resolves when it is ready.
   */
  restartApi(): Promise<{ stoppedInMs: number; stoppedBy: string; readyInMs: number }>;
  /** Every process's output, for a failure report. */
  logs(): string;
  stop(): Promise<void>;
}

const hex = (bytes: number) => randomBytes(bytes).toString("hex");
const isRoot = () => process.getuid?.() === 0;

/** Makes a self-signed certificate for `domain` with openssl, as a Let's Encrypt stand-in. */
export function selfSignedCertificate(
  dir: string,
  domain: string,
  label = domain,
): { cert: string; key: string } {
  mkdirSync(dir, { recursive: true });
  const cert = join(dir, "fullchain.pem");
  const key = join(dir, "privkey.pem");
  const keyType = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"];
  const names = ["-subj", `/CN=${label}`, "-addext", `subjectAltName=DNS:${domain}`];
  execFileSync("openssl", ["req", "-x509", ...keyType, ...names, "-keyout", key, "-out", cert], {
    stdio: "ignore",
  });
  chmodSync(cert, 0o644);
  chmodSync(key, 0o644);
  return { cert, key };
}

/** The workerd binary of the locked `workerd` package (what the Dockerfile copies into the image). */
export function workerdBinary(): string {
  const require = createRequire(import.meta.url);
  return (require("workerd") as { default: string }).default;
}

export interface SelfHostOptions {
  /**
   * More variables for the test's .env, as an operator would set them (benchmarks switch the rate
   * limits off with RATE_LIMITS_ENABLED=false): the compose file decides where each one goes.
   */
  dotenv?: Record<string, string>;
  /** Opens workerd's V8 inspector on this address (host:port), for CPU profiles (bench/). */
  inspectorAddress?: string;
}

export async function startSelfHostStack(options: SelfHostOptions = {}): Promise<SelfHostStack> {
  const processes: ManagedProcess[] = [];
  let database: TestDatabase | undefined;
  let sql: postgres.Sql | undefined;
  const tmp = mkdtempSync(join(tmpdir(), "braumchat-selfhost-"));
  // Readable by the unprivileged users pgbouncer and nginx's workers run as when we are root.
  chmodSync(tmp, 0o755);

  const stop = async () => {
    for (const p of [...processes].reverse()) await p.stop();
    await sql?.end({ timeout: 2 }).catch(() => {});
    await database?.drop().catch(() => {});
    rmSync(tmp, { recursive: true, force: true });
  };

  try {
    // ---- the bundle and the config, laid out as in the image (/app/deploy, /app/dist) ---------
    const dist = join(tmp, "app/dist");
    buildBundle(dist);
    const built = (readdirSync(dist, { recursive: true }) as string[])
      .filter(
        (file) => statSync(join(dist, file)).isFile() && file !== "index.js.map" && file !== "README.md",
      )
      .sort();
    const embedded = [...loadWorkerdConfig().modules.values()]
      .map((m) => m.path.replace("../dist/", ""))
      .sort();
    if (built.join() !== embedded.join()) {
      throw new Error(
        `npm run build wrote ${built.join(", ")}; deploy/workerd.capnp embeds ${embedded.join(", ")}`,
      );
    }
    mkdirSync(join(tmp, "app/deploy"));
    copyFileSync(repoPath("deploy/workerd.capnp"), join(tmp, "app/deploy/workerd.capnp"));

    // ---- PostgreSQL: a fresh database; the "postgres" service ---------------------------------
    database = await createTestDatabase({ migrate: false });
    if (database.kind !== "postgres") {
      throw new Error(
        "npm run test:selfhost needs a PostgreSQL server (DATABASE_URL, or one on 127.0.0.1:5432)",
      );
    }
    const dbUrl = new URL(database.url);
    const pgAddress = `${dbUrl.hostname}:${dbUrl.port || "5432"}`;

    const ports = {
      redis: await freePort(),
      bridge: await freePort(),
      pgbouncer: await freePort(),
      api: await freePort(),
      http: await freePort(),
      https: await freePort(),
    };

    // ---- the test's .env, and the compose file as Compose would read it -------------------------
    const dotenv: Record<string, string> = {
      DOMAIN,
      LETSENCRYPT_EMAIL: `ops@${DOMAIN}`,
      POSTGRES_USER: decodeURIComponent(dbUrl.username) || "postgres",
      // A server that trusts local connections ignores it; pgbouncer still checks it.
      POSTGRES_PASSWORD: decodeURIComponent(dbUrl.password) || hex(16),
      POSTGRES_DB: dbUrl.pathname.slice(1),
      REDIS_PASSWORD: hex(16),
      UPSTASH_BRIDGE_TOKEN: hex(24),
      JWT_SECRET: hex(32),
      CORS_ORIGINS: `https://app.${DOMAIN}`,
      ...options.dotenv,
    };
    const compose = interpolateTree(loadCompose().value, dotenv);
    const addresses: Record<string, string> = {
      "postgres:5432": pgAddress,
      "pgbouncer:6432": `127.0.0.1:${ports.pgbouncer}`,
      "redis:6379": `127.0.0.1:${ports.redis}`,
      "bridge:8079": `127.0.0.1:${ports.bridge}`,
      "api:8080": `127.0.0.1:${ports.api}`,
    };
    const localise = (value: string) =>
      value.replace(/\b(postgres|pgbouncer|redis|bridge|api):\d+\b/g, (m) => addresses[m] ?? m);
    const baseEnv: Record<string, string> = {
      PATH: `${process.env.PATH ?? "/usr/bin:/bin"}:/usr/sbin:/sbin`,
      HOME: process.env.HOME ?? tmp,
    };
    /** A service's environment from the compose file, addresses localised, with `overrides` (existing keys only). */
    const environment = (name: string, overrides: Record<string, string> = {}) => {
      const env = compose.services[name]?.environment ?? {};
      for (const key of Object.keys(overrides)) {
        if (!(key in env)) throw new Error(`the ${name} service has no ${key} to override`);
      }
      const localised = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, localise(String(v))]));
      return { ...baseEnv, ...localised, ...overrides };
    };
    const command = (name: string) => {
      const cmd = compose.services[name]?.command;
      if (!cmd?.length) throw new Error(`the ${name} service has no command`);
      return cmd;
    };
    const start = (name: string, cmd: string, args: string[], env: Record<string, string>, group = false) => {
      const p = new ManagedProcess(name, cmd, args, { cwd: root, env, group });
      processes.push(p);
      return p;
    };

    // ---- migrate: must succeed before the api starts -------------------------------------------
    const [node, ...migrateArgs] = command("migrate");
    if (node !== "node") throw new Error("the migrate service is expected to run node");
    const migrate = start("migrate", process.execPath, migrateArgs, environment("migrate"));
    const migrated = await Promise.race([
      migrate.exited,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error("migrate timed out")), 90_000)),
    ]);
    if (migrated.code !== 0) throw new Error(`migrate exited with ${migrated.code}:\n${migrate.log}`);

    // ---- redis, with the compose command --------------------------------------------------------
    const redisDir = join(tmp, "redis");
    mkdirSync(redisDir);
    const [redisServer, ...redisArgs] = command("redis");
    const redis = start(
      "redis",
      redisServer as string,
      [...redisArgs, "--port", String(ports.redis), "--bind", "127.0.0.1", "--dir", redisDir],
      baseEnv,
    );
    const redisUrl = `redis://:${dotenv.REDIS_PASSWORD}@127.0.0.1:${ports.redis}`;
    await waitFor("redis", async () => ((await redisAnswers(redisUrl, 500)) ? true : undefined), {
      process: redis,
    });

    // ---- bridge, with the compose command -------------------------------------------------------
    const [, ...bridgeArgs] = command("bridge");
    const bridge = start(
      "bridge",
      process.execPath,
      bridgeArgs,
      environment("bridge", { UPSTASH_BRIDGE_HOST: "127.0.0.1", UPSTASH_BRIDGE_PORT: String(ports.bridge) }),
    );
    await waitFor(
      "the Upstash bridge",
      async () => {
        const res = await fetch(`http://127.0.0.1:${ports.bridge}/health`);
        return ((await res.json()) as { redis?: string }).redis === "ready" ? true : undefined;
      },
      { process: bridge },
    );

    // ---- pgbouncer, with the image's entrypoint --------------------------------------------------
    const pgbouncerRun = join(tmp, "pgbouncer");
    mkdirSync(pgbouncerRun, { mode: 0o777 });
    chmodSync(pgbouncerRun, 0o777);
    const pgbouncerEnv = {
      ...environment("pgbouncer", {
        POSTGRES_HOST: dbUrl.hostname,
        POSTGRES_PORT: dbUrl.port || "5432",
        PGBOUNCER_LISTEN_ADDR: "127.0.0.1",
        PGBOUNCER_PORT: String(ports.pgbouncer),
      }),
      // The image's /run/pgbouncer.
      PGBOUNCER_RUN_DIR: pgbouncerRun,
    };
    // The image's /opt/pgbouncer: the entrypoint and the template, copied as they are (and
    // readable by the unprivileged user wherever the repository lives).
    const image = join(tmp, "pgbouncer-image");
    mkdirSync(image, { mode: 0o755 });
    for (const file of ["entrypoint.sh", "pgbouncer.ini.template"]) {
      copyFileSync(repoPath("deploy/pgbouncer", file), join(image, file));
      chmodSync(join(image, file), 0o755);
    }
    const entrypoint = join(image, "entrypoint.sh");
    // pgbouncer refuses to run as root; the image runs it as "postgres", here "nobody".
    const asUser = isRoot() ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : [];
    const [pgbouncerCommand = "sh", ...pgbouncerArgs] = [...asUser, "sh", entrypoint];
    const pgbouncer = new ManagedProcess("pgbouncer", pgbouncerCommand, pgbouncerArgs, {
      cwd: image,
      env: pgbouncerEnv,
    });
    processes.push(pgbouncer);
    const apiDatabaseUrl = environment("api").DATABASE_URL as string;
    await waitFor(
      "pgbouncer",
      async () => {
        const probe = postgres(apiDatabaseUrl, { max: 1, connect_timeout: 2, onnotice: () => {} });
        try {
          await probe`select 1`;
          return true;
        } finally {
          await probe.end({ timeout: 1 });
        }
      },
      { process: pgbouncer },
    );

    // ---- api: workerd with the unchanged config, as the Dockerfile runs it ----------------------
    const api = dockerStages(readRepoFile("deploy/Dockerfile")).find((s) => s.name === "api");
    const cmdLine = api?.lines.filter((l) => l.startsWith("CMD ")).at(-1) ?? "";
    const [binary, ...workerdArgs] = JSON.parse(cmdLine.slice(4)) as string[];
    if (binary !== "workerd") throw new Error(`the api image runs ${binary}, not workerd`);
    const durableObjects = join(tmp, "data/durable-objects");
    mkdirSync(durableObjects, { recursive: true });
    const apiArgs = [
      ...workerdArgs.map((a) =>
        a === "/app/deploy/workerd.capnp" ? join(tmp, "app/deploy/workerd.capnp") : a,
      ),
      `--socket-addr=http=127.0.0.1:${ports.api}`,
      `--directory-path=durable-objects=${durableObjects}`,
      ...(options.inspectorAddress ? [`--inspector-addr=${options.inspectorAddress}`] : []),
    ];
    const apiEnv = environment("api");
    const startApi = async () => {
      const p = start("api", workerdBinary(), apiArgs, apiEnv);
      await waitFor(
        "the api's /readyz",
        async () => ((await fetch(`http://127.0.0.1:${ports.api}/readyz`)).status === 200 ? true : undefined),
        { process: p, timeoutMs: 30_000 },
      );
      return p;
    };
    let apiProcess = await startApi();

    // ---- nginx: the compose template, the image's frame --------------------------------------
    const nginxPrefix = join(tmp, "nginx");
    const conf = join(nginxPrefix, "conf");
    const tls = join(nginxPrefix, "tls");
    const webroot = join(nginxPrefix, "acme");
    mkdirSync(join(conf, "conf.d"), { recursive: true });
    mkdirSync(join(webroot, ".well-known/acme-challenge"), { recursive: true });
    for (const dir of [
      nginxPrefix,
      conf,
      webroot,
      join(webroot, ".well-known"),
      join(webroot, ".well-known/acme-challenge"),
    ])
      chmodSync(dir, 0o755);
    const temp = join(nginxPrefix, "temp");
    mkdirSync(temp, { mode: 0o777 });
    chmodSync(temp, 0o777);
    const cert = selfSignedCertificate(tls, DOMAIN);
    chmodSync(tls, 0o755);
    const nginxVariables = {
      ...environment("nginx", {
        NGINX_HTTP_PORT: `127.0.0.1:${ports.http}`,
        NGINX_HTTPS_PORT: `127.0.0.1:${ports.https}`,
        TLS_DIR: tls,
        ACME_WEBROOT: webroot,
      }),
    };
    writeFileSync(
      join(conf, "conf.d/default.conf"),
      renderTemplate(readRepoFile("deploy/nginx/tls/default.conf.template"), nginxVariables),
    );
    cpSync(repoPath("deploy/nginx/braumchat"), join(conf, "braumchat"), { recursive: true });
    const nginxPid = join(nginxPrefix, "nginx.pid");
    writeFileSync(join(conf, "nginx.conf"), nginxFrame(nginxPrefix, nginxPid, temp));
    const nginxConf = join(conf, "nginx.conf");
    const nginx = start(
      "nginx",
      "nginx",
      ["-p", `${nginxPrefix}/`, "-c", nginxConf, "-e", "stderr"],
      baseEnv,
      true,
    );
    const endpoint: Endpoint = {
      domain: DOMAIN,
      httpPort: ports.http,
      httpsPort: ports.https,
      ca: readFileSync(cert.cert, "utf8"),
    };
    await waitFor(
      "nginx over HTTPS",
      async () => ((await call(endpoint, "GET", "/health")).status === 200 ? true : undefined),
      {
        process: nginx,
      },
    );

    sql = postgres(database.url, { max: 2, onnotice: () => {} });

    return {
      endpoint,
      apiUrl: `http://127.0.0.1:${ports.api}`,
      apiPid: () => apiProcess.pid,
      sql,
      databaseUrl: database.url,
      compose,
      paths: { tmp, durableObjects, tls, webroot, nginxPid, nginxConf, nginxPrefix },
      nginxVariables,
      baseEnv,
      processes,
      async restartApi() {
        const t0 = Date.now();
        const exit = await apiProcess.stop();
        const stoppedInMs = Date.now() - t0;
        processes.splice(processes.indexOf(apiProcess), 1);
        const t1 = Date.now();
        apiProcess = await startApi();
        return { stoppedInMs, stoppedBy: exit.signal ?? `exit ${exit.code}`, readyInMs: Date.now() - t1 };
      },
      logs: () => processes.map((p) => `----- ${p.name} (pid ${p.pid}) -----\n${p.log}`).join("\n"),
      stop,
    };
  } catch (error) {
    const logs = processes.map((p) => `----- ${p.name} -----\n${p.log}`).join("\n");
    await stop();
    throw new Error(`${(error as Error).message}\n${logs}`, { cause: error });
  }
}

/**
 * What the nginx image's own /etc/nginx/nginx.conf provides around conf.d/ (here with the test's
 * folders): everything under test is in conf.d/default.conf and braumchat/.
 */
export function nginxFrame(prefix: string, pidFile: string, temp: string): string {
  return `# npm run test:selfhost: the frame of the nginx image's nginx.conf, with this run's folders.
daemon off;
worker_processes 1;
pid ${pidFile};
error_log stderr notice;
events { worker_connections 512; }
http {
    access_log ${prefix}/access.log;
    client_body_temp_path ${temp}/body;
    proxy_temp_path ${temp}/proxy;
    fastcgi_temp_path ${temp}/fastcgi;
    uwsgi_temp_path ${temp}/uwsgi;
    scgi_temp_path ${temp}/scgi;
    include conf.d/*.conf;
}
`;
}

/**
 * The self-hosting files agree with each other and with the code (runs in `npm test` and in
 * `npm run test:selfhost`; no process is started):
 * - deploy/workerd.capnp and wrangler.toml describe the same runtime: compatibility date and
 *   flags, Durable Object bindings, classes and their SQLite storage;
 * - every setting src/config.ts reads is bound from the environment in workerd.capnp and passed
 *   by the api service of docker-compose.yml;
 * - docker-compose.yml (read with a real YAML parser) has the services, health checks, start
 *   order, volumes and required secrets the stack needs, and the local override what it needs;
 * - deploy/Dockerfile builds glibc images and runs workerd as a non-root user.
 */
import { execFileSync } from "node:child_process";
import { accessSync, constants, existsSync, statSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type ComposeService,
  composeVariables,
  configSettings,
  dockerStages,
  envFileNames,
  envFileValues,
  InterpolationError,
  interpolate,
  interpolateTree,
  loadCompose,
  loadLocalOverride,
  loadWorkerdConfig,
  loadWranglerRuntime,
  readRepoFile,
  repoPath,
  templateVariables,
  type WranglerRuntime,
} from "./files";

const compose = loadCompose();
const override = loadLocalOverride();
const services = compose.value.services;
const service = (name: string): ComposeService => {
  const found = services[name];
  if (!found) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
};
const workerd = loadWorkerdConfig();
let wrangler: WranglerRuntime;

beforeAll(async () => {
  wrangler = await loadWranglerRuntime();
});

const sorted = (values: Iterable<string>) => [...values].sort();
const healthTest = (s: ComposeService) => [s.healthcheck?.test ?? []].flat().join(" ");
/** Named volumes and bind mounts of a service: "source:target[:mode]". */
const mounts = (s: ComposeService) =>
  (s.volumes ?? []).map((v) => {
    const [source = "", target = "", mode] = v.split(":");
    return { source, target, readOnly: mode === "ro" };
  });

describe("deploy/workerd.capnp and wrangler.toml describe the same Worker", () => {
  it("has the same compatibility date and flags", () => {
    expect(workerd.compatibilityDate).toBe(wrangler.compatibilityDate);
    expect(sorted(workerd.compatibilityFlags)).toEqual(sorted(wrangler.compatibilityFlags));
  });

  it("binds the same Durable Object namespaces to the same classes", () => {
    const missing = [...wrangler.durableObjects].filter(
      ([name, cls]) => workerd.durableObjectBindings.get(name) !== cls,
    );
    expect(
      missing.map(([name, cls]) => `(name = "${name}", durableObjectNamespace = "${cls}")`),
      "wrangler.toml binds these; add them to the bindings of deploy/workerd.capnp",
    ).toEqual([]);
    expect(Object.fromEntries(workerd.durableObjectBindings)).toEqual(
      Object.fromEntries(wrangler.durableObjects),
    );
  });

  it("declares each class once, with a uniqueKey and SQLite storage exactly where wrangler.toml has it", () => {
    const declared = workerd.namespaces.map((n) => n.className);
    expect(new Set(declared).size, "a class declared twice").toBe(declared.length);
    const classes = new Set(wrangler.durableObjects.values());
    const undeclared = [...classes].filter((c) => !declared.includes(c));
    expect(
      undeclared.map(
        (c) =>
          `(className = "${c}", uniqueKey = "braumchat-<name>", enableSql = ${wrangler.sqliteClasses.has(c)})`,
      ),
      "add these to durableObjectNamespaces in deploy/workerd.capnp",
    ).toEqual([]);
    expect(sorted(declared)).toEqual(sorted(classes));
    // Every bound class has a migration (Cloudflare needs it), and nothing else does.
    expect(sorted(wrangler.migratedClasses)).toEqual(sorted(classes));
    for (const ns of workerd.namespaces) {
      expect(ns.uniqueKey, `${ns.className} needs a uniqueKey`).toMatch(/^[a-z0-9-]+$/);
      expect(ns.enableSql, `${ns.className}: enableSql must match new_sqlite_classes`).toBe(
        wrangler.sqliteClasses.has(ns.className),
      );
    }
    const keys = workerd.namespaces.map((n) => n.uniqueKey);
    expect(new Set(keys).size, "uniqueKeys must differ").toBe(keys.length);
  });

  it("stores the objects on a writable disk that is the api service's volume", () => {
    const storage = workerd.durableObjectStorage;
    expect(storage, "durableObjectStorage = (localDisk = ...)").toBeDefined();
    const disk = workerd.disks.get(storage as string);
    expect(disk?.writable).toBe(true);
    const volume = mounts(service("api")).find((m) => disk?.path.startsWith(`${m.target}/`));
    expect(volume, `a volume of the api service holding ${disk?.path}`).toBeDefined();
    expect(compose.value.volumes, "a named volume").toHaveProperty(volume?.source as string);
    const api = dockerStages(readRepoFile("deploy/Dockerfile")).find((s) => s.name === "api");
    expect(api?.lines).toContain(`VOLUME ${volume?.target}`);
  });

  it("serves the bundle `npm run build` writes, on the port the stack uses", () => {
    // dist/index.js, and beside it the text modules it imports (the documentation's browser files),
    // each under its import name: wrangler keeps those names only with preserve_file_names.
    expect(workerd.modules.get("index.js")).toEqual({ type: "esModule", path: "../dist/index.js" });
    for (const [name, module] of workerd.modules) {
      expect(module, name).toEqual({
        type: name === "index.js" ? "esModule" : "text",
        path: `../dist/${name}`,
      });
    }
    expect(workerd.modules.size, "the documentation's text modules").toBeGreaterThan(1);
    expect(wrangler.preserveFileNames, "wrangler.toml: preserve_file_names = true").toBe(true);
    expect(readRepoFile("package.json")).toMatch(/"build": "wrangler deploy --dry-run --outdir dist"/);
    expect(workerd.sockets).toEqual([{ name: "http", address: "*:8080", service: "api" }]);
    expect(service("nginx").environment?.API_UPSTREAM).toBe("api:8080");
  });

  it("binds a Hyperdrive configuration, if wrangler.toml has one, under the name the Worker reads", () => {
    for (const h of wrangler.hyperdrive) expect(h.binding).toBe("HYPERDRIVE");
  });
});

describe("settings", () => {
  const settings = configSettings();

  it("binds every setting src/config.ts reads from the container environment, and nothing else", () => {
    expect(settings.length).toBeGreaterThan(20);
    const bound = workerd.fromEnvironment;
    for (const [binding, variable] of bound)
      expect(variable, "binding and variable share a name").toBe(binding);
    const unbound = settings.filter((s) => !bound.has(s));
    expect(
      unbound.map((s) => `(name = "${s}", fromEnvironment = "${s}")`),
      "src/config.ts reads these; add them to deploy/workerd.capnp (and the api service of docker-compose.yml)",
    ).toEqual([]);
    expect(sorted(bound.keys())).toEqual(sorted(settings));
  });

  it("passes each of them to the api service", () => {
    const environment = service("api").environment ?? {};
    const missing = settings.filter((s) => !(s in environment));
    expect(missing, "add to the api service's environment in docker-compose.yml").toEqual([]);
    expect(sorted(Object.keys(environment))).toEqual(sorted(settings));
  });
});

describe("docker-compose.yml", () => {
  it("is valid YAML with the stack's services", () => {
    expect(compose.errors).toEqual([]);
    expect(sorted(Object.keys(services))).toEqual(
      sorted(["postgres", "redis", "bridge", "migrate", "pgbouncer", "api", "nginx", "certbot"]),
    );
  });

  it("keeps PostgreSQL on a volume, with a health check", () => {
    const pg = service("postgres");
    expect(pg.image).toMatch(/^postgres:\d+/);
    expect(mounts(pg)).toContainEqual({
      source: "postgres-data",
      target: "/var/lib/postgresql/data",
      readOnly: false,
    });
    expect(healthTest(pg)).toContain("pg_isready");
  });

  it("keeps Redis on a volume with the append-only file, behind a password, with a health check", () => {
    const redis = service("redis");
    expect(redis.command?.join(" ")).toMatch(/--appendonly yes/);
    expect(redis.command?.join(" ")).toMatch(/--requirepass \$\{REDIS_PASSWORD:\?/);
    expect(mounts(redis)).toContainEqual({ source: "redis-data", target: "/data", readOnly: false });
    expect(healthTest(redis)).toContain("redis-cli ping");
  });

  it("runs the Upstash bridge (npm run bridge) in front of Redis", () => {
    const bridge = service("bridge");
    expect(bridge.command).toEqual(["node", "--import", "tsx", "scripts/upstash-bridge.ts"]);
    expect(readRepoFile("package.json")).toContain('"bridge": "tsx scripts/upstash-bridge.ts"');
    expect(bridge.environment).toMatchObject({ UPSTASH_BRIDGE_HOST: "0.0.0.0", UPSTASH_BRIDGE_PORT: "8079" });
    expect(bridge.environment?.REDIS_URL).toMatch(/@redis:6379$/);
    expect(bridge.depends_on).toEqual({ redis: { condition: "service_healthy" } });
    expect(healthTest(bridge)).toContain("/health");
  });

  it("migrates once, directly against PostgreSQL, before the api starts", () => {
    const migrate = service("migrate");
    expect(migrate.command).toEqual(["node", "--import", "tsx", "scripts/migrate.ts"]);
    expect(readRepoFile("package.json")).toContain('"db:migrate": "tsx scripts/migrate.ts"');
    expect(migrate.restart).toBe("no");
    expect(migrate.environment?.DATABASE_URL).toMatch(/@postgres:5432\//);
    expect(migrate.depends_on).toEqual({ postgres: { condition: "service_healthy" } });
    expect(service("api").depends_on?.migrate).toEqual({ condition: "service_completed_successfully" });
  });

  it("pools the Worker's connections with pgbouncer in transaction mode, without named statements", () => {
    const pgbouncer = service("pgbouncer");
    expect(pgbouncer.depends_on).toEqual({ postgres: { condition: "service_healthy" } });
    expect(healthTest(pgbouncer)).toContain("6432");
    expect(readRepoFile("deploy/pgbouncer/pgbouncer.ini.template")).toMatch(/^pool_mode = transaction$/m);
    const url = new URL(
      interpolate(service("api").environment?.DATABASE_URL ?? "", { POSTGRES_PASSWORD: "secret" }),
    );
    expect(url.host).toBe("pgbouncer:6432");
    expect(service("api").environment?.DATABASE_PREPARE).toBe("false");
    // The entrypoint substitutes every placeholder of the template, from the service's environment.
    const entrypoint = readRepoFile("deploy/pgbouncer/entrypoint.sh");
    const substituted = /envsubst '([^']+)'/.exec(entrypoint)?.[1] ?? "";
    for (const name of templateVariables(readRepoFile("deploy/pgbouncer/pgbouncer.ini.template"), ";")) {
      expect(substituted, `entrypoint.sh substitutes \${${name}}`).toContain(`\${${name}}`);
    }
  });

  it("starts the api (workerd) after its dependencies, with a health check and its settings", () => {
    const api = service("api");
    expect(api.build).toEqual({ context: ".", dockerfile: "deploy/Dockerfile", target: "api" });
    expect(api.depends_on).toEqual({
      migrate: { condition: "service_completed_successfully" },
      pgbouncer: { condition: "service_healthy" },
      bridge: { condition: "service_healthy" },
    });
    expect(healthTest(api)).toMatch(/http:\/\/127\.0\.0\.1:8080\/(health|readyz)/);
    expect(api.environment).toMatchObject({
      ENV: "production",
      UPSTASH_REDIS_REST_URL: "http://bridge:8079",
      CLIENT_IP_SOURCE: "x-real-ip",
    });
    expect(api.ports, "only nginx is published").toBeUndefined();
  });

  it("puts nginx in front with TLS, after the api and the first certificate", () => {
    const nginx = service("nginx");
    expect(nginx.ports).toEqual(["80:80", "443:443"]);
    expect(nginx.depends_on).toEqual({
      api: { condition: "service_healthy" },
      certbot: { condition: "service_healthy" },
    });
    const byTarget = new Map(mounts(nginx).map((m) => [m.target, m]));
    expect(byTarget.get("/etc/nginx/templates")?.source).toBe("./deploy/nginx/tls");
    expect(byTarget.get("/etc/nginx/braumchat")?.source).toBe("./deploy/nginx/braumchat");
    expect(byTarget.get("/docker-entrypoint.d/90-reload-on-new-certificate.sh")?.source).toBe(
      "./deploy/nginx/reload-on-new-certificate.sh",
    );
    // The template's placeholders are exactly the service's environment.
    const template = readRepoFile("deploy/nginx/tls/default.conf.template");
    expect(sorted(Object.keys(nginx.environment ?? {}))).toEqual(sorted(templateVariables(template)));
    // Certificates and challenge files come from certbot's volumes, read-only here.
    const env = nginx.environment ?? {};
    expect(byTarget.get(env.TLS_DIR as string)).toEqual({
      source: "tls",
      target: env.TLS_DIR,
      readOnly: true,
    });
    expect(byTarget.get(env.ACME_WEBROOT as string)).toMatchObject({
      source: "acme-webroot",
      readOnly: true,
    });
  });

  it("obtains and renews certificates with certbot's webroot challenge, into the volumes nginx reads", () => {
    const certbot = service("certbot");
    expect(certbot.image).toMatch(/^certbot\/certbot:v\d/);
    expect(certbot.entrypoint).toEqual(["/bin/sh", "/opt/braumchat/certbot.sh"]);
    const env = certbot.environment ?? {};
    const byTarget = new Map(mounts(certbot).map((m) => [m.target, m]));
    expect(byTarget.get("/opt/braumchat")?.source).toBe("./deploy/certbot");
    expect(byTarget.get(env.TLS_DIR as string)?.source).toBe("tls");
    expect(byTarget.get(env.ACME_WEBROOT as string)?.source).toBe("acme-webroot");
    expect(byTarget.get("/etc/letsencrypt")?.source).toBe("letsencrypt");
    expect(healthTest(certbot)).toContain(`${env.TLS_DIR}/fullchain.pem`);
    expect(env.ACME_PROBE_URL).toBe("http://nginx/.well-known/acme-challenge");
    expect(readRepoFile("deploy/nginx/tls/default.conf.template")).toContain(
      "location ^~ /.well-known/acme-challenge/",
    );
  });

  it("declares every named volume it uses, and mounts only files that exist", () => {
    const declared = new Set(Object.keys(compose.value.volumes ?? {}));
    const used = new Set<string>();
    for (const [name, s] of [...Object.entries(services), ...Object.entries(override.value.services)]) {
      for (const m of mounts(s)) {
        if (m.source.startsWith(".")) {
          expect(existsSync(repoPath(m.source)), `${name}: ${m.source}`).toBe(true);
        } else {
          used.add(m.source);
        }
      }
    }
    expect(sorted(used)).toEqual(sorted(declared));
  });

  it("restarts the long-running services, gives each a health check, and rotates every log", () => {
    for (const [name, s] of Object.entries(services)) {
      expect(s.logging, name).toEqual({ driver: "local", options: { "max-size": "20m", "max-file": "5" } });
      if (name === "migrate") continue;
      expect(s.restart, name).toBe("unless-stopped");
      if (name !== "nginx") expect(s.healthcheck, name).toBeDefined();
    }
  });
});

describe("secrets", () => {
  const SECRETS = ["JWT_SECRET", "POSTGRES_PASSWORD", "REDIS_PASSWORD", "UPSTASH_BRIDGE_TOKEN"];
  const text = readRepoFile("docker-compose.yml");
  const example = readRepoFile("deploy/.env.example");
  const filled = Object.fromEntries(
    SECRETS.map((s) => [s, `${s.toLowerCase()}-value-of-32-bytes-or-more-0000`]),
  );
  const complete = { ...filled, DOMAIN: "chat.example.com" };

  it("requires each secret wherever it is used (the `:?` form), never with a default", () => {
    for (const secret of SECRETS) {
      const uses = [...text.matchAll(new RegExp(`\\$\\{${secret}([^}]*)\\}`, "g"))];
      expect(uses.length, secret).toBeGreaterThan(0);
      for (const use of uses) expect(use[1], `${secret} must be \${${secret}:?...}`).toMatch(/^:\?/);
    }
    expect(sorted(composeVariables(text).required)).toEqual(sorted([...SECRETS, "DOMAIN"]));
  });

  it("has no secret-like value written into any service, nor a non-empty default for one", () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        if (!/PASSWORD|SECRET|TOKEN|AUTH/.test(key)) continue;
        expect(value, `${name}.${key}`).toMatch(/^\$\{[A-Z_]+(:\?[^}]*|:-)\}$/);
      }
    }
    for (const m of text.matchAll(/\$\{([A-Z_]*(?:PASSWORD|SECRET|TOKEN)[A-Z_]*):-([^}]+)\}/g)) {
      expect.fail(`${m[1]} has the default "${m[2]}"`);
    }
  });

  it("makes compose refuse to start while any secret is missing or empty", () => {
    // Compose interpolates the whole file before it starts anything: with these values it would.
    expect(() => interpolateTree(compose.value, complete)).not.toThrow();
    for (const secret of [...SECRETS, "DOMAIN"]) {
      for (const value of [undefined, ""]) {
        expect(() => interpolateTree(compose.value, { ...complete, [secret]: value })).toThrow(
          new InterpolationError(`${secret}: set ${secret} in .env`),
        );
      }
    }
    // A copy of the example file, unedited, does not start.
    const asIs = Object.fromEntries(envFileValues(example));
    expect(() => interpolateTree(compose.value, asIs)).toThrow(InterpolationError);
  });

  it("documents in deploy/.env.example exactly the variables compose reads, with no secret filled in", () => {
    const used = new Set([
      ...composeVariables(text).all,
      ...composeVariables(readRepoFile("deploy/compose.local.yml")).all,
    ]);
    const { mentioned } = envFileNames(example);
    expect(sorted(mentioned)).toEqual(sorted(used));
    const values = envFileValues(example);
    for (const secret of SECRETS) expect(values.get(secret), secret).toBe("");
  });
});

describe("the local override (deploy/compose.local.yml)", () => {
  const local = override.value.services;

  it("serves plain HTTP on the loopback interface only, without certbot", () => {
    expect(override.errors).toEqual([]);
    expect(override.tags.get("services.nginx.ports")).toBe("!override");
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Compose's interpolation, not JavaScript's
    expect(local.nginx?.ports).toEqual(["127.0.0.1:${LOCAL_HTTP_PORT:-8080}:80"]);
    expect(override.tags.get("services.nginx.depends_on")).toBe("!override");
    expect(local.nginx?.depends_on).toEqual({ api: { condition: "service_healthy" } });
    expect(local.certbot?.profiles?.length).toBeGreaterThan(0);
  });

  it("swaps the TLS templates for the plain ones (same mount target, so compose replaces it)", () => {
    expect(local.nginx?.volumes).toEqual(["./deploy/nginx/local:/etc/nginx/templates:ro"]);
    const template = readRepoFile("deploy/nginx/local/default.conf.template");
    const env = service("nginx").environment ?? {};
    for (const name of templateVariables(template)) expect(env, name).toHaveProperty(name);
    expect(template).not.toContain("Strict-Transport-Security");
  });
});

describe("deploy/Dockerfile", () => {
  const stages = dockerStages(readRepoFile("deploy/Dockerfile"));
  const stage = (name: string) => {
    const found = stages.find((s) => s.name === name);
    if (!found) throw new Error(`deploy/Dockerfile has no stage "${name}"`);
    return found;
  };

  it("builds on glibc images (Debian bookworm: glibc 2.36; workerd needs 2.35 or later)", () => {
    for (const s of stages) {
      if (s.from === "deps" || s.from === "build") continue;
      expect(s.from, s.name).toMatch(/^(node:\d+-bookworm-slim|debian:bookworm-slim)$/);
    }
    const pgbouncer = dockerStages(readRepoFile("deploy/pgbouncer/Dockerfile"));
    expect(pgbouncer.map((s) => s.from)).toEqual(["debian:bookworm-slim"]);
  });

  it("runs workerd as a non-root user, serving the capnp config beside the bundle it embeds", () => {
    const api = stage("api");
    const users = api.lines.filter((l) => l.startsWith("USER "));
    expect(users.length).toBe(1);
    const user = (users[0] as string).slice(5).split(":")[0];
    expect(user).not.toMatch(/^(root|0)$/);
    // Every module workerd.capnp embeds is copied to the same place under /app/dist.
    const copied = api.lines.flatMap((line) => {
      const words = /^COPY --from=build (.+)$/.exec(line)?.[1]?.split(/\s+/) ?? [];
      const target = words.pop() ?? "";
      return words.map((source) => (source.endsWith("/") ? target : `${target}${source.split("/").pop()}`));
    });
    for (const name of workerd.modules.keys()) {
      const file = `/app/dist/${name}`;
      expect(
        copied.some((path) => path === file || (path.endsWith("/") && file.startsWith(path))),
        `${file} is copied into the api image`,
      ).toBe(true);
    }
    expect(api.lines).toContain(`COPY deploy/workerd.capnp /app/deploy/workerd.capnp`);
    expect(api.lines.at(-1)).toBe('CMD ["workerd", "serve", "/app/deploy/workerd.capnp"]');
    expect(stage("build").lines.join("\n")).toContain("npm run build");
  });

  it("runs the tools and pgbouncer as non-root users too", () => {
    expect(stage("tools").lines).toContain("USER node");
    const pgbouncer = dockerStages(readRepoFile("deploy/pgbouncer/Dockerfile"))[0];
    expect(pgbouncer?.lines).toContain("USER postgres");
  });
});

describe("scripts", () => {
  const scripts = [
    "deploy/pgbouncer/entrypoint.sh",
    "deploy/certbot/certbot.sh",
    "deploy/certbot/deploy-hook.sh",
    "deploy/nginx/reload-on-new-certificate.sh",
  ];

  it("are valid POSIX shell", () => {
    for (const script of scripts) execFileSync("sh", ["-n", repoPath(script)]);
  });

  it("are executable where an image runs them directly", () => {
    // The nginx image runs /docker-entrypoint.d/*.sh only when executable; the pgbouncer image
    // runs its entrypoint as the ENTRYPOINT.
    for (const script of scripts) {
      expect(() => accessSync(repoPath(script), constants.X_OK), script).not.toThrow();
      expect(statSync(repoPath(script)).mode & 0o111, script).toBe(0o111);
    }
  });
});

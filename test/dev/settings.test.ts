/**
 * `npm run dev` takes every setting from the environment or its settings file (.dev.vars), the
 * environment winning, hands the Worker's to the Worker, and says which came from where without
 * printing a value. It used to pass only DATABASE_URL, JWT_SECRET and the store pair from the
 * environment: `CORS_ORIGINS=... npm run dev` still refused the web app's preflight.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { jwtVerify } from "jose";
import { afterAll, describe, expect, it } from "vitest";
import { DevSettings, WORKER_SETTINGS } from "../../scripts/lib/dev-settings";
import { request } from "../support/http";
import {
  embeddedDatabaseUrl,
  freePort,
  makeDataDir,
  ROOT,
  type Started,
  startDev,
  stopGroup,
  WORKER_SETTINGS_TO_CLEAR,
  waitFor200,
} from "./dev-process";

describe("DevSettings", () => {
  it("takes a setting from the environment before the file, and an empty value as not set", () => {
    const settings = new DevSettings(
      { CORS_ORIGINS: "http://env.example", LOG_LEVEL: "  ", PORT: "9000" },
      { CORS_ORIGINS: "http://file.example", LOG_LEVEL: "debug", METRICS_TOKEN: "", PORT: "9001" },
      ".dev.vars",
    );
    expect(settings.get("CORS_ORIGINS")).toBe("http://env.example");
    expect(settings.sourceOf("CORS_ORIGINS")).toBe("environment");
    expect(settings.summary()).toContain("settings from the environment: CORS_ORIGINS (over .dev.vars)");
    expect(settings.get("LOG_LEVEL")).toBe("debug");
    expect(settings.sourceOf("LOG_LEVEL")).toBe("file");
    expect(settings.get("METRICS_TOKEN")).toBeUndefined();
    expect(settings.get("PORT")).toBe("9000");
    // The Worker gets its own settings only, not the dev server's (PORT).
    expect(settings.workerVars()).toEqual({ CORS_ORIGINS: "http://env.example", LOG_LEVEL: "debug" });
  });

  it("passes over an environment value it cannot accept, and says so", () => {
    const settings = new DevSettings({ ENV: "/etc/shrc" }, { ENV: "test" }, ".dev.vars");
    const accept = { test: (v: string) => v === "test" || v === "development", why: "not ours" };
    expect(settings.get("ENV", accept)).toBe("test");
    expect(settings.sourceOf("ENV")).toBe("file");
    expect(settings.summary()).toContain("ignoring ENV from the environment: not ours");
  });

  it("names every setting's source in its summary, never a value, and warns of names nothing uses", () => {
    const secrets = {
      JWT_SECRET: "env-jwt-secret-value",
      METRICS_TOKEN: "file-metrics-token-value",
      UPSTASH_REDIS_REST_TOKEN: "env-store-token-value",
    };
    const settings = new DevSettings(
      {
        JWT_SECRET: secrets.JWT_SECRET,
        UPSTASH_REDIS_REST_TOKEN: secrets.UPSTASH_REDIS_REST_TOKEN,
        HOME: "/x",
      },
      { METRICS_TOKEN: secrets.METRICS_TOKEN, LOG_LEVEL: "debug", CORS_ORIGIN: "typo" },
      "my.vars",
    );
    settings.make("DATABASE_URL", "postgres://postgres:db-password-value@127.0.0.1:1/postgres", "embedded");
    settings.workerVars();
    const summary = settings.summary().join("\n");
    expect(summary).toContain("settings from the environment: JWT_SECRET, UPSTASH_REDIS_REST_TOKEN\n");
    expect(summary).toContain("settings from my.vars: LOG_LEVEL, METRICS_TOKEN\n");
    expect(summary).toContain("settings made by npm run dev: DATABASE_URL (embedded)\n");
    expect(summary).toContain(
      `the Worker's other ${WORKER_SETTINGS.length - 5} settings take their defaults`,
    );
    expect(summary).toContain("warning: my.vars sets CORS_ORIGIN, which npm run dev does not use (a typo?)");
    for (const value of [...Object.values(secrets), "db-password-value", "debug"]) {
      expect(summary).not.toContain(value);
    }
  });
});

describe(".dev.vars.example", () => {
  it("documents every setting the Worker reads (the list npm run dev hands over)", () => {
    const example = readFileSync(path.join(ROOT, ".dev.vars.example"), "utf8");
    const mentioned = new Set([...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]));
    expect(WORKER_SETTINGS.length).toBeGreaterThan(30);
    expect(WORKER_SETTINGS.filter((name) => !mentioned.has(name))).toEqual([]);
  });
});

describe("npm run dev with settings in the environment and in .dev.vars", () => {
  let dataDir: string | undefined;
  let dev: Started | undefined;

  afterAll(async () => {
    await stopGroup(dev).catch(() => {});
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("hands the Worker every setting, the environment's first, and prints sources but no secret", async () => {
    dataDir = makeDataDir("dev-settings");
    const apiPort = await freePort();
    const pgPort = await freePort();
    const jwtSecret = "twenty-byte-secret!!"; // shorter than production's 32 bytes
    const metricsToken = `metrics-${Date.now()}-token`;
    const devVars = path.join(dataDir, "settings.vars");
    writeFileSync(
      devVars,
      [
        "CORS_ORIGINS=http://from-the-file.example", // the environment's wins
        `METRICS_TOKEN=${metricsToken}`,
        "RATE_LIMITS_ENABLED=false",
        `EMBEDDED_PG_PORT=${pgPort}`, // a setting of the dev server itself
      ].join("\n"),
    );
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const key of WORKER_SETTINGS_TO_CLEAR) delete env[key];
    delete env.EMBEDDED_PG_PORT;
    Object.assign(env, {
      DATA_DIR: dataDir,
      PORT: String(apiPort),
      DEV_VARS_FILE: devVars,
      CORS_ORIGINS: "http://from-the-environment.example",
      JWT_SECRET: jwtSecret,
      ENV: "/etc/shrc", // a shell's own ENV: not a setting of ours
    });
    dev = startDev(env);
    const base = `http://127.0.0.1:${apiPort}`;
    // ENV stayed development: the in-memory store is accepted.
    expect(await waitFor200(`${base}/readyz`, dev)).toEqual({ status: "ok", db: "ok", redis: "ok" });
    const app = { fetch: (p: string, init?: RequestInit) => fetch(`${base}${p}`, init) };

    // CORS_ORIGINS from the environment reached the Worker, and won over the file's.
    const preflight = (origin: string) =>
      request(app, "OPTIONS", "/workspaces", {
        headers: { Origin: origin, "Access-Control-Request-Method": "POST" },
      });
    const allowed = await preflight("http://from-the-environment.example");
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get("access-control-allow-origin")).toBe("http://from-the-environment.example");
    expect((await preflight("http://from-the-file.example")).status).toBe(400);

    // METRICS_TOKEN from the file reached the Worker.
    expect((await request(app, "GET", "/metrics")).status).toBe(401);
    const metrics = await request(app, "GET", "/metrics", {
      headers: { Authorization: `Bearer ${metricsToken}` },
    });
    expect(metrics.status).toBe(200);

    // JWT_SECRET from the environment signs the tokens.
    const email = `settings-${Date.now()}@example.com`;
    const password = "correct horse battery";
    const registered = await request(app, "POST", "/auth/register", {
      json: { email, password, display_name: "Settings" },
    });
    expect(registered.status, registered.text).toBe(200);
    const login = await request(app, "POST", "/auth/login", {
      form: { grant_type: "password", username: email, password },
    });
    expect(login.status, login.text).toBe(200);
    await expect(
      jwtVerify(login.body.access_token, new TextEncoder().encode(jwtSecret)),
    ).resolves.toBeTruthy();

    // EMBEDDED_PG_PORT from the file: the database listens there.
    expect(dev.output()).toContain(`started the embedded PostgreSQL 17`);
    expect(dev.output()).toContain(`on 127.0.0.1:${pgPort} in`);

    const printed = dev.output();
    expect(printed).toContain(
      "[dev] ignoring ENV from the environment: it is not development, test or production (the shell's own ENV?)",
    );
    expect(printed).toMatch(
      /\[dev\] settings from the environment: CORS_ORIGINS \(over .*settings\.vars\), DATA_DIR, JWT_SECRET, PORT\n/,
    );
    expect(printed).toMatch(
      /\[dev\] settings from .*settings\.vars: EMBEDDED_PG_PORT, METRICS_TOKEN, RATE_LIMITS_ENABLED\n/,
    );
    expect(printed).toContain(
      "[dev] settings made by npm run dev: DATABASE_URL (the embedded PostgreSQL), ENV (development)\n",
    );
    expect(printed).toContain(
      "[dev] warning: JWT_SECRET (from the environment) is 20 bytes long; development accepts it",
    );
    const postgresPassword = new URL(embeddedDatabaseUrl(dataDir, pgPort)).password;
    for (const secret of [jwtSecret, metricsToken, decodeURIComponent(postgresPassword)]) {
      expect(printed).not.toContain(secret);
    }
    expect(await stopGroup(dev, "SIGINT")).toBe(130);
  }, 120_000);
});

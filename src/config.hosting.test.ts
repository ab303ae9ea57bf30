/**
 * Settings as the two hosting platforms hand them over: standalone workerd (deploy/workerd.capnp)
 * gives an unset `fromEnvironment` variable as null, and Cloudflare may bind a Hyperdrive
 * configuration whose connection string replaces DATABASE_URL.
 */
import { describe, expect, it } from "vitest";
import { parseConfig } from "./config";

const base = {
  ENV: "production",
  DATABASE_URL: "postgres://u:p@db:5432/braumchat",
  JWT_SECRET: "x".repeat(32),
  UPSTASH_REDIS_REST_URL: "http://bridge:8079",
  UPSTASH_REDIS_REST_TOKEN: "token",
};

const hyperdrive = (connectionString: unknown) => ({
  connectionString,
  host: "h.hyperdrive.local",
  port: 5432,
  user: "u",
  password: "p",
  database: "braumchat",
});

describe("settings from standalone workerd", () => {
  it("treats a null setting (an unset fromEnvironment variable) as not set", () => {
    const result = parseConfig({
      ...base,
      LOG_LEVEL: null,
      CORS_ORIGINS: null,
      STORE_KEY_PREFIX: null,
      ACCESS_TOKEN_EXPIRES_MINUTES: null,
      TRUST_PROXY_HEADERS: null,
      GOOGLE_CLIENT_ID: null,
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.logLevel).toBe("info");
    expect(result.config.corsOrigins).toEqual(["http://localhost:3000"]);
    expect(result.config.store.keyPrefix).toBe("");
    expect(result.config.jwt.accessTtlSeconds).toBe(15 * 60);
    expect(result.config.clientIpSource).toBe("auto");
    expect(result.config.google).toBeUndefined();
  });

  it("still names a required setting that is null", () => {
    const result = parseConfig({ ...base, JWT_SECRET: null, DATABASE_URL: null });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.map((p) => `${p.setting} ${p.message}`)).toEqual([
      "DATABASE_URL is required (a postgres:// URL)",
      "JWT_SECRET is required",
    ]);
  });
});

describe("a Hyperdrive binding (Cloudflare)", () => {
  it("uses the binding's connection string instead of DATABASE_URL", () => {
    const url = "postgresql://u:p@h.hyperdrive.local:5432/braumchat?sslmode=disable";
    const result = parseConfig({ ...base, HYPERDRIVE: hyperdrive(url) });
    expect(result.ok && result.config.database.url).toBe(url);
  });

  it("makes DATABASE_URL optional", () => {
    const url = "postgresql://u:p@h.hyperdrive.local:5432/braumchat";
    const result = parseConfig({ ...base, DATABASE_URL: undefined, HYPERDRIVE: hyperdrive(url) });
    expect(result.ok && result.config.database.url).toBe(url);
  });

  it("falls back to DATABASE_URL when the binding has no connection string", () => {
    for (const binding of [hyperdrive(""), hyperdrive(undefined), null, "not a binding"]) {
      const result = parseConfig({ ...base, HYPERDRIVE: binding });
      expect(result.ok && result.config.database.url).toBe(base.DATABASE_URL);
    }
    const result = parseConfig({ ...base, DATABASE_URL: undefined, HYPERDRIVE: hyperdrive("") });
    expect(result.ok).toBe(false);
  });
});

import { describe, expect, it } from "vitest";
import { parseConfig } from "./config";

const base = {
  ENV: "production",
  DATABASE_URL: "postgres://u:p@db:5432/braumchat",
  JWT_SECRET: "x".repeat(32),
  UPSTASH_REDIS_REST_URL: "http://bridge:8079",
  UPSTASH_REDIS_REST_TOKEN: "token",
};

function problems(env: Record<string, unknown>) {
  const result = parseConfig(env);
  return result.ok ? [] : result.problems.map((p) => `${p.setting} ${p.message}`);
}

describe("parseConfig", () => {
  it("applies the documented defaults", () => {
    const result = parseConfig(base);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.jwt.accessTtlSeconds).toBe(15 * 60);
    expect(result.config.jwt.refreshTtlSeconds).toBe(7 * 86_400);
    expect(result.config.corsOrigins).toEqual(["http://localhost:3000"]);
    expect(result.config.session).toEqual({
      requireSessionClaim: true,
      touchEnabled: true,
      touchTtlSeconds: 300,
      cacheSeconds: 15,
    });
    expect(result.config.database).toMatchObject({ connections: "pooled", poolSize: 8 });
    expect(result.config.metricsEnabled).toBe(true);
    expect(result.config.store.keyPrefix).toBe("");
  });

  it("defaults ENV to production, where a store is required", () => {
    expect(problems({ ...base, ENV: undefined, UPSTASH_REDIS_REST_URL: undefined })).toEqual([
      "UPSTASH_REDIS_REST_URL is required when ENV is production (the in-memory store is for development only)",
    ]);
  });

  it("names each missing or invalid setting", () => {
    expect(problems({ ENV: "test" })).toEqual([
      "DATABASE_URL is required (a postgres:// URL)",
      "JWT_SECRET is required",
    ]);
    expect(problems({ ...base, DATABASE_URL: "mysql://x" })).toEqual([
      "DATABASE_URL must be a postgres:// or postgresql:// URL",
    ]);
    expect(problems({ ...base, ACCESS_TOKEN_EXPIRES_MINUTES: "soon" })[0]).toMatch(
      /^ACCESS_TOKEN_EXPIRES_MINUTES /,
    );
    expect(problems({ ...base, REQUIRE_SESSION_CLAIM: "maybe" })[0]).toMatch(/^REQUIRE_SESSION_CLAIM /);
    expect(problems({ ...base, JWT_ALGORITHM: "none" })).toEqual(["JWT_ALGORITHM only HS256 is supported"]);
    expect(problems({ ...base, UPSTASH_REDIS_REST_TOKEN: "" })).toEqual([
      "UPSTASH_REDIS_REST_TOKEN is required when UPSTASH_REDIS_REST_URL is set",
    ]);
  });

  it("requires a 32-byte JWT secret outside development only", () => {
    expect(problems({ ...base, JWT_SECRET: "x".repeat(31) })).toEqual([
      "JWT_SECRET must be at least 32 bytes when ENV is production",
    ]);
    expect(problems({ ...base, ENV: "development", JWT_SECRET: "short" })).toEqual([]);
    // Bytes, not characters: 16 two-byte characters are 32 bytes.
    expect(problems({ ...base, JWT_SECRET: "é".repeat(16) })).toEqual([]);
  });

  it("reads booleans, numbers and comma lists as the original does", () => {
    const result = parseConfig({
      ...base,
      SESSION_TOUCH_ENABLED: "off",
      REQUIRE_SESSION_CLAIM: false,
      ACCESS_TOKEN_EXPIRES_MINUTES: 30,
      CORS_ORIGINS: " http://a.example , http://b.example,, ",
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.session.touchEnabled).toBe(false);
    expect(result.config.session.requireSessionClaim).toBe(false);
    expect(result.config.jwt.accessTtlSeconds).toBe(1800);
    expect(result.config.corsOrigins).toEqual(["http://a.example", "http://b.example"]);
  });

  it("treats an empty CORS_ORIGINS as the default", () => {
    const result = parseConfig({ ...base, CORS_ORIGINS: "" });
    expect(result.ok && result.config.corsOrigins).toEqual(["http://localhost:3000"]);
  });

  it("reads CLIENT_IP_SOURCE, and TRUST_PROXY_HEADERS=true as x-forwarded-for", () => {
    const read = (extra: Record<string, string>) => {
      const result = parseConfig({ ...base, ...extra });
      return result.ok
        ? result.config.clientIpSource
        : result.problems.map((p) => `${p.setting} ${p.message}`);
    };
    expect(read({})).toBe("auto");
    expect(read({ CLIENT_IP_SOURCE: "x-real-ip" })).toBe("x-real-ip");
    expect(read({ TRUST_PROXY_HEADERS: "true" })).toBe("x-forwarded-for");
    expect(read({ TRUST_PROXY_HEADERS: "false" })).toBe("auto");
    expect(read({ TRUST_PROXY_HEADERS: "false", CLIENT_IP_SOURCE: "peer" })).toBe("peer");
    expect(read({ TRUST_PROXY_HEADERS: "true", CLIENT_IP_SOURCE: "x-forwarded-for" })).toBe(
      "x-forwarded-for",
    );
    expect(read({ TRUST_PROXY_HEADERS: "true", CLIENT_IP_SOURCE: "peer" })).toEqual([
      "TRUST_PROXY_HEADERS is replaced by CLIENT_IP_SOURCE and contradicts CLIENT_IP_SOURCE=peer: remove it",
    ]);
    expect(read({ CLIENT_IP_SOURCE: "cloudflare" })).toEqual([
      "CLIENT_IP_SOURCE must be one of auto, cf-connecting-ip, x-forwarded-for, x-real-ip, peer, none",
    ]);
  });

  it("defaults the per-account login limit to 20 failures per 15 minutes", () => {
    const result = parseConfig(base);
    expect(result.ok && result.config.rateLimits.loginFailuresPerAccountPer15Minutes).toBe(20);
  });

  it("reads SEARCH_LANGUAGE as one of PostgreSQL's configurations (default simple)", () => {
    const fallback = parseConfig(base);
    expect(fallback.ok && fallback.config.searchLanguage).toBe("simple");
    const english = parseConfig({ ...base, SEARCH_LANGUAGE: "english" });
    expect(english.ok && english.config.searchLanguage).toBe("english");
    expect(problems({ ...base, SEARCH_LANGUAGE: "klingon" })[0]).toMatch(
      /^SEARCH_LANGUAGE must be one of simple, /,
    );
    expect(problems({ ...base, SEARCH_LANGUAGE: "english'; drop table messages; --" })).toHaveLength(1);
  });

  it("defaults the search limit to 30 per minute", () => {
    const result = parseConfig(base);
    expect(result.ok && result.config.rateLimits.searchPerMinute).toBe(30);
  });
});

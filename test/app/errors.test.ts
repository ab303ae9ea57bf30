/**
 * The error layer (docs/http-api.md#errors) and CORS (docs/http-api.md#cors), through the real Worker in
 * workerd.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { buildBundle, testBundleDir } from "../support/bundle";
import { api } from "../support/http";

let app: TestApp;
let http: ReturnType<typeof api>;

beforeAll(async () => {
  app = await startApp();
  http = api(app);
});
afterAll(async () => {
  await app?.close();
});

const ORIGIN = "http://localhost:3000";

describe("error shapes", () => {
  it("answers an unknown path with 404 Not Found", async () => {
    const res = await http.get("/no/such/path");
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ detail: "Not Found" });
    expect(res.headers.get("content-type")).toContain("application/json");
  });

  it("answers 404, not 422, for a malformed body sent to an unknown path", async () => {
    const res = await http.post("/no/such/path", {
      raw: "{oops",
      headers: { "Content-Type": "application/json" },
    });
    expect(res.status).toBe(404);
  });

  it("answers a known path with the wrong method with 405 and Allow", async () => {
    const res = await http.post("/health");
    expect(res.status).toBe(405);
    expect(res.body).toEqual({ detail: "Method Not Allowed" });
    expect(res.headers.get("allow")).toBe("GET, HEAD");

    const echo = await http.get("/__test__/echo/1");
    expect(echo.status).toBe(405);
    expect(echo.headers.get("allow")).toBe("POST");
  });

  it("answers malformed JSON with 422 value_error.jsondecode at the character offset", async () => {
    const res = await http.post("/__test__/echo/1", {
      raw: '{"name": "ab",, }',
      headers: { "Content-Type": "application/json" },
    });
    expect(res.status).toBe(422);
    expect(res.body.detail).toHaveLength(1);
    const [issue] = res.body.detail;
    expect(issue.loc).toEqual(["body", 14]);
    expect(issue.type).toBe("value_error.jsondecode");
    expect(issue.ctx).toMatchObject({ pos: 14, lineno: 1, colno: 15 });
  });

  it("parses a body without Content-Type as JSON", async () => {
    const res = await http.post("/__test__/echo/7?limit=3", { raw: '{"name":"abc","count":"2x"}' });
    expect(res.status).toBe(422);
    expect(res.body.detail).toEqual([
      { loc: ["body", "count"], msg: "value is not a valid integer", type: "type_error.integer" },
    ]);
  });

  it("treats a text/plain body as an opaque string: value is not a valid dict", async () => {
    const res = await http.post("/__test__/echo/1", {
      raw: '{"name":"abc"}',
      headers: { "Content-Type": "text/plain" },
    });
    expect(res.status).toBe(422);
    expect(res.body.detail).toEqual([
      { loc: ["body"], msg: "value is not a valid dict", type: "type_error.dict" },
    ]);
  });

  it("answers a missing body with field required on body", async () => {
    const res = await http.post("/__test__/echo/1");
    expect(res.status).toBe(422);
    expect(res.body.detail).toEqual([{ loc: ["body"], msg: "field required", type: "value_error.missing" }]);
  });

  it("reports every invalid field in the original's vocabulary", async () => {
    const res = await http.post("/__test__/echo/abc?limit=x", { json: { name: "a", email: "nope" } });
    expect(res.status).toBe(422);
    // Path and query are validated first, as FastAPI does; the body is reached once they pass.
    expect(res.body.detail).toEqual([
      { loc: ["path", "item_id"], msg: "value is not a valid integer", type: "type_error.integer" },
    ]);
    const query = await http.post("/__test__/echo/1?limit=x", { json: { name: "a", email: "nope" } });
    expect(query.body.detail).toEqual([
      { loc: ["query", "limit"], msg: "value is not a valid integer", type: "type_error.integer" },
    ]);
    const body = await http.post("/__test__/echo/1", { json: { name: "a", email: "nope" } });
    expect(body.status).toBe(422);
    expect(body.body.detail).toEqual([
      {
        loc: ["body", "name"],
        msg: "ensure this value has at least 2 characters",
        type: "value_error.any_str.min_length",
        ctx: { limit_value: 2 },
      },
      { loc: ["body", "count"], msg: "field required", type: "value_error.missing" },
      { loc: ["body", "email"], msg: "value is not a valid email address", type: "value_error.email" },
    ]);
    const long = await http.post("/__test__/echo/1", { json: { name: "x".repeat(33), count: 1 } });
    expect(long.body.detail[0]).toMatchObject({
      msg: "ensure this value has at most 32 characters",
      type: "value_error.any_str.max_length",
      ctx: { limit_value: 32 },
    });
  });

  it("accepts numeric strings for path and query integers, ignoring unknown fields", async () => {
    const res = await http.post("/__test__/echo/42?limit=5", {
      json: { name: "abc", count: 3, extra: true },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ item_id: 42, query: { limit: 5 }, body: { name: "abc", count: 3 } });
  });

  it("refuses an oversized body with 413 and a detail", async () => {
    // A connection of its own: the server answers before reading the body and then drops the
    // connection, which must not break the pooled connections the other tests use.
    const body = JSON.stringify({ name: "x".repeat(300_000), count: 1 });
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpRequest(
        `${app.url}/__test__/echo/1`,
        {
          method: "POST",
          agent: false,
          headers: { "Content-Type": "application/json", "Content-Length": body.length },
        },
        (res) => {
          let data = "";
          res.on("data", (chunk) => {
            data += chunk;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text: data }));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
    expect(status).toBe(413);
    expect(JSON.parse(text)).toEqual({ detail: "Request body too large" });
  });

  it("turns an unhandled error into JSON 500 with CORS headers and a logged request id", async () => {
    const res = await http.get("/__test__/crash", {
      headers: { Origin: ORIGIN, "X-Request-Id": "crash-test-1" },
    });
    expect(res.status).toBe(500);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(res.body).toEqual({ detail: "Internal Server Error", request_id: "crash-test-1" });
    expect(res.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    expect(res.headers.get("access-control-allow-credentials")).toBe("true");
    expect(res.headers.get("x-request-id")).toBe("crash-test-1");
    await expect
      .poll(() =>
        app.logs.find((line) => line.includes('"unhandled error"') && line.includes("crash-test-1")),
      )
      .toBeTruthy();
    const logged = JSON.parse(app.logs.find((l) => l.includes('"unhandled error"')) ?? "{}");
    expect(logged).toMatchObject({ level: "error", request_id: "crash-test-1" });
    expect(logged.stack).toContain("deliberate crash");
  });

  it("generates a request id when none (or a forged one) is sent", async () => {
    const res = await http.get("/health", { headers: { "X-Request-Id": "bad id <script>" } });
    const id = res.headers.get("x-request-id");
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("CORS", () => {
  it("answers a preflight from an allowed origin as the original does", async () => {
    const res = await http.options("/workspaces", {
      headers: {
        Origin: ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
      },
    });
    expect(res.status).toBe(200);
    expect(res.text).toBe("OK");
    expect(res.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    expect(res.headers.get("access-control-allow-methods")).toBe(
      "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT",
    );
    expect(res.headers.get("access-control-allow-headers")).toBe("authorization,content-type");
    expect(res.headers.get("access-control-allow-credentials")).toBe("true");
    expect(res.headers.get("access-control-max-age")).toBe("600");
    expect(res.headers.get("vary")).toContain("Origin");
  });

  it("refuses a preflight from another origin with 400", async () => {
    const res = await http.options("/health", {
      headers: { Origin: "http://evil.example", "Access-Control-Request-Method": "GET" },
    });
    expect(res.status).toBe(400);
    expect(res.text).toBe("Disallowed CORS origin");
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("adds CORS headers to normal and error responses for allowed origins only", async () => {
    const ok = await http.get("/health", { headers: { Origin: "http://app.example" } });
    expect(ok.headers.get("access-control-allow-origin")).toBe("http://app.example");
    const missing = await http.get("/nope", { headers: { Origin: ORIGIN } });
    expect(missing.status).toBe(404);
    expect(missing.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    const other = await http.get("/health", { headers: { Origin: "http://evil.example" } });
    expect(other.status).toBe(200);
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("test-only routes", () => {
  it("are not in the deployed Worker at all", async () => {
    // The deployed bundle, built from wrangler.toml's entry as `npm run build` does.
    // Inside the repository: the runtime resolves module names from the working directory.
    const dir = mkdtempSync(join(testBundleDir, "deployed-"));
    try {
      const bundlePath = buildBundle(dir);
      expect(readFileSync(bundlePath, "utf8")).not.toContain("__test__");
      const deployed = await startApp({ database: app.database, bundlePath });
      try {
        const res = await api(deployed).get("/__test__/crash");
        expect(res.status).toBe(404);
        expect(res.body).toEqual({ detail: "Not Found" });
      } finally {
        await deployed.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

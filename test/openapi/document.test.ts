/**
 * The OpenAPI document (issue 7, item 2): it covers exactly the routes the app registers, it is a
 * well-formed OpenAPI 3.1 document, and /docs serves the interactive documentation.
 *
 * The app's routes are read from the running Worker (GET /__test__/routes lists `app.routes` of
 * the very app createApp() built), since the app's modules only load in workerd.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { loadDocument, type OpenApiDocument } from "./support";

let app: TestApp;
let doc: OpenApiDocument;

beforeAll(async () => {
  app = await startApp();
  doc = await loadDocument(app);
});
afterAll(async () => {
  await app?.close();
});

const METHODS = ["get", "post", "put", "patch", "delete"];

/** `GET /channels/{channel_id}` for each operation of the document. */
function documentedRoutes(): string[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((method) => METHODS.includes(method))
      .map((method) => `${method.toUpperCase()} ${path}`),
  );
}

/** The app's endpoints in the document's notation; middleware (`ALL`) and test-only routes left out. */
async function appRoutes(): Promise<string[]> {
  const res = await app.fetch("/__test__/routes");
  expect(res.status).toBe(200);
  const routes = (await res.json()) as { method: string; path: string }[];
  const endpoints = routes
    .filter(({ method, path }) => method !== "ALL" && !path.startsWith("/__test__"))
    .map(({ method, path }) => `${method} ${path.replace(/:(\w+)/g, "{$1}")}`);
  return [...new Set(endpoints)];
}

describe("coverage", () => {
  it("documents every route the app registers, and no route it lacks", async () => {
    const routes = await appRoutes();
    const documented = documentedRoutes();
    expect(routes.length).toBeGreaterThan(50);
    const undocumented = routes.filter((route) => !documented.includes(route));
    const unknown = documented.filter((route) => !routes.includes(route));
    expect(undocumented, "routes missing from the OpenAPI document (src/openapi/paths)").toEqual([]);
    expect(unknown, "documented routes the app does not have").toEqual([]);
  });

  it("documents every route of the original and the web app, both channel paths included", () => {
    const originalRoutes = [
      "POST /auth/register",
      "POST /auth/login",
      "POST /auth/refresh",
      "POST /auth/logout",
      "GET /auth/me",
      "GET /auth/sessions",
      "DELETE /auth/sessions/{session_id}",
      "GET /users/by-username/{username}",
      "GET /users/by-display-name/{display_name}",
      "GET /users/search",
      "GET /users/online",
      "GET /invites/incoming",
      "POST /invites/{invite_id}/accept",
      "POST /invites/{invite_id}/decline",
      "GET /friends/",
      "GET /friends",
      "POST /friends/requests",
      "GET /friends/requests/incoming",
      "GET /friends/requests/outgoing",
      "POST /friends/requests/{request_id}/accept",
      "POST /friends/requests/{request_id}/decline",
      "POST /workspaces/",
      "GET /workspaces/",
      "POST /workspaces",
      "GET /workspaces",
      "GET /workspaces/{workspace_id}",
      "POST /workspaces/{workspace_id}/invites",
      "POST /channels/workspaces/{workspace_id}/channels",
      "GET /channels/workspaces/{workspace_id}/channels",
      "GET /channels/{channel_id}",
      "GET /channels/{channel_id}/presence",
      "GET /channels/{channel_id}/messages",
      "POST /channels/{channel_id}/messages",
      "POST /dm/threads",
      "GET /dm/threads",
      "GET /dm/threads/{thread_id}/messages",
      "POST /dm/threads/{thread_id}/messages",
      "GET /dm/threads/{thread_id}/read-status",
      "POST /dm/threads/{thread_id}/read",
      "GET /health",
      "GET /healthz",
      "GET /heath",
      "GET /readyz",
      "GET /metrics",
      "POST /workspaces/{workspace_id}/channels",
      "GET /workspaces/{workspace_id}/channels",
      "GET /ws/notifications",
      "GET /ws/chat/{workspace_id}/{channel_id}",
      "GET /ws/dm/{thread_id}",
    ];
    const documented = documentedRoutes();
    expect(originalRoutes.filter((route) => !documented.includes(route))).toEqual([]);
  });
});

describe("the document", () => {
  it("is OpenAPI 3.1 with paths, a bearer security scheme and named schemas", async () => {
    const res = await app.fetch("/openapi.json");
    expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info).toMatchObject({ title: "Braumchat API" });
    expect(Object.keys(doc.paths).length).toBeGreaterThan(40);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    for (const name of ["ErrorDetail", "ValidationError", "UserPublic", "WorkspaceRead", "ChannelRead"]) {
      expect(doc.components.schemas, name).toHaveProperty(name);
    }
    for (const name of [
      "MessageRead",
      "ThreadRead",
      "DirectMessageRead",
      "ReadStatus",
      "FriendRequestRead",
    ]) {
      expect(doc.components.schemas, name).toHaveProperty(name);
    }
  });

  it("gives every operation a unique id, and every protected one the bearer scheme and its 401", () => {
    const ids = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        const label = `${method.toUpperCase()} ${path}`;
        expect(ids.has(operation.operationId), label).toBe(false);
        ids.add(operation.operationId);
        expect(operation.tags?.length, label).toBe(1);
        if (operation.security?.some((requirement) => "bearer" in requirement)) {
          expect(operation.responses["401"], label).toBeDefined();
        }
        // Every path parameter of the template is declared.
        const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
        const declared = (operation.parameters ?? []).filter((p) => p.in === "path").map((p) => p.name);
        expect(declared.sort(), label).toEqual(names.sort());
      }
    }
  });

  it("describes errors with the documented shapes: {detail: string}, and the 422 list", () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        for (const [status, response] of Object.entries(operation.responses)) {
          const schema = response.content?.["application/json"]?.schema as { $ref?: string } | undefined;
          const label = `${method.toUpperCase()} ${path} ${status}`;
          if (status === "422") expect(schema?.$ref, label).toBe("#/components/schemas/ValidationError");
          else if (["401", "403", "404", "409", "429"].includes(status)) {
            expect(schema?.$ref, label).toBe("#/components/schemas/ErrorDetail");
          }
        }
      }
    }
    expect(doc.components.schemas.ErrorDetail).toMatchObject({
      type: "object",
      properties: { detail: { type: "string" } },
      required: ["detail"],
    });
  });

  it("resolves every $ref", () => {
    const text = JSON.stringify(doc);
    for (const [, ref] of text.matchAll(/"\$ref":"([^"]+)"/g)) {
      const [, section, name] = /^#\/components\/(\w+)\/(.+)$/.exec(ref ?? "") ?? [];
      const components = doc.components as unknown as Record<string, Record<string, unknown>>;
      expect(section && name ? components[section]?.[name] : undefined, ref).toBeDefined();
    }
  });

  it("takes its request schemas from the routes' validation schemas", () => {
    // Constraints that exist only in the route modules' schemas show through.
    const body = doc.paths["/workspaces/{workspace_id}/members/{user_id}"]?.patch?.requestBody;
    expect(body?.content["application/json"]?.schema).toMatchObject({
      properties: { role: { enum: ["admin", "member"] } },
      required: ["role"],
    });
    const login = doc.paths["/auth/login"]?.post?.requestBody?.content;
    expect(Object.keys(login ?? {})).toEqual(["application/x-www-form-urlencoded", "multipart/form-data"]);
    expect(login?.["application/x-www-form-urlencoded"]?.schema).toMatchObject({
      properties: { grant_type: { pattern: "^password" }, username: { maxLength: 320 } },
      required: ["username", "password"],
    });
    const query = doc.paths["/workspaces/{workspace_id}/channels"]?.get?.parameters;
    expect(query).toContainEqual(
      expect.objectContaining({
        name: "include_archived",
        in: "query",
        schema: { type: "boolean", default: false },
      }),
    );
  });
});

describe("/docs", () => {
  it("serves Swagger UI from this origin, reading /openapi.json", async () => {
    const res = await app.fetch("/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain("<title>Braumchat API</title>");
    const sources = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]);
    expect(sources).toEqual([
      "data:,", // the icon: no /favicon.ico request
      expect.stringMatching(/^\/docs\/assets\/swagger-ui\.[0-9a-f]{16}\.css$/),
      "/openapi.json",
      expect.stringMatching(/^\/docs\/assets\/swagger-ui-bundle\.[0-9a-f]{16}\.js$/),
      expect.stringMatching(/^\/docs\/assets\/docs-init\.[0-9a-f]{16}\.js$/),
    ]);
    const init = await (await app.fetch(sources[4] as string)).text();
    expect(init).toContain("SwaggerUIBundle(");
    expect(init).toContain('url: "/openapi.json"');
  });
});

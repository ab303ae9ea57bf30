/**
 * Bad input to every workspace, invite and channel route: each path parameter, query parameter
 * and body is refused with a clear 4xx (the original's 422 vocabulary), never a 500; ids that
 * exist nowhere answer 404 (or the original's 403).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { request } from "../support/http";
import { buildWorld, type Cast, registerCast, type World } from "./world";

let app: TestApp;
let cast: Cast;
let world: World;

beforeAll(async () => {
  app = await startApp();
  cast = await registerCast(app);
  world = await buildWorld(app, cast);
});
afterAll(async () => {
  await app?.close();
});

const call = (method: string, path: string, options: Parameters<typeof request>[3] = {}) =>
  request(app, method, path, { token: cast.owner.accessToken, ...options });

/** Every route with its path parameters; `{x}` is replaced by a bad value, the others by real ids. */
const paramRoutes: { method: string; path: string; json?: unknown }[] = [
  { method: "GET", path: "/workspaces/{workspace_id}" },
  { method: "PATCH", path: "/workspaces/{workspace_id}", json: { name: "n" } },
  { method: "DELETE", path: "/workspaces/{workspace_id}" },
  { method: "POST", path: "/workspaces/{workspace_id}/invites", json: { invitee_display_name: "x#0000" } },
  { method: "GET", path: "/workspaces/{workspace_id}/invites" },
  { method: "DELETE", path: "/workspaces/{workspace_id}/invites/{invite_id}" },
  { method: "GET", path: "/workspaces/{workspace_id}/members" },
  { method: "PATCH", path: "/workspaces/{workspace_id}/members/{user_id}", json: { role: "admin" } },
  { method: "DELETE", path: "/workspaces/{workspace_id}/members/{user_id}" },
  { method: "POST", path: "/workspaces/{workspace_id}/transfer-ownership", json: { user_id: 1 } },
  { method: "GET", path: "/workspaces/{workspace_id}/audit-logs" },
  { method: "POST", path: "/invites/{invite_id}/accept" },
  { method: "POST", path: "/invites/{invite_id}/decline" },
  { method: "POST", path: "/channels/workspaces/{workspace_id}/channels", json: { name: "c" } },
  { method: "GET", path: "/channels/workspaces/{workspace_id}/channels" },
  { method: "POST", path: "/workspaces/{workspace_id}/channels", json: { name: "c" } },
  { method: "GET", path: "/workspaces/{workspace_id}/channels" },
  { method: "GET", path: "/channels/{channel_id}" },
  { method: "PATCH", path: "/channels/{channel_id}", json: { topic: "t" } },
  { method: "DELETE", path: "/channels/{channel_id}" },
  { method: "GET", path: "/channels/{channel_id}/members" },
  { method: "POST", path: "/channels/{channel_id}/members", json: { user_id: 1 } },
  { method: "DELETE", path: "/channels/{channel_id}/members/{user_id}" },
];

const realIds = (): Record<string, number> => ({
  workspace_id: world.workspaceId,
  invite_id: world.pendingInviteId,
  user_id: cast.extra.id,
  channel_id: world.publicChannelId,
});

/** Each (route, parameter) pair, so every parameter of every route is tried. */
const paramCases = paramRoutes.flatMap((route) =>
  [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ ...route, param: m[1] as string })),
);

function fill(path: string, bad: string, value: string) {
  return path.replace(/\{(\w+)\}/g, (_, name: string) => (name === bad ? value : String(realIds()[name])));
}

describe("path parameters", () => {
  it.each(paramCases)(
    "$method $path: a non-integer $param is a 422",
    async ({ method, path, json, param }) => {
      const res = await call(method, fill(path, param, "abc"), { json });
      expect(res.status).toBe(422);
      expect(res.body.detail).toEqual([
        { loc: ["path", param], msg: "value is not a valid integer", type: "type_error.integer" },
      ]);
    },
  );

  it.each(paramCases)("$method $path: an out-of-range $param is a 422, not a database error", async (c) => {
    const res = await call(c.method, fill(c.path, c.param, "3000000000"), { json: c.json });
    expect(res.status).toBe(422);
    expect(res.body.detail[0]).toMatchObject({
      loc: ["path", c.param],
      msg: "ensure this value is less than or equal to 2147483647",
    });
  });

  it("checks credentials before parameters", async () => {
    const res = await request(app, "GET", "/workspaces/abc");
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ detail: "Not authenticated" });
  });
});

describe("ids that exist nowhere", () => {
  const missing = 999_999;
  it.each([
    ["GET", `/workspaces/${missing}`, undefined, 404, "Not Found"],
    ["PATCH", `/workspaces/${missing}`, { name: "x" }, 404, "Workspace not found"],
    ["DELETE", `/workspaces/${missing}`, undefined, 404, "Workspace not found"],
    [
      "POST",
      `/workspaces/${missing}/invites`,
      { invitee_display_name: "x#0000" },
      404,
      "Workspace not found",
    ],
    ["GET", `/workspaces/${missing}/members`, undefined, 404, "Workspace not found"],
    ["POST", `/invites/${missing}/accept`, undefined, 404, "Invite not found"],
    ["POST", `/invites/${missing}/decline`, undefined, 404, "Invite not found"],
    ["GET", `/workspaces/${missing}/channels`, undefined, 403, "Forbidden"],
    ["GET", `/channels/${missing}`, undefined, 404, "Not Found"],
    ["DELETE", `/channels/${missing}`, undefined, 404, "Not Found"],
    ["POST", `/channels/${missing}/members`, { user_id: 1 }, 404, "Not Found"],
  ] as const)("%s %s answers %i", async (method, path, json, status, detail) => {
    const res = await call(method, path, { json });
    expect(res.status).toBe(status);
    expect(res.body).toEqual({ detail });
  });

  it("a user id that is nobody's is a clear 4xx in every body and path that takes one", async () => {
    const ws = `/workspaces/${world.workspaceId}`;
    const transfer = await call("POST", `${ws}/transfer-ownership`, { json: { user_id: missing } });
    expect([transfer.status, transfer.body]).toEqual([
      400,
      { detail: "User is not a member of this workspace" },
    ]);
    const role = await call("PATCH", `${ws}/members/${missing}`, { json: { role: "admin" } });
    expect([role.status, role.body]).toEqual([404, { detail: "Member not found" }]);
    const add = await call("POST", `/channels/${world.publicChannelId}/members`, {
      json: { user_id: missing },
    });
    expect([add.status, add.body]).toEqual([400, { detail: "User is not a member of this workspace" }]);
  });
});

type BodyCase = [
  what: string,
  body: { json?: unknown; raw?: string; headers?: Record<string, string> },
  loc: unknown[],
  msg: string,
];

const bodyRoutes: { route: string; method: string; path: () => string; cases: BodyCase[] }[] = [
  {
    route: "POST /workspaces",
    method: "POST",
    path: () => "/workspaces",
    cases: [
      ["no body", {}, ["body"], "field required"],
      ["no name", { json: { slug: "s" } }, ["body", "name"], "field required"],
      ["a number for the name", { json: { name: 5 } }, ["body", "name"], "str type expected"],
      [
        "an empty name",
        { json: { name: "  " } },
        ["body", "name"],
        "ensure this value has at least 1 characters",
      ],
      [
        "a name too long",
        { json: { name: "n".repeat(101) } },
        ["body", "name"],
        "ensure this value has at most 100 characters",
      ],
      [
        "a control character",
        { json: { name: "a\u0007b" } },
        ["body", "name"],
        "must not contain control characters",
      ],
      ["a number for the slug", { json: { name: "n", slug: 5 } }, ["body", "slug"], "str type expected"],
      [
        "a slug too long",
        { json: { name: "n", slug: "s".repeat(101) } },
        ["body", "slug"],
        "ensure this value has at most 100 characters",
      ],
      ["a list", { json: [] }, ["body"], "value is not a valid dict"],
      [
        "text/plain",
        { raw: '{"name":"x"}', headers: { "Content-Type": "text/plain" } },
        ["body"],
        "value is not a valid dict",
      ],
    ],
  },
  {
    route: "PATCH /workspaces/{id}",
    method: "PATCH",
    path: () => `/workspaces/${world.workspaceId}`,
    cases: [
      ["no field", { json: {} }, ["body", "__root__"], "at least one of name, slug is required"],
      [
        "an empty name",
        { json: { name: "" } },
        ["body", "name"],
        "ensure this value has at least 1 characters",
      ],
      [
        "an empty slug",
        { json: { slug: " " } },
        ["body", "slug"],
        "ensure this value has at least 1 characters",
      ],
      ["null for the name", { json: { name: null } }, ["body", "name"], "str type expected"],
    ],
  },
  {
    route: "POST /workspaces/{id}/invites",
    method: "POST",
    path: () => `/workspaces/${world.workspaceId}/invites`,
    cases: [
      ["no body", {}, ["body"], "field required"],
      ["no handle", { json: {} }, ["body", "invitee_display_name"], "field required"],
      [
        "a number",
        { json: { invitee_display_name: 7 } },
        ["body", "invitee_display_name"],
        "str type expected",
      ],
      [
        "a handle too long",
        { json: { invitee_display_name: "h".repeat(256) } },
        ["body", "invitee_display_name"],
        "ensure this value has at most 255 characters",
      ],
    ],
  },
  {
    route: "PATCH /workspaces/{id}/members/{user_id}",
    method: "PATCH",
    path: () => `/workspaces/${world.workspaceId}/members/${cast.extra.id}`,
    cases: [
      ["no role", { json: {} }, ["body", "role"], "field required"],
      [
        "owner",
        { json: { role: "owner" } },
        ["body", "role"],
        'unexpected value; permitted: "admin", "member"',
      ],
      [
        "an unknown role",
        { json: { role: "superuser" } },
        ["body", "role"],
        'unexpected value; permitted: "admin", "member"',
      ],
    ],
  },
  {
    route: "POST /workspaces/{id}/transfer-ownership",
    method: "POST",
    path: () => `/workspaces/${world.workspaceId}/transfer-ownership`,
    cases: [
      ["no user", { json: {} }, ["body", "user_id"], "field required"],
      ["a word", { json: { user_id: "abc" } }, ["body", "user_id"], "value is not a valid integer"],
      ["a fraction", { json: { user_id: 1.5 } }, ["body", "user_id"], "value is not a valid integer"],
    ],
  },
  {
    route: "POST /workspaces/{id}/channels",
    method: "POST",
    path: () => `/workspaces/${world.workspaceId}/channels`,
    cases: [
      ["no body", {}, ["body"], "field required"],
      ["no name", { json: { is_private: true } }, ["body", "name"], "field required"],
      [
        "an empty name",
        { json: { name: "" } },
        ["body", "name"],
        "ensure this value has at least 1 characters",
      ],
      [
        "a name too long",
        { json: { name: "c".repeat(81) } },
        ["body", "name"],
        "ensure this value has at most 80 characters",
      ],
      [
        "a word for is_private",
        { json: { name: "c", is_private: "maybe" } },
        ["body", "is_private"],
        "value could not be parsed to a boolean",
      ],
    ],
  },
  {
    route: "POST /channels/workspaces/{id}/channels",
    method: "POST",
    path: () => `/channels/workspaces/${world.workspaceId}/channels`,
    cases: [["a list for the name", { json: { name: ["c"] } }, ["body", "name"], "str type expected"]],
  },
  {
    route: "PATCH /channels/{id}",
    method: "PATCH",
    path: () => `/channels/${world.publicChannelId}`,
    cases: [
      [
        "no field",
        { json: {} },
        ["body", "__root__"],
        "at least one of name, topic, is_archived is required",
      ],
      [
        "an empty name",
        { json: { name: " " } },
        ["body", "name"],
        "ensure this value has at least 1 characters",
      ],
      [
        "a topic too long",
        { json: { topic: "t".repeat(251) } },
        ["body", "topic"],
        "ensure this value has at most 250 characters",
      ],
      [
        "a topic with a line break",
        { json: { topic: "a\nb" } },
        ["body", "topic"],
        "must not contain control characters",
      ],
      [
        "a word for is_archived",
        { json: { is_archived: "yes" } },
        ["body", "is_archived"],
        "value could not be parsed to a boolean",
      ],
    ],
  },
  {
    route: "POST /channels/{id}/members",
    method: "POST",
    path: () => `/channels/${world.publicChannelId}/members`,
    cases: [
      ["no body", {}, ["body"], "field required"],
      ["no user", { json: {} }, ["body", "user_id"], "field required"],
      ["a word", { json: { user_id: "x" } }, ["body", "user_id"], "value is not a valid integer"],
    ],
  },
];

describe("bodies", () => {
  const cases = bodyRoutes.flatMap(({ route, method, path, cases }) =>
    cases.map(([what, body, loc, msg]) => ({ route, method, path, what, body, loc, msg })),
  );

  it.each(cases)("$route with $what is a 422", async ({ method, path, body, loc, msg }) => {
    const res = await call(method, path(), body);
    expect(res.status, res.text).toBe(422);
    expect(res.body.detail).toContainEqual(expect.objectContaining({ loc, msg }));
  });

  it("a malformed JSON body is a 422 even before authentication", async () => {
    const res = await request(app, "POST", "/workspaces", {
      raw: '{"name": ',
      headers: { "Content-Type": "application/json" },
    });
    expect(res.status).toBe(422);
    expect(res.body.detail[0].type).toBe("value_error.jsondecode");
  });

  it("unknown fields are ignored", async () => {
    const res = await call("POST", "/workspaces", { json: { name: `Extra ${Date.now()}`, colour: "blue" } });
    expect(res.status).toBe(200);
    expect(res.body).not.toHaveProperty("colour");
  });
});

describe("query parameters", () => {
  it.each([
    [
      "/workspaces/{w}/channels?include_archived=maybe",
      ["query", "include_archived"],
      "value could not be parsed to a boolean",
    ],
    [
      "/channels/workspaces/{w}/channels?include_archived=2",
      ["query", "include_archived"],
      "value could not be parsed to a boolean",
    ],
    [
      "/workspaces/{w}/audit-logs?limit=0",
      ["query", "limit"],
      "ensure this value is greater than or equal to 1",
    ],
    [
      "/workspaces/{w}/audit-logs?limit=101",
      ["query", "limit"],
      "ensure this value is less than or equal to 100",
    ],
    ["/workspaces/{w}/audit-logs?limit=ten", ["query", "limit"], "value is not a valid integer"],
    ["/workspaces/{w}/audit-logs?before_id=x", ["query", "before_id"], "value is not a valid integer"],
  ])("%s is a 422", async (template, loc, msg) => {
    const res = await call("GET", template.replace("{w}", String(world.workspaceId)));
    expect(res.status).toBe(422);
    expect(res.body.detail).toContainEqual(expect.objectContaining({ loc, msg }));
  });

  it("accepts the original's lenient spellings", async () => {
    const yes = await call("GET", `/workspaces/${world.workspaceId}/channels?include_archived=yes`);
    const numeric = await call(
      "GET",
      `/workspaces/${world.workspaceId}/audit-logs?limit=%2B5&before_id=${2 ** 31 - 1}`,
    );
    expect([yes.status, numeric.status]).toEqual([200, 200]);
  });
});

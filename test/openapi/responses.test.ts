/**
 * Real answers checked against the OpenAPI document (issue 7, item 2): requests to the running
 * Worker, for every route module, successes and errors, each answer's status required to be
 * documented for its operation and its body to match the schema documented for that status.
 *
 * The schemas come from the served /openapi.json (converted with zod's `z.fromJSONSchema`), so
 * this checks what clients read, not the source it was generated from.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { login, registerUser, type TestUser, uniqueEmail } from "../support/users";
import { type CallOptions, call as callChecked, DocumentChecker, handshake, loadDocument } from "./support";

const METRICS_TOKEN = "metrics-token-of-the-openapi-test";

let app: TestApp;
let checker: DocumentChecker;
let owner: TestUser;
let member: TestUser;
let outsider: TestUser;

beforeAll(async () => {
  app = await startApp({
    env: {
      // The third login of one user in a minute is refused (429); the per-address limit is out of the way.
      RATE_LIMIT_LOGIN_PER_MINUTE_PER_USER: "2",
      RATE_LIMIT_LOGIN_PER_MINUTE: "100",
      // A slow store on a busy machine would make the limiter fail open (and skip the store for 5 s).
      RATE_LIMIT_TIMEOUT_MS: "5000",
      METRICS_TOKEN,
    },
  });
  checker = new DocumentChecker(await loadDocument(app));
  [owner, member, outsider] = await Promise.all([
    registerUser(app, { displayName: "Olive" }),
    registerUser(app, { displayName: "Milo" }),
    registerUser(app, { displayName: "Otto" }),
  ]);
});
afterAll(async () => {
  await app?.close();
});

const call = <T = any>(method: string, template: string, options?: CallOptions) =>
  callChecked<T>(app, checker, method, template, options);

/** Calls as a user; asserts the status, returns the body. */
async function callAs<T = any>(
  user: TestUser | null,
  method: string,
  template: string,
  status: number,
  options: CallOptions = {},
): Promise<T> {
  const res = await call<T>(method, template, { ...options, token: user?.accessToken });
  expect(res.status, `${method} ${template}: ${res.text}`).toBe(status);
  return res.body;
}

const ws = (path: string) => handshake(app.url, path);

let workspaceId: number;
let channelId: number;

describe("health and documentation", () => {
  it("probes, metrics and the document", async () => {
    await callAs(null, "get", "/health", 200);
    await callAs(null, "get", "/healthz", 200);
    await callAs(null, "get", "/heath", 200);
    await callAs(null, "get", "/readyz", 200);
    await callAs(null, "get", "/metrics", 401);
    await callAs({ accessToken: METRICS_TOKEN } as TestUser, "get", "/metrics", 200);
    await callAs(null, "get", "/openapi.json", 200);
    const page = await callAs<string>(null, "get", "/docs", 200);
    const files = [...page.matchAll(/\/docs\/assets\/([^"]+)/g)].map((match) => match[1] as string);
    expect(files.map((file) => file.replace(/\.[0-9a-f]{16}\./, "."))).toEqual([
      "swagger-ui.css",
      "swagger-ui-bundle.js",
      "docs-init.js",
    ]);
    for (const file of files) await callAs(null, "get", "/docs/assets/{file}", 200, { params: { file } });
    const stale = "swagger-ui-bundle.0123456789abcdef.js";
    await callAs(null, "get", "/docs/assets/{file}", 404, { params: { file: stale } });

    const etag = (await app.fetch("/docs")).headers.get("ETag") as string;
    await callAs(null, "get", "/docs", 304, { headers: { "If-None-Match": etag } });
    const asset = await app.fetch(`/docs/assets/${files[0]}`);
    await callAs(null, "get", "/docs/assets/{file}", 304, {
      params: { file: files[0] as string },
      headers: { "If-None-Match": asset.headers.get("ETag") as string },
    });
  });
});

describe("auth", () => {
  it("registers, logs in, refreshes, and refuses bad input and bad credentials", async () => {
    const email = uniqueEmail("openapi");
    const password = "correct horse battery";
    await callAs(null, "post", "/auth/register", 200, { json: { email, password, display_name: "Reg" } });
    await callAs(null, "post", "/auth/register", 400, { json: { email, password, display_name: "Reg" } });
    await callAs(null, "post", "/auth/register", 422, {
      json: { email: "nope", password, display_name: "R" },
    });

    const form = { grant_type: "password", username: email, password };
    const tokens = await callAs(null, "post", "/auth/login", 200, { form });
    await callAs(null, "post", "/auth/login", 401, { form: { ...form, password: "wrong password" } });
    const limited = await callAs(null, "post", "/auth/login", 429, { form }).catch((error: Error) => {
      throw new Error(`${error.message}\n${app.logs.filter((line) => /rate limit/.test(line)).join("\n")}`);
    });
    expect(limited).toEqual({ detail: "Too many requests" });
    await callAs(null, "post", "/auth/login", 422, { json: form });

    const rotated = await callAs(null, "post", "/auth/refresh", 200, {
      json: { refresh_token: tokens.refresh_token },
    });
    await callAs(null, "post", "/auth/refresh", 401, { json: { refresh_token: tokens.access_token } });
    await callAs(null, "post", "/auth/refresh", 422, { json: {} });

    const session: TestUser = { ...owner, accessToken: rotated.access_token };
    await callAs(session, "get", "/auth/me", 200);
    await callAs(null, "get", "/auth/me", 401);
    await callAs(session, "post", "/auth/logout", 422, { raw: "{not json" });
    await callAs(session, "post", "/auth/logout", 204);
    await callAs(session, "get", "/auth/me", 401);
  });

  it("lists and revokes sessions, changes the password, and has no Google sign-in configured", async () => {
    const user = await registerUser(app);
    const second = await login(app, user.email, user.password);
    const sessions = await callAs<{ session_id: string; is_current: boolean }[]>(
      user,
      "get",
      "/auth/sessions",
      200,
    );
    expect(sessions.length).toBe(2);
    await callAs(user, "delete", "/auth/sessions/{session_id}", 404, {
      params: { session_id: "no-such-session" },
    });
    await callAs(user, "post", "/auth/sessions/revoke-others", 200);
    await callAs({ ...user, accessToken: second.access_token }, "get", "/auth/sessions", 401);
    const other = sessions.find((s) => !s.is_current);
    await callAs(user, "delete", "/auth/sessions/{session_id}", 204, {
      params: { session_id: other?.session_id ?? "" },
    });

    await callAs(user, "post", "/auth/password", 400, {
      json: { current_password: "wrong password", new_password: "another long password" },
    });
    await callAs(user, "post", "/auth/password", 422, { json: { current_password: user.password } });
    await callAs(user, "post", "/auth/password", 204, {
      json: { current_password: user.password, new_password: "another long password" },
    });

    await callAs(null, "post", "/auth/google", 501, { json: { id_token: "x.y.z" } });
    await callAs(null, "post", "/auth/google", 422, { json: {} });
  });
});

describe("workspaces", () => {
  it("creates, reads, updates, lists, and refuses outsiders and bad ids", async () => {
    const slug = `openapi-${Date.now().toString(36)}`;
    const created = await callAs(owner, "post", "/workspaces", 200, { json: { name: "OpenAPI", slug } });
    workspaceId = created.id;
    await callAs(owner, "post", "/workspaces/", 409, { json: { name: "Again", slug } });
    await callAs(owner, "post", "/workspaces", 422, { json: {} });
    await callAs(owner, "get", "/workspaces", 200);
    await callAs(owner, "get", "/workspaces/", 200);
    await callAs(null, "get", "/workspaces", 401);

    const params = { workspace_id: workspaceId };
    await callAs(owner, "get", "/workspaces/{workspace_id}", 200, { params });
    await callAs(outsider, "get", "/workspaces/{workspace_id}", 403, { params });
    await callAs(owner, "get", "/workspaces/{workspace_id}", 404, {
      params: { workspace_id: 2_000_000_000 },
    });
    await callAs(owner, "get", "/workspaces/{workspace_id}", 422, { params: { workspace_id: "abc" } });
    await callAs(owner, "patch", "/workspaces/{workspace_id}", 200, {
      params,
      json: { name: "OpenAPI docs" },
    });
    await callAs(owner, "patch", "/workspaces/{workspace_id}", 422, { params, json: {} });
  });

  it("invites, lists members, changes roles, reads the audit log", async () => {
    const params = { workspace_id: workspaceId };
    const invite = await callAs(owner, "post", "/workspaces/{workspace_id}/invites", 200, {
      params,
      json: { invitee_display_name: member.displayName },
    });
    await callAs(owner, "post", "/workspaces/{workspace_id}/invites", 400, {
      params,
      json: { invitee_display_name: member.displayName },
    });
    await callAs(owner, "post", "/workspaces/{workspace_id}/invites", 404, {
      params,
      json: { invitee_display_name: "Nobody#0000" },
    });
    await callAs(owner, "get", "/workspaces/{workspace_id}/invites", 200, { params });

    // The invitee's side (routes/invites.ts).
    await callAs(member, "get", "/invites/incoming", 200);
    await callAs(outsider, "post", "/invites/{invite_id}/accept", 403, { params: { invite_id: invite.id } });
    await callAs(member, "post", "/invites/{invite_id}/accept", 200, { params: { invite_id: invite.id } });
    await callAs(member, "post", "/invites/{invite_id}/decline", 409, { params: { invite_id: invite.id } });
    await callAs(member, "post", "/invites/{invite_id}/decline", 404, {
      params: { invite_id: 2_000_000_000 },
    });
    await callAs(owner, "delete", "/workspaces/{workspace_id}/invites/{invite_id}", 409, {
      params: { ...params, invite_id: invite.id },
    });
    const second = await callAs(owner, "post", "/workspaces/{workspace_id}/invites", 200, {
      params,
      json: { invitee_display_name: outsider.displayName },
    });
    await callAs(owner, "delete", "/workspaces/{workspace_id}/invites/{invite_id}", 204, {
      params: { ...params, invite_id: second.id },
    });

    await callAs(owner, "get", "/workspaces/{workspace_id}/members", 200, { params });
    const memberParams = { ...params, user_id: member.id };
    await callAs(owner, "patch", "/workspaces/{workspace_id}/members/{user_id}", 200, {
      params: memberParams,
      json: { role: "admin" },
    });
    await callAs(owner, "patch", "/workspaces/{workspace_id}/members/{user_id}", 422, {
      params: memberParams,
      json: { role: "owner" },
    });
    await callAs(owner, "patch", "/workspaces/{workspace_id}/members/{user_id}", 400, {
      params: { ...params, user_id: owner.id },
      json: { role: "member" },
    });
    await callAs(owner, "post", "/workspaces/{workspace_id}/transfer-ownership", 400, {
      params,
      json: { user_id: owner.id },
    });
    await callAs(owner, "get", "/workspaces/{workspace_id}/audit-logs", 200, { params, query: { limit: 5 } });
    await callAs(outsider, "get", "/workspaces/{workspace_id}/audit-logs", 403, { params });
  });

  it("transfers ownership, removes members, deletes a workspace", async () => {
    const other = await callAs(owner, "post", "/workspaces", 200, { json: { name: "Scratch" } });
    const params = { workspace_id: other.id };
    const invite = await callAs(owner, "post", "/workspaces/{workspace_id}/invites", 200, {
      params,
      json: { invitee_display_name: outsider.displayName },
    });
    await callAs(outsider, "post", "/invites/{invite_id}/decline", 200, { params: { invite_id: invite.id } });
    const again = await callAs(owner, "post", "/workspaces/{workspace_id}/invites", 200, {
      params,
      json: { invitee_display_name: outsider.displayName },
    });
    await callAs(outsider, "post", "/invites/{invite_id}/accept", 200, { params: { invite_id: again.id } });
    await callAs(owner, "delete", "/workspaces/{workspace_id}/members/{user_id}", 400, {
      params: { ...params, user_id: owner.id },
    });
    await callAs(owner, "post", "/workspaces/{workspace_id}/transfer-ownership", 200, {
      params,
      json: { user_id: outsider.id },
    });
    await callAs(outsider, "delete", "/workspaces/{workspace_id}/members/{user_id}", 204, {
      params: { ...params, user_id: owner.id },
    });
    await callAs(owner, "delete", "/workspaces/{workspace_id}", 403, { params });
    await callAs(outsider, "delete", "/workspaces/{workspace_id}", 204, { params });
    await callAs(outsider, "delete", "/workspaces/{workspace_id}", 404, { params });
  });
});

describe("channels and messages", () => {
  it("creates, lists, reads, updates channels and their members", async () => {
    const params = { workspace_id: workspaceId };
    const channel = await callAs(owner, "post", "/workspaces/{workspace_id}/channels", 200, {
      params,
      json: { name: "general" },
    });
    channelId = channel.id;
    await callAs(owner, "post", "/channels/workspaces/{workspace_id}/channels", 409, {
      params,
      json: { name: "General" },
    });
    await callAs(outsider, "post", "/workspaces/{workspace_id}/channels", 403, {
      params,
      json: { name: "x" },
    });
    await callAs(owner, "post", "/workspaces/{workspace_id}/channels", 422, { params, json: { name: "" } });
    await callAs(owner, "get", "/workspaces/{workspace_id}/channels", 200, { params });
    await callAs(owner, "get", "/channels/workspaces/{workspace_id}/channels", 200, {
      params,
      query: { include_archived: "true" },
    });
    await callAs(outsider, "get", "/channels/workspaces/{workspace_id}/channels", 403, { params });

    const channelParams = { channel_id: channelId };
    await callAs(member, "get", "/channels/{channel_id}", 200, { params: channelParams });
    await callAs(outsider, "get", "/channels/{channel_id}", 403, { params: channelParams });
    await callAs(owner, "get", "/channels/{channel_id}", 404, { params: { channel_id: 2_000_000_000 } });
    await callAs(owner, "patch", "/channels/{channel_id}", 200, {
      params: channelParams,
      json: { topic: "Docs" },
    });

    await callAs(member, "post", "/channels/{channel_id}/members", 200, {
      params: channelParams,
      json: { user_id: member.id },
    });
    await callAs(owner, "post", "/channels/{channel_id}/members", 400, {
      params: channelParams,
      json: { user_id: outsider.id },
    });
    await callAs(owner, "get", "/channels/{channel_id}/members", 200, { params: channelParams });

    const scratch = await callAs(owner, "post", "/workspaces/{workspace_id}/channels", 200, {
      params,
      json: { name: "scratch" },
    });
    const scratchParams = { channel_id: scratch.id };
    await callAs(owner, "post", "/channels/{channel_id}/members", 200, {
      params: scratchParams,
      json: { user_id: member.id },
    });
    await callAs(owner, "delete", "/channels/{channel_id}/members/{user_id}", 204, {
      params: { ...scratchParams, user_id: member.id },
    });
    await callAs(owner, "delete", "/channels/{channel_id}/members/{user_id}", 404, {
      params: { ...scratchParams, user_id: member.id },
    });
    await callAs(owner, "delete", "/channels/{channel_id}", 204, { params: scratchParams });
    await callAs(owner, "delete", "/channels/{channel_id}", 404, { params: scratchParams });
  });

  it("posts, lists, edits and deletes messages; presence and read state", async () => {
    const params = { channel_id: channelId };
    const message = await callAs(member, "post", "/channels/{channel_id}/messages", 200, {
      params,
      json: { content: "hello", client_id: "c-1" },
    });
    await callAs(member, "post", "/channels/{channel_id}/messages", 422, { params, json: { content: "" } });
    await callAs(outsider, "post", "/channels/{channel_id}/messages", 403, {
      params,
      json: { content: "hi" },
    });
    await callAs(member, "get", "/channels/{channel_id}/messages", 200, { params, query: { limit: 10 } });
    await callAs(member, "get", "/channels/{channel_id}/messages", 422, {
      params,
      query: { before_id: "x" },
    });

    const messageParams = { ...params, message_id: message.id };
    await callAs(member, "patch", "/channels/{channel_id}/messages/{message_id}", 200, {
      params: messageParams,
      json: { content: "hello, edited" },
    });
    await callAs(owner, "patch", "/channels/{channel_id}/messages/{message_id}", 403, {
      params: messageParams,
      json: { content: "not mine" },
    });
    await callAs(owner, "delete", "/channels/{channel_id}/messages/{message_id}", 204, {
      params: messageParams,
    });
    await callAs(owner, "delete", "/channels/{channel_id}/messages/{message_id}", 404, {
      params: messageParams,
    });

    await callAs(member, "get", "/channels/{channel_id}/presence", 200, { params });
    await callAs(member, "get", "/channels/{channel_id}/read", 200, { params });
    await callAs(member, "post", "/channels/{channel_id}/read", 200, {
      params,
      json: { last_read_message_id: message.id },
    });
    await callAs(outsider, "get", "/channels/{channel_id}/read", 403, { params });
  });
});

describe("users and friends", () => {
  it("finds users, reports online state, updates the profile", async () => {
    await callAs(owner, "get", "/users/search", 200, { query: { q: "mi" } });
    await callAs(owner, "get", "/users/search", 422);
    await callAs(owner, "get", "/users/online", 200, { query: { ids: `${member.id},x,${outsider.id}` } });
    await callAs(owner, "get", "/users/by-username/{username}", 200, {
      params: { username: member.displayName },
    });
    await callAs(owner, "get", "/users/by-display-name/{display_name}", 404, {
      params: { display_name: "Nobody#0000" },
    });
    await callAs(outsider, "patch", "/users/me", 200, { json: { avatar_url: "https://example.com/a.png" } });
    await callAs(outsider, "patch", "/users/me", 422, { json: { avatar_url: "javascript:alert(1)" } });
  });

  it("requests, accepts, lists and ends friendships", async () => {
    const request = await callAs(owner, "post", "/friends/requests", 200, {
      json: { addressee_display_name: outsider.displayName },
    });
    await callAs(owner, "post", "/friends/requests", 400, {
      json: { addressee_display_name: owner.displayName },
    });
    await callAs(owner, "post", "/friends/requests", 404, {
      json: { addressee_display_name: "Nobody#0000" },
    });
    await callAs(owner, "post", "/friends/requests", 422, { json: { addressee_display_name: "x" } });
    await callAs(outsider, "get", "/friends/requests/incoming", 200);
    await callAs(owner, "get", "/friends/requests/outgoing", 200, { query: { limit: 5 } });

    const params = { request_id: request.id };
    await callAs(owner, "post", "/friends/requests/{request_id}/accept", 403, { params });
    await callAs(outsider, "post", "/friends/requests/{request_id}/accept", 200, { params });
    await callAs(outsider, "post", "/friends/requests/{request_id}/decline", 409, { params });
    await callAs(outsider, "post", "/friends/requests/{request_id}/decline", 404, {
      params: { request_id: 999_999 },
    });
    await callAs(owner, "delete", "/friends/requests/{request_id}", 409, { params });
    await callAs(owner, "get", "/friends", 200, { query: { q: "ot" } });
    await callAs(owner, "get", "/friends/", 200);

    await callAs(owner, "delete", "/friends/{user_id}", 204, { params: { user_id: outsider.id } });
    await callAs(owner, "delete", "/friends/{user_id}", 404, { params: { user_id: outsider.id } });
  });
});

describe("direct messages", () => {
  it("opens threads, sends, lists, edits and deletes messages, and tracks reads", async () => {
    const thread = await callAs(owner, "post", "/dm/threads", 200, {
      json: { workspace_id: workspaceId, user_id: member.id },
    });
    await callAs(owner, "post", "/dm/threads", 400, {
      json: { workspace_id: workspaceId, user_id: owner.id },
    });
    await callAs(owner, "post", "/dm/threads", 404, {
      json: { workspace_id: workspaceId, user_id: 2_000_000_000 },
    });
    await callAs(owner, "post", "/dm/threads", 422, {
      json: { workspace_id: workspaceId, user_id: member.id, participant_email: member.email },
    });
    await callAs(member, "get", "/dm/threads", 200, { query: { q: "ol" } });

    const params = { thread_id: thread.id };
    const message = await callAs(owner, "post", "/dm/threads/{thread_id}/messages", 200, {
      params,
      json: { content: "psst", client_id: "d-1" },
    });
    await callAs(outsider, "post", "/dm/threads/{thread_id}/messages", 403, {
      params,
      json: { content: "hi" },
    });
    await callAs(member, "get", "/dm/threads/{thread_id}/messages", 200, { params, query: { limit: 5 } });
    await callAs(member, "get", "/dm/threads/{thread_id}/messages", 404, {
      params: { thread_id: 2_000_000_000 },
    });

    const messageParams = { ...params, message_id: message.id };
    await callAs(owner, "patch", "/dm/threads/{thread_id}/messages/{message_id}", 200, {
      params: messageParams,
      json: { content: "psst, edited" },
    });
    await callAs(member, "delete", "/dm/threads/{thread_id}/messages/{message_id}", 403, {
      params: messageParams,
    });
    await callAs(owner, "delete", "/dm/threads/{thread_id}/messages/{message_id}", 204, {
      params: messageParams,
    });

    await callAs(member, "get", "/dm/threads/{thread_id}/read-status", 200, { params });
    await callAs(member, "post", "/dm/threads/{thread_id}/read", 200, {
      params,
      json: { last_read_message_id: message.id },
    });
    await callAs(member, "post", "/dm/threads/{thread_id}/read", 422, { params });
    await callAs(outsider, "get", "/dm/threads/{thread_id}/read-status", 403, { params });
  });
});

describe("sockets", () => {
  it("answers handshakes with 101, refusals with 403 or 422, a plain GET with 426", async () => {
    const token = member.accessToken;
    const check = async (template: string, path: string, status: number) => {
      const answer = await ws(path);
      expect(answer.status, `${path}: ${answer.text}`).toBe(status);
      checker.check("get", template, answer);
    };
    await check("/ws/notifications", `/ws/notifications?token=${token}`, 101);
    await check("/ws/notifications", "/ws/notifications?token=not-a-token", 403);
    await callAs(member, "get", "/ws/notifications", 426);

    const chat = "/ws/chat/{workspace_id}/{channel_id}";
    await check(chat, `/ws/chat/${workspaceId}/${channelId}?token=${token}`, 101);
    await check(chat, `/ws/chat/${workspaceId}/${channelId}?token=${outsider.accessToken}`, 403);
    await check(chat, `/ws/chat/${workspaceId}/${channelId}?token=${token}&since=abc`, 422);

    const thread = await callAs(owner, "post", "/dm/threads", 200, {
      json: { workspace_id: workspaceId, user_id: member.id },
    });
    await check("/ws/dm/{thread_id}", `/ws/dm/${thread.id}?token=${token}`, 101);
    await check("/ws/dm/{thread_id}", `/ws/dm/${thread.id}?token=${outsider.accessToken}`, 403);
  });
});

describe("coverage of this test", () => {
  it("checked a success and an error answer of every route module", () => {
    const tags = [
      "health",
      "auth",
      "users",
      "invites",
      "friends",
      "workspaces",
      "channels",
      "messages",
      "direct messages",
      "sockets",
    ];
    for (const tag of tags) {
      const tally = checker.exercised.get(tag);
      expect(tally?.success.size ?? 0, `${tag}: no success checked`).toBeGreaterThan(0);
      expect(tally?.error.size ?? 0, `${tag}: no error checked`).toBeGreaterThan(0);
    }
    // 200s of /openapi.json, /docs and an asset; 304s of /docs and an asset.
    expect(checker.exercised.get("documentation")?.success.size).toBe(5);
    expect(checker.exercised.get("documentation")?.error.size).toBe(1);
  });
});

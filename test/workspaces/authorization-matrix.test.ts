/**
 * Every workspace, invite and channel route against every kind of caller: the workspace's owner,
 * an admin, a plain member, a user in no workspace, the owner of another workspace, and an
 * anonymous caller. Each case runs in a fresh workspace, so a change made by one caller cannot
 * decide the answer another gets.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { request } from "../support/http";
import { buildWorld, type Cast, ROLES, type Role, registerCast, tokenOf, type World } from "./world";

let app: TestApp;
let cast: Cast;

beforeAll(async () => {
  app = await startApp();
  cast = await registerCast(app);
});
afterAll(async () => {
  await app?.close();
});

interface RouteCase {
  name: string;
  call: (w: World, cast: Cast) => { method: string; path: string; json?: unknown };
  /** Expected status for owner, admin, member, outsider, stranger, anonymous. */
  expect: [number, number, number, number, number, number];
}

const everyone = (status: number): RouteCase["expect"] => [status, status, status, status, status, 401];
const membersOnly = (status: number): RouteCase["expect"] => [status, status, status, 403, 403, 401];
const managersOnly = (status: number): RouteCase["expect"] => [status, status, 403, 403, 403, 401];
const ownerOnly = (status: number): RouteCase["expect"] => [status, 403, 403, 403, 403, 401];

let created = 0;

const routes: RouteCase[] = [
  // Workspaces (docs/http-api.md#workspaces-members-and-invites)
  { name: "GET /workspaces", call: () => ({ method: "GET", path: "/workspaces" }), expect: everyone(200) },
  { name: "GET /workspaces/", call: () => ({ method: "GET", path: "/workspaces/" }), expect: everyone(200) },
  {
    name: "POST /workspaces",
    // Distinct names: identical ones would derive the same slug (409, tested elsewhere).
    call: () => ({ method: "POST", path: "/workspaces", json: { name: `Mine ${++created}` } }),
    expect: everyone(200),
  },
  {
    name: "POST /workspaces/",
    call: () => ({ method: "POST", path: "/workspaces/", json: { name: `Mine ${++created}` } }),
    expect: everyone(200),
  },
  {
    name: "GET /workspaces/{id}",
    call: (w) => ({ method: "GET", path: `/workspaces/${w.workspaceId}` }),
    expect: membersOnly(200),
  },
  {
    name: "POST /workspaces/{id}/invites",
    call: (w, c) => ({
      method: "POST",
      path: `/workspaces/${w.workspaceId}/invites`,
      json: { invitee_display_name: c.outsider.displayName },
    }),
    // The outsider inviting themselves is refused first for lack of rights.
    expect: managersOnly(200),
  },
  // Invites, the invitee's side
  {
    name: "GET /invites/incoming",
    call: () => ({ method: "GET", path: "/invites/incoming" }),
    expect: everyone(200),
  },
  {
    name: "POST /invites/{id}/accept (someone else's invite)",
    call: (w) => ({ method: "POST", path: `/invites/${w.pendingInviteId}/accept` }),
    expect: [403, 403, 403, 403, 403, 401],
  },
  {
    name: "POST /invites/{id}/decline (someone else's invite)",
    call: (w) => ({ method: "POST", path: `/invites/${w.pendingInviteId}/decline` }),
    expect: [403, 403, 403, 403, 403, 401],
  },
  // Channels, at both paths (docs/http-api.md#channels)
  {
    name: "POST /channels/workspaces/{id}/channels",
    call: (w) => ({
      method: "POST",
      path: `/channels/workspaces/${w.workspaceId}/channels`,
      json: { name: "new" },
    }),
    expect: managersOnly(200),
  },
  {
    name: "POST /workspaces/{id}/channels (the web app's path)",
    call: (w) => ({ method: "POST", path: `/workspaces/${w.workspaceId}/channels`, json: { name: "new" } }),
    expect: managersOnly(200),
  },
  {
    name: "GET /channels/workspaces/{id}/channels",
    call: (w) => ({ method: "GET", path: `/channels/workspaces/${w.workspaceId}/channels` }),
    expect: membersOnly(200),
  },
  {
    name: "GET /workspaces/{id}/channels (the web app's path)",
    call: (w) => ({ method: "GET", path: `/workspaces/${w.workspaceId}/channels` }),
    expect: membersOnly(200),
  },
  {
    name: "GET /channels/{id} (public)",
    call: (w) => ({ method: "GET", path: `/channels/${w.publicChannelId}` }),
    expect: membersOnly(200),
  },
  {
    name: "GET /channels/{id} (private, caller not in it unless owner)",
    call: (w) => ({ method: "GET", path: `/channels/${w.privateChannelId}` }),
    expect: [200, 403, 403, 403, 403, 401],
  },
  // docs/original-defects.md#d17-missing-features: workspace management
  {
    name: "PATCH /workspaces/{id}",
    call: (w) => ({ method: "PATCH", path: `/workspaces/${w.workspaceId}`, json: { name: "Renamed" } }),
    expect: managersOnly(200),
  },
  {
    name: "DELETE /workspaces/{id}",
    call: (w) => ({ method: "DELETE", path: `/workspaces/${w.workspaceId}` }),
    expect: ownerOnly(204),
  },
  {
    name: "GET /workspaces/{id}/members",
    call: (w) => ({ method: "GET", path: `/workspaces/${w.workspaceId}/members` }),
    expect: membersOnly(200),
  },
  {
    name: "PATCH /workspaces/{id}/members/{user_id}",
    call: (w, c) => ({
      method: "PATCH",
      path: `/workspaces/${w.workspaceId}/members/${c.extra.id}`,
      json: { role: "admin" },
    }),
    expect: ownerOnly(200),
  },
  {
    name: "POST /workspaces/{id}/transfer-ownership",
    call: (w, c) => ({
      method: "POST",
      path: `/workspaces/${w.workspaceId}/transfer-ownership`,
      json: { user_id: c.extra.id },
    }),
    expect: ownerOnly(200),
  },
  {
    name: "DELETE /workspaces/{id}/members/{user_id} (another member)",
    call: (w, c) => ({ method: "DELETE", path: `/workspaces/${w.workspaceId}/members/${c.extra.id}` }),
    expect: managersOnly(204),
  },
  {
    name: "GET /workspaces/{id}/invites",
    call: (w) => ({ method: "GET", path: `/workspaces/${w.workspaceId}/invites` }),
    expect: managersOnly(200),
  },
  {
    name: "DELETE /workspaces/{id}/invites/{invite_id}",
    call: (w) => ({ method: "DELETE", path: `/workspaces/${w.workspaceId}/invites/${w.pendingInviteId}` }),
    expect: managersOnly(204),
  },
  {
    name: "GET /workspaces/{id}/audit-logs",
    call: (w) => ({ method: "GET", path: `/workspaces/${w.workspaceId}/audit-logs` }),
    expect: managersOnly(200),
  },
  // docs/original-defects.md#d3-private-channels, docs/original-defects.md#d17-missing-features: channel
  // management and members
  {
    name: "PATCH /channels/{id}",
    call: (w) => ({ method: "PATCH", path: `/channels/${w.publicChannelId}`, json: { topic: "News" } }),
    expect: managersOnly(200),
  },
  {
    name: "PATCH /channels/{id} (private)",
    call: (w) => ({ method: "PATCH", path: `/channels/${w.privateChannelId}`, json: { is_archived: true } }),
    expect: managersOnly(200),
  },
  {
    name: "DELETE /channels/{id}",
    call: (w) => ({ method: "DELETE", path: `/channels/${w.publicChannelId}` }),
    expect: managersOnly(204),
  },
  {
    name: "GET /channels/{id}/members (public)",
    call: (w) => ({ method: "GET", path: `/channels/${w.publicChannelId}/members` }),
    expect: membersOnly(200),
  },
  {
    name: "GET /channels/{id}/members (private)",
    call: (w) => ({ method: "GET", path: `/channels/${w.privateChannelId}/members` }),
    expect: managersOnly(200),
  },
  {
    name: "POST /channels/{id}/members (private, adding another member)",
    call: (w, c) => ({
      method: "POST",
      path: `/channels/${w.privateChannelId}/members`,
      json: { user_id: c.member.id },
    }),
    expect: managersOnly(200),
  },
  {
    name: "DELETE /channels/{id}/members/{user_id} (private, removing another member)",
    call: (w, c) => ({ method: "DELETE", path: `/channels/${w.privateChannelId}/members/${c.extra.id}` }),
    expect: managersOnly(204),
  },
];

describe("authorization matrix", () => {
  it.each(routes)("$name", async (route) => {
    const answers: Record<string, number> = {};
    const expected: Record<string, number> = {};
    for (const [index, role] of ROLES.entries()) {
      const world = await buildWorld(app, cast);
      const { method, path, json } = route.call(world, cast);
      const res = await request(app, method, path, { token: tokenOf(cast, role as Role), json });
      answers[role] = res.status;
      expected[role] = route.expect[index] as number;
      // Refusals always carry a string detail, never a crash.
      if (res.status >= 400) expect(typeof res.body.detail, `${role}: ${res.text}`).toBe("string");
    }
    expect(answers).toEqual(expected);
  });

  it("the invitee, and only the invitee, answers an invite", async () => {
    for (const [action, status] of [
      ["accept", "accepted"],
      ["decline", "declined"],
    ]) {
      const world = await buildWorld(app, cast);
      const res = await request(app, "POST", `/invites/${world.pendingInviteId}/${action}`, {
        token: cast.invitee.accessToken,
      });
      expect(res.status).toBe(200);
      expect(res.body.status).toBe(status);
    }
  });

  it("a member may leave, join a public channel and leave a channel themselves", async () => {
    const world = await buildWorld(app, cast);
    const token = cast.member.accessToken;
    const join = await request(app, "POST", `/channels/${world.publicChannelId}/members`, {
      token,
      json: { user_id: cast.member.id },
    });
    expect(join.status).toBe(200);
    // A private channel cannot be joined that way.
    const sneak = await request(app, "POST", `/channels/${world.privateChannelId}/members`, {
      token,
      json: { user_id: cast.member.id },
    });
    expect(sneak.status).toBe(403);
    const leaveChannel = await request(
      app,
      "DELETE",
      `/channels/${world.publicChannelId}/members/${cast.member.id}`,
      { token },
    );
    expect(leaveChannel.status).toBe(204);
    const leave = await request(app, "DELETE", `/workspaces/${world.workspaceId}/members/${cast.member.id}`, {
      token,
    });
    expect(leave.status).toBe(204);
    expect((await request(app, "GET", `/workspaces/${world.workspaceId}`, { token })).status).toBe(403);
  });
});

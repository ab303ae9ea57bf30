/**
 * Invites (docs/original-defects.md#d4-unencodable-events,
 * docs/original-defects.md#d9-500s-for-ordinary-mistakes, docs/original-defects.md#d12-settled-requests,
 * docs/original-defects.md#d17-missing-features, docs/original-defects.md#d18-relationships,
 * docs/original-defects.md#d22-schema-constraints): inviting by handle, the invitee's answers and the events
 * they cause, re-invitations, races, and the workspace's list and cancellation of pending invites.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { as } from "../support/http";
import { expectNoEventSoFar, notificationsOf } from "../support/sockets";
import { registerUser, type TestUser } from "../support/users";
import { buildWorld, type Cast, registerCast } from "./world";

let app: TestApp;
let cast: Cast;

beforeAll(async () => {
  app = await startApp();
  cast = await registerCast(app);
});
afterAll(async () => {
  await app?.close();
});

const inviteShape = ["created_at", "id", "invitee", "inviter", "status", "workspace_id", "workspace_name"];

function invite(world: { workspaceId: number }, by: TestUser, handle: string) {
  return as(app, by).post(`/workspaces/${world.workspaceId}/invites`, {
    json: { invitee_display_name: handle },
  });
}

describe("POST /workspaces/{id}/invites", () => {
  it("invites by handle, case-insensitively, and sends invite.created with the full invite (ISO time)", async () => {
    const world = await buildWorld(app, cast);
    const guest = await registerUser(app, { displayName: "Guest" });
    const socket = await notificationsOf(app, guest);
    try {
      const res = await invite(world, cast.owner, `  ${guest.displayName.toUpperCase()} `);
      expect(res.status).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(inviteShape);
      expect(res.body).toMatchObject({
        workspace_id: world.workspaceId,
        workspace_name: "World",
        status: "pending",
        inviter: { id: cast.owner.id, display_name: cast.owner.displayName, avatar_url: null },
        invitee: { id: guest.id, display_name: guest.displayName, avatar_url: null },
      });
      expect(new Date(res.body.created_at).toISOString()).toBe(res.body.created_at);
      const event = await socket.next("invite.created");
      expect(event.payload).toEqual(res.body);
    } finally {
      await socket.close();
    }
  });

  it("lets admins invite too", async () => {
    const world = await buildWorld(app, cast);
    const res = await invite(world, cast.admin, cast.outsider.displayName);
    expect(res.status).toBe(200);
    expect(res.body.inviter.id).toBe(cast.admin.id);
  });

  it("answers the documented refusals, in their order", async () => {
    const world = await buildWorld(app, cast);
    const missing = await as(app, cast.owner).post("/workspaces/999999/invites", {
      json: { invitee_display_name: cast.outsider.displayName },
    });
    expect([missing.status, missing.body]).toEqual([404, { detail: "Workspace not found" }]);
    const byMember = await invite(world, cast.member, cast.outsider.displayName);
    expect([byMember.status, byMember.body]).toEqual([403, { detail: "Forbidden" }]);
    const unknown = await invite(world, cast.owner, "nobody#0000");
    expect([unknown.status, unknown.body]).toEqual([404, { detail: "User not found" }]);
    const empty = await invite(world, cast.owner, "   ");
    expect([empty.status, empty.body]).toEqual([404, { detail: "User not found" }]);
    const self = await invite(world, cast.owner, cast.owner.displayName);
    expect([self.status, self.body]).toEqual([400, { detail: "Cannot invite yourself" }]);
    const pending = await invite(world, cast.owner, cast.invitee.displayName);
    expect([pending.status, pending.body]).toEqual([400, { detail: "Invite already pending" }]);
  });

  it("refuses to invite someone who is already a member", async () => {
    const world = await buildWorld(app, cast);
    for (const member of [cast.member, cast.admin]) {
      const res = await invite(world, cast.owner, member.displayName);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ detail: "User is already a member" });
    }
  });

  it("creates one pending invite when the same person is invited concurrently", async () => {
    const world = await buildWorld(app, cast);
    const answers = await Promise.all(
      Array.from({ length: 4 }, () => invite(world, cast.owner, cast.outsider.displayName)),
    );
    expect(answers.map((r) => r.status).sort()).toEqual([200, 400, 400, 400]);
    const [row] = await app.sql`select count(*)::int as n from workspace_invites
                                where workspace_id = ${world.workspaceId} and invitee_user_id = ${cast.outsider.id}`;
    expect(row?.n).toBe(1);
  });
});

describe("GET /invites/incoming", () => {
  it("lists the caller's pending invites, newest first, as the sidebar reads them", async () => {
    const guest = await registerUser(app, { displayName: "Popular" });
    const first = await buildWorld(app, cast);
    const second = await buildWorld(app, cast);
    const a = await invite(first, cast.owner, guest.displayName);
    const b = await invite(second, cast.admin, guest.displayName);
    const res = await as(app, guest).get("/invites/incoming");
    expect(res.status).toBe(200);
    expect(res.body.map((i: { id: number }) => i.id)).toEqual([b.body.id, a.body.id]);
    expect(res.body[0]).toMatchObject({ workspace_name: "World", inviter: { id: cast.admin.id } });
    await as(app, guest).post(`/invites/${a.body.id}/decline`);
    expect((await as(app, guest).get("/invites/incoming")).body.map((i: { id: number }) => i.id)).toEqual([
      b.body.id,
    ]);
  });
});

describe("POST /invites/{id}/accept and /decline", () => {
  it("accepting makes the invitee a member and tells the inviter with the full invite", async () => {
    const world = await buildWorld(app, cast);
    const [inviter, invitee] = await Promise.all([
      notificationsOf(app, cast.owner),
      notificationsOf(app, cast.invitee),
    ]);
    try {
      const res = await as(app, cast.invitee).post(`/invites/${world.pendingInviteId}/accept`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        id: world.pendingInviteId,
        status: "accepted",
        workspace_name: "World",
      });
      const event = await inviter.next("invite.accepted");
      expect(event.payload).toEqual(res.body);
      expect(new Date(res.body.created_at).toISOString()).toBe(res.body.created_at);
      const added = await invitee.next("workspace.member_added");
      expect(added.payload).toMatchObject({
        workspace: { id: world.workspaceId, name: "World" },
        role: "member",
      });
    } finally {
      await Promise.all([inviter.close(), invitee.close()]);
    }
    const workspaces = await as(app, cast.invitee).get("/workspaces");
    expect(workspaces.body.map((w: { id: number }) => w.id)).toContain(world.workspaceId);
    const [row] = await app.sql`select role from workspace_members
                                where workspace_id = ${world.workspaceId} and user_id = ${cast.invitee.id}`;
    expect(row?.role).toBe("member");
  });

  it("declining adds no membership and tells the inviter", async () => {
    const world = await buildWorld(app, cast);
    const inviter = await notificationsOf(app, cast.owner);
    try {
      const res = await as(app, cast.invitee).post(`/invites/${world.pendingInviteId}/decline`);
      expect(res.status).toBe(200);
      expect(res.body.status).toBe("declined");
      expect((await inviter.next("invite.declined")).payload).toEqual(res.body);
    } finally {
      await inviter.close();
    }
    expect((await as(app, cast.invitee).get(`/workspaces/${world.workspaceId}`)).status).toBe(403);
  });

  it("answers 409 and sends no event for an invite that is no longer pending", async () => {
    const world = await buildWorld(app, cast);
    expect((await as(app, cast.invitee).post(`/invites/${world.pendingInviteId}/decline`)).status).toBe(200);
    const inviter = await notificationsOf(app, cast.owner);
    try {
      for (const action of ["accept", "decline"]) {
        const res = await as(app, cast.invitee).post(`/invites/${world.pendingInviteId}/${action}`);
        expect(res.status).toBe(409);
        expect(res.body).toEqual({ detail: "Invite is no longer pending" });
      }
      await expectNoEventSoFar(app, cast.owner, inviter);
    } finally {
      await inviter.close();
    }
    // Still declined, still not a member.
    const [row] = await app.sql`select status from workspace_invites where id = ${world.pendingInviteId}`;
    expect(row?.status).toBe("declined");
  });

  it("lets only one of a concurrent accept and decline win", async () => {
    const world = await buildWorld(app, cast);
    const [accept, decline] = await Promise.all([
      as(app, cast.invitee).post(`/invites/${world.pendingInviteId}/accept`),
      as(app, cast.invitee).post(`/invites/${world.pendingInviteId}/decline`),
    ]);
    expect([accept.status, decline.status].sort()).toEqual([200, 409]);
  });

  it("answers 404 'Invite not found' and 403 for someone else's invite", async () => {
    const missing = await as(app, cast.invitee).post("/invites/999999/accept");
    expect([missing.status, missing.body]).toEqual([404, { detail: "Invite not found" }]);
    const world = await buildWorld(app, cast);
    const other = await as(app, cast.owner).post(`/invites/${world.pendingInviteId}/accept`);
    expect([other.status, other.body]).toEqual([403, { detail: "Forbidden" }]);
  });

  it("re-invites after a decline or after leaving, and answers again without a 500", async () => {
    const world = await buildWorld(app, cast);
    const handle = cast.invitee.displayName;
    expect((await as(app, cast.invitee).post(`/invites/${world.pendingInviteId}/decline`)).status).toBe(200);
    const second = await invite(world, cast.owner, handle);
    expect(second.status).toBe(200);
    // The original's unique (workspace, invitee, status) made this second decline a 500.
    expect((await as(app, cast.invitee).post(`/invites/${second.body.id}/decline`)).status).toBe(200);

    const third = await invite(world, cast.owner, handle);
    expect((await as(app, cast.invitee).post(`/invites/${third.body.id}/accept`)).status).toBe(200);
    const leave = await as(app, cast.invitee).delete(
      `/workspaces/${world.workspaceId}/members/${cast.invitee.id}`,
    );
    expect(leave.status).toBe(204);
    const fourth = await invite(world, cast.owner, handle);
    expect(fourth.status).toBe(200);
    expect((await as(app, cast.invitee).post(`/invites/${fourth.body.id}/accept`)).status).toBe(200);
    const [row] = await app.sql`select count(*)::int as n from workspace_members
                                where workspace_id = ${world.workspaceId} and user_id = ${cast.invitee.id}`;
    expect(row?.n).toBe(1);
  });
});

describe("the workspace's pending invites", () => {
  it("lists pending invites, newest first, for the owner and admins", async () => {
    const world = await buildWorld(app, cast);
    const newer = await invite(world, cast.admin, cast.outsider.displayName);
    const res = await as(app, cast.admin).get(`/workspaces/${world.workspaceId}/invites`);
    expect(res.status).toBe(200);
    expect(res.body.map((i: { id: number }) => i.id)).toEqual([newer.body.id, world.pendingInviteId]);
    await as(app, cast.outsider).post(`/invites/${newer.body.id}/accept`);
    const after = await as(app, cast.owner).get(`/workspaces/${world.workspaceId}/invites`);
    expect(after.body.map((i: { id: number }) => i.id)).toEqual([world.pendingInviteId]);
  });

  it("cancels a pending invite and tells the invitee; the invite is then gone", async () => {
    const world = await buildWorld(app, cast);
    const socket = await notificationsOf(app, cast.invitee);
    try {
      const res = await as(app, cast.admin).delete(
        `/workspaces/${world.workspaceId}/invites/${world.pendingInviteId}`,
      );
      expect(res.status).toBe(204);
      const event = await socket.next("invite.cancelled");
      expect(event.payload).toMatchObject({ id: world.pendingInviteId, workspace_id: world.workspaceId });
    } finally {
      await socket.close();
    }
    const accept = await as(app, cast.invitee).post(`/invites/${world.pendingInviteId}/accept`);
    expect([accept.status, accept.body]).toEqual([404, { detail: "Invite not found" }]);
    const incoming = await as(app, cast.invitee).get("/invites/incoming");
    expect(incoming.body.map((i: { id: number }) => i.id)).not.toContain(world.pendingInviteId);
  });

  it("refuses to cancel an answered invite (409) or one of another workspace (404)", async () => {
    const world = await buildWorld(app, cast);
    const other = await buildWorld(app, cast);
    const elsewhere = await as(app, cast.owner).delete(
      `/workspaces/${other.workspaceId}/invites/${world.pendingInviteId}`,
    );
    expect([elsewhere.status, elsewhere.body]).toEqual([404, { detail: "Invite not found" }]);
    await as(app, cast.invitee).post(`/invites/${world.pendingInviteId}/accept`);
    const answered = await as(app, cast.owner).delete(
      `/workspaces/${world.workspaceId}/invites/${world.pendingInviteId}`,
    );
    expect([answered.status, answered.body]).toEqual([409, { detail: "Invite is no longer pending" }]);
  });
});

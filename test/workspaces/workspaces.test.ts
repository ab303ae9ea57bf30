/**
 * Workspaces (docs/original-defects.md#d9-500s-for-ordinary-mistakes,
 * docs/original-defects.md#d17-missing-features, docs/original-defects.md#d22-schema-constraints): create
 * with derived or chosen slugs, list, read, rename, delete; members and roles, ownership transfer, removal
 * and leaving, and the events the affected users receive on /ws/notifications.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { as } from "../support/http";
import { expectNoEventSoFar, notificationsOf } from "../support/sockets";
import { registerUser } from "../support/users";
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

let counter = 0;
const unique = (label: string) => `${label} ${Date.now().toString(36)} ${++counter}`;

describe("POST /workspaces", () => {
  it("derives the slug from the name as the original does, and makes the caller its owner", async () => {
    const name = unique("My Team");
    const res = await as(app, cast.owner).post("/workspaces", { json: { name, slug: null } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      name,
      slug: name.toLowerCase().replaceAll(" ", "-"),
      owner_id: cast.owner.id,
    });
    expect(res.body.role).toBe("owner");
    const rows =
      await app.sql`select user_id, role from workspace_members where workspace_id = ${res.body.id}`;
    expect(rows).toEqual([{ user_id: cast.owner.id, role: "owner" }]);
  });

  it("trims the name and treats an empty slug as none", async () => {
    const name = unique("Spaced");
    const res = await as(app, cast.owner).post("/workspaces", { json: { name: `  ${name}  `, slug: "" } });
    expect(res.status).toBe(200);
    expect(res.body.name).toBe(name);
    expect(res.body.slug).toBe(name.toLowerCase().replaceAll(" ", "-"));
  });

  it("answers 409 'Slug already taken' for a duplicate slug, chosen or derived", async () => {
    const name = unique("Twin");
    expect((await as(app, cast.owner).post("/workspaces", { json: { name } })).status).toBe(200);
    const derived = await as(app, cast.member).post("/workspaces", { json: { name } });
    expect(derived.status).toBe(409);
    expect(derived.body).toEqual({ detail: "Slug already taken" });

    const slug = `chosen-${counter}`;
    expect((await as(app, cast.owner).post("/workspaces/", { json: { name: "A", slug } })).status).toBe(200);
    const chosen = await as(app, cast.owner).post("/workspaces/", { json: { name: "B", slug } });
    expect(chosen.status).toBe(409);
    expect(chosen.body).toEqual({ detail: "Slug already taken" });
  });

  it("lets exactly one of several concurrent creations with one slug succeed, the rest 409", async () => {
    const slug = `race-${Date.now().toString(36)}`;
    const answers = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        as(app, cast.owner).post("/workspaces", { json: { name: `R${i}`, slug } }),
      ),
    );
    expect(answers.map((r) => r.status).sort()).toEqual([200, 409, 409, 409, 409]);
    const [row] = await app.sql`select count(*)::int as n from workspaces where slug = ${slug}`;
    expect(row?.n).toBe(1);
  });
});

describe("GET /workspaces and /workspaces/{id}", () => {
  it("lists the workspaces the caller owns or belongs to, newest first, with their role", async () => {
    const user = await registerUser(app, { displayName: "Lister" });
    const first = await as(app, user).post("/workspaces", { json: { name: unique("First") } });
    const second = await as(app, user).post("/workspaces", { json: { name: unique("Second") } });
    const world = await buildWorld(app, cast);
    await app.sql`insert into workspace_members (workspace_id, user_id, role)
                  values (${world.workspaceId}, ${user.id}, 'member')`;
    // An owner without a membership row (possible in an adopted database) still sees theirs.
    const [orphan] = await app.sql<{ id: number }[]>`
      insert into workspaces (name, slug, owner_id) values ('Orphan', ${`orphan-${counter++}`}, ${user.id})
      returning id`;
    const res = await as(app, user).get("/workspaces");
    expect(res.status).toBe(200);
    expect(res.body.map((w: { id: number; role: string }) => [w.id, w.role])).toEqual([
      [orphan?.id, "owner"],
      [world.workspaceId, "member"],
      [second.body.id, "owner"],
      [first.body.id, "owner"],
    ]);
    expect((await as(app, cast.outsider).get("/workspaces")).body).toEqual([]);
  });

  it("reads a workspace for its members with their role", async () => {
    const world = await buildWorld(app, cast);
    const res = await as(app, cast.member).get(`/workspaces/${world.workspaceId}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: world.workspaceId, owner_id: cast.owner.id, role: "member" });
  });
});

describe("PATCH /workspaces/{id}", () => {
  it("renames without touching the slug, changes the slug when asked, and refuses a taken one", async () => {
    const world = await buildWorld(app, cast);
    const renamed = await as(app, cast.admin).patch(`/workspaces/${world.workspaceId}`, {
      json: { name: "  New name " },
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ name: "New name", role: "admin" });
    const [before] = await app.sql`select slug from workspaces where id = ${world.workspaceId}`;
    expect(renamed.body.slug).toBe(before?.slug);

    const slug = `new-slug-${counter++}`;
    const reslugged = await as(app, cast.owner).patch(`/workspaces/${world.workspaceId}`, { json: { slug } });
    expect(reslugged.body.slug).toBe(slug);
    const other = await buildWorld(app, cast);
    const taken = await as(app, cast.owner).patch(`/workspaces/${other.workspaceId}`, { json: { slug } });
    expect(taken.status).toBe(409);
    expect(taken.body).toEqual({ detail: "Slug already taken" });
    // Its own slug is not "taken".
    const same = await as(app, cast.owner).patch(`/workspaces/${world.workspaceId}`, { json: { slug } });
    expect(same.status).toBe(200);
  });

  it("answers 404 'Workspace not found' for a missing workspace", async () => {
    const res = await as(app, cast.owner).patch("/workspaces/999999", { json: { name: "x" } });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ detail: "Workspace not found" });
  });
});

describe("DELETE /workspaces/{id}", () => {
  it("deletes the workspace and everything in it but DM threads, and tells every member", async () => {
    const world = await buildWorld(app, cast);
    await app.sql`insert into messages (channel_id, user_id, content, is_edited, is_deleted)
                  values (${world.publicChannelId}, ${cast.owner.id}, 'hello', false, false)`;
    // A thread stores its pair in order (user1_id < user2_id,
    // docs/original-defects.md#d22-schema-constraints); the ids' order is not fixed.
    const first = Math.min(cast.owner.id, cast.member.id);
    const second = Math.max(cast.owner.id, cast.member.id);
    const [thread] = await app.sql<{ id: number }[]>`
      insert into direct_message_threads (workspace_id, user1_id, user2_id)
      values (${world.workspaceId}, ${first}, ${second}) returning id`;
    await app.sql`insert into direct_messages (thread_id, sender_id, content)
                  values (${thread?.id ?? 0}, ${cast.owner.id}, 'hi')`;
    const [member, invitee] = await Promise.all([
      notificationsOf(app, cast.member),
      notificationsOf(app, cast.invitee),
    ]);
    try {
      const res = await as(app, cast.owner).delete(`/workspaces/${world.workspaceId}`);
      expect(res.status).toBe(204);
      expect(res.text).toBe("");
      const event = await member.next("workspace.deleted");
      expect(event.payload).toMatchObject({ workspace_id: world.workspaceId, workspace_name: "World" });
      expect((event.payload as { by: { id: number } }).by.id).toBe(cast.owner.id);
      // The web app refetches its invites on any invite.* event.
      const cancelled = await invitee.next("invite.cancelled");
      expect(cancelled.payload).toMatchObject({ id: world.pendingInviteId, workspace_name: "World" });
    } finally {
      await Promise.all([member.close(), invitee.close()]);
    }
    expect((await as(app, cast.owner).get(`/workspaces/${world.workspaceId}`)).status).toBe(404);
    const [left] = await app.sql`
      select (select count(*) from channels where workspace_id = ${world.workspaceId})::int as channels,
             (select count(*) from workspace_members where workspace_id = ${world.workspaceId})::int as members,
             (select count(*) from workspace_invites where workspace_id = ${world.workspaceId})::int as invites`;
    expect(left).toEqual({ channels: 0, members: 0, invites: 0 });
    // A DM thread belongs to its two people, not to the workspace it was started from: it stays,
    // with its messages, and no longer names the workspace (test/dm/reach.test.ts has the rest).
    const kept = await app.sql`select t.workspace_id, m.content from direct_message_threads t
                               join direct_messages m on m.thread_id = t.id where t.id = ${thread?.id ?? 0}`;
    expect(kept).toEqual([{ workspace_id: null, content: "hi" }]);
    // Its audit trail stays, ending with the deletion.
    const [last] = await app.sql`select action from audit_logs where workspace_id = ${world.workspaceId}
                                 order by id desc limit 1`;
    expect(last?.action).toBe("workspace.deleted");
  });
});

describe("members and roles", () => {
  it("lists members with their roles, the owner first", async () => {
    const world = await buildWorld(app, cast);
    const res = await as(app, cast.member).get(`/workspaces/${world.workspaceId}/members`);
    expect(res.status).toBe(200);
    expect(res.body.map((m: { user_id: number; role: string }) => [m.user_id, m.role])).toEqual([
      [cast.owner.id, "owner"],
      [cast.admin.id, "admin"],
      [cast.member.id, "member"],
      [cast.extra.id, "member"],
    ]);
    expect(res.body[0]).toEqual({
      workspace_id: world.workspaceId,
      user_id: cast.owner.id,
      role: "owner",
      user: { id: cast.owner.id, display_name: cast.owner.displayName, avatar_url: null },
      created_at: expect.any(String),
    });
  });

  it("lets the owner promote and demote, tells the member, and then the new admin can invite", async () => {
    const world = await buildWorld(app, cast);
    const socket = await notificationsOf(app, cast.extra);
    try {
      const promoted = await as(app, cast.owner).patch(
        `/workspaces/${world.workspaceId}/members/${cast.extra.id}`,
        {
          json: { role: "admin" },
        },
      );
      expect(promoted.status).toBe(200);
      expect(promoted.body).toMatchObject({ user_id: cast.extra.id, role: "admin" });
      const event = await socket.next("workspace.role_changed");
      expect(event.payload).toMatchObject({ role: "admin", workspace: { id: world.workspaceId } });
      const invite = await as(app, cast.extra).post(`/workspaces/${world.workspaceId}/invites`, {
        json: { invitee_display_name: cast.outsider.displayName },
      });
      expect(invite.status).toBe(200);

      const demoted = await as(app, cast.owner).patch(
        `/workspaces/${world.workspaceId}/members/${cast.extra.id}`,
        {
          json: { role: "member" },
        },
      );
      expect(demoted.body.role).toBe("member");
      expect((await socket.next("workspace.role_changed")).payload).toMatchObject({ role: "member" });
    } finally {
      await socket.close();
    }
  });

  it("refuses to change the owner's role or a non-member's, and 'owner' is not a role to hand out", async () => {
    const world = await buildWorld(app, cast);
    const base = `/workspaces/${world.workspaceId}/members`;
    const own = await as(app, cast.owner).patch(`${base}/${cast.owner.id}`, { json: { role: "member" } });
    expect(own.status).toBe(400);
    expect(own.body).toEqual({ detail: "Cannot change the owner's role; transfer ownership instead" });
    const stranger = await as(app, cast.owner).patch(`${base}/${cast.outsider.id}`, {
      json: { role: "admin" },
    });
    expect(stranger.status).toBe(404);
    expect(stranger.body).toEqual({ detail: "Member not found" });
    const owner = await as(app, cast.owner).patch(`${base}/${cast.extra.id}`, { json: { role: "owner" } });
    expect(owner.status).toBe(422);
  });

  it("transfers ownership to a member; the old owner stays as an admin", async () => {
    const world = await buildWorld(app, cast);
    const res = await as(app, cast.owner).post(`/workspaces/${world.workspaceId}/transfer-ownership`, {
      json: { user_id: cast.member.id },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ owner_id: cast.member.id, role: "admin" });
    const roles = await app.sql`select user_id, role from workspace_members
                                where workspace_id = ${world.workspaceId} and user_id in (${cast.owner.id}, ${cast.member.id})
                                order by user_id`;
    expect(Object.fromEntries(roles.map((r) => [r.user_id, r.role]))).toEqual({
      [cast.owner.id]: "admin",
      [cast.member.id]: "owner",
    });
    // Only the owner deletes: now the new one, not the old one.
    expect((await as(app, cast.owner).delete(`/workspaces/${world.workspaceId}`)).status).toBe(403);
    // The former owner, now an admin, may leave.
    expect(
      (await as(app, cast.owner).delete(`/workspaces/${world.workspaceId}/members/${cast.owner.id}`)).status,
    ).toBe(204);
    expect((await as(app, cast.member).delete(`/workspaces/${world.workspaceId}`)).status).toBe(204);
  });

  it("refuses a transfer to oneself or to a non-member", async () => {
    const world = await buildWorld(app, cast);
    const path = `/workspaces/${world.workspaceId}/transfer-ownership`;
    const self = await as(app, cast.owner).post(path, { json: { user_id: cast.owner.id } });
    expect(self.status).toBe(400);
    expect(self.body).toEqual({ detail: "You already own this workspace" });
    const outsider = await as(app, cast.owner).post(path, { json: { user_id: cast.outsider.id } });
    expect(outsider.status).toBe(400);
    expect(outsider.body).toEqual({ detail: "User is not a member of this workspace" });
  });

  it("removes a member with their channel memberships, and tells them", async () => {
    const world = await buildWorld(app, cast);
    const socket = await notificationsOf(app, cast.extra);
    try {
      const res = await as(app, cast.admin).delete(
        `/workspaces/${world.workspaceId}/members/${cast.extra.id}`,
      );
      expect(res.status).toBe(204);
      const event = await socket.next("workspace.member_removed");
      expect(event.payload).toMatchObject({
        workspace_id: world.workspaceId,
        workspace_name: "World",
        reason: "removed",
        by: { id: cast.admin.id },
      });
    } finally {
      await socket.close();
    }
    const [row] =
      await app.sql`select count(*)::int as n from channel_members where user_id = ${cast.extra.id}
                                and channel_id = ${world.privateChannelId}`;
    expect(row?.n).toBe(0);
    expect((await as(app, cast.extra).get(`/workspaces/${world.workspaceId}`)).status).toBe(403);
    const again = await as(app, cast.admin).delete(
      `/workspaces/${world.workspaceId}/members/${cast.extra.id}`,
    );
    expect(again.status).toBe(404);
    expect(again.body).toEqual({ detail: "Member not found" });
  });

  it("keeps admins from removing admins or the owner, and the owner from leaving", async () => {
    const world = await buildWorld(app, cast);
    await app.sql`update workspace_members set role = 'admin'
                  where workspace_id = ${world.workspaceId} and user_id = ${cast.extra.id}`;
    const base = `/workspaces/${world.workspaceId}/members`;
    const adminOnAdmin = await as(app, cast.admin).delete(`${base}/${cast.extra.id}`);
    expect(adminOnAdmin.status).toBe(403);
    expect(adminOnAdmin.body).toEqual({ detail: "Only the owner can remove an admin" });
    const onOwner = await as(app, cast.admin).delete(`${base}/${cast.owner.id}`);
    expect(onOwner.status).toBe(403);
    expect(onOwner.body).toEqual({ detail: "Cannot remove the owner" });
    const ownerLeaves = await as(app, cast.owner).delete(`${base}/${cast.owner.id}`);
    expect(ownerLeaves.status).toBe(400);
    expect(ownerLeaves.body).toEqual({
      detail: "The owner cannot leave the workspace; transfer ownership first",
    });
    // The owner may remove an admin.
    expect((await as(app, cast.owner).delete(`${base}/${cast.extra.id}`)).status).toBe(204);
  });

  it("tells a member who leaves on their other tabs, and nobody else", async () => {
    const world = await buildWorld(app, cast);
    const [self, owner] = await Promise.all([
      notificationsOf(app, cast.member),
      notificationsOf(app, cast.owner),
    ]);
    try {
      const res = await as(app, cast.member).delete(
        `/workspaces/${world.workspaceId}/members/${cast.member.id}`,
      );
      expect(res.status).toBe(204);
      expect((await self.next("workspace.member_removed")).payload).toMatchObject({ reason: "left" });
      await expectNoEventSoFar(app, cast.owner, owner);
    } finally {
      await Promise.all([self.close(), owner.close()]);
    }
  });
});

/**
 * The audit log (issue 4): every change of membership, role, channel, invite and workspace
 * settings is recorded with actor, action, target, time and details; owners and admins read
 * it newest first, a page at a time.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { type ApiResponse, as } from "../support/http";
import { registerUser, type TestUser } from "../support/users";

let app: TestApp;
let owner: TestUser;
let guest: TestUser;
let workspaceId: number;

/** What the scenario below records, oldest first. */
const recorded: string[] = [];

beforeAll(async () => {
  app = await startApp();
  [owner, guest] = await Promise.all([
    registerUser(app, { displayName: "Auditor" }),
    registerUser(app, { displayName: "Guest" }),
  ]);

  const step = async (action: string | string[], call: Promise<ApiResponse>) => {
    const res = await call;
    if (res.status >= 300) throw new Error(`${action}: ${res.status} ${res.text}`);
    recorded.push(...(Array.isArray(action) ? action : [action]));
    return res;
  };
  const created = await step(
    "workspace.created",
    as(app, owner).post("/workspaces", { json: { name: "Audited" } }),
  );
  workspaceId = created.body.id;
  const invite = await step(
    "invite.created",
    as(app, owner).post(`/workspaces/${workspaceId}/invites`, {
      json: { invitee_display_name: guest.displayName },
    }),
  );
  await step(["invite.accepted", "member.joined"], as(app, guest).post(`/invites/${invite.body.id}/accept`));
  await step(
    "member.role_changed",
    as(app, owner).patch(`/workspaces/${workspaceId}/members/${guest.id}`, { json: { role: "admin" } }),
  );
  const channel = await step(
    "channel.created",
    as(app, guest).post(`/workspaces/${workspaceId}/channels`, { json: { name: "ops", is_private: true } }),
  );
  await step(
    "channel.updated",
    as(app, owner).patch(`/channels/${channel.body.id}`, { json: { topic: "Pager" } }),
  );
  await step(
    "channel.member_added",
    as(app, guest).post(`/channels/${channel.body.id}/members`, { json: { user_id: owner.id } }),
  );
  await step(
    "channel.member_removed",
    as(app, owner).delete(`/channels/${channel.body.id}/members/${owner.id}`),
  );
  await step(
    "workspace.updated",
    as(app, owner).patch(`/workspaces/${workspaceId}`, { json: { name: "Audited 2" } }),
  );
  await step("channel.deleted", as(app, guest).delete(`/channels/${channel.body.id}`));
  await step(
    "workspace.ownership_transferred",
    as(app, owner).post(`/workspaces/${workspaceId}/transfer-ownership`, { json: { user_id: guest.id } }),
  );
  await step("member.left", as(app, owner).delete(`/workspaces/${workspaceId}/members/${owner.id}`));
});
afterAll(async () => {
  await app?.close();
});

describe("GET /workspaces/{id}/audit-logs", () => {
  it("records every change, newest first, with actor, target and details", async () => {
    const res = await as(app, guest).get(`/workspaces/${workspaceId}/audit-logs`);
    expect(res.status).toBe(200);
    expect(res.body.next_before_id).toBeNull();
    expect(res.body.items.map((e: { action: string }) => e.action)).toEqual([...recorded].reverse());

    const byAction = (action: string) => res.body.items.find((e: { action: string }) => e.action === action);
    expect(byAction("member.role_changed")).toEqual({
      id: expect.any(Number),
      workspace_id: workspaceId,
      actor_user_id: owner.id,
      actor: { id: owner.id, display_name: owner.displayName, avatar_url: null },
      action: "member.role_changed",
      target_type: "user",
      target_id: guest.id,
      details: { role: { from: "member", to: "admin" } },
      created_at: expect.any(String),
    });
    expect(byAction("workspace.updated").details).toEqual({ name: { from: "Audited", to: "Audited 2" } });
    expect(byAction("channel.updated").details).toEqual({ topic: { from: null, to: "Pager" } });
    expect(byAction("channel.created")).toMatchObject({
      actor_user_id: guest.id,
      target_type: "channel",
      details: { name: "ops", is_private: true },
    });
    const when = res.body.items[0].created_at;
    expect(new Date(when).toISOString()).toBe(when);
  });

  it("pages with before_id and limit until next_before_id is null", async () => {
    const everything = (await as(app, guest).get(`/workspaces/${workspaceId}/audit-logs?limit=100`)).body
      .items;
    const seen: number[] = [];
    let cursor: number | null = null;
    let pages = 0;
    do {
      const query: string = cursor === null ? "limit=3" : `limit=3&before_id=${cursor}`;
      const page = await as(app, guest).get(`/workspaces/${workspaceId}/audit-logs?${query}`);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(3);
      seen.push(...page.body.items.map((e: { id: number }) => e.id));
      cursor = page.body.next_before_id;
      pages += 1;
    } while (cursor !== null && pages < 20);
    expect(seen).toEqual(everything.map((e: { id: number }) => e.id));
    expect(pages).toBe(Math.ceil(everything.length / 3));
    // Strictly newest first.
    expect(seen).toEqual([...seen].sort((a, b) => b - a));
  });

  it("records nothing for a refused change", async () => {
    const count = async () =>
      (await app.sql`select count(*)::int as n from audit_logs where workspace_id = ${workspaceId}`)[0]?.n;
    const before = await count();
    const general = await as(app, guest).post(`/workspaces/${workspaceId}/channels`, {
      json: { name: "general" },
    });
    expect(general.status).toBe(200);
    const duplicate = await as(app, guest).post(`/workspaces/${workspaceId}/channels`, {
      json: { name: "GENERAL" },
    });
    expect(duplicate.status).toBe(409);
    expect(await count()).toBe((before as number) + 1);
  });

  it("shows only the workspace's own entries, to its owner and admins", async () => {
    const other = await as(app, owner).post("/workspaces", { json: { name: "Unrelated" } });
    const res = await as(app, owner).get(`/workspaces/${other.body.id}/audit-logs`);
    expect(res.body.items.map((e: { action: string }) => e.action)).toEqual(["workspace.created"]);
    // The former owner left: no longer allowed to read the first workspace's log.
    expect((await as(app, owner).get(`/workspaces/${workspaceId}/audit-logs`)).status).toBe(403);
    expect((await as(app, guest).get("/workspaces/999999/audit-logs")).status).toBe(404);
  });
});

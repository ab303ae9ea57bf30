/**
 * The original's ACL test (its tests/test_acl.py), the client's channel paths
 * (docs/original-defects.md#d1-channel-paths) and the slash-less /workspaces served without a redirect
 * (docs/original-defects.md#d23-web-app-quirks).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { as } from "../support/http";
import { registerUser, type TestUser } from "../support/users";

let app: TestApp;
let owner: TestUser;
let outsider: TestUser;

beforeAll(async () => {
  app = await startApp();
  [owner, outsider] = await Promise.all([
    registerUser(app, { displayName: "Owner" }),
    registerUser(app, { displayName: "Outsider" }),
  ]);
});
afterAll(async () => {
  await app?.close();
});

describe("the original's ACL test", () => {
  it("keeps an outsider out of a workspace and its channels", async () => {
    const created = await as(app, owner).post("/workspaces/", { json: { name: "Acme", slug: "acme" } });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ name: "Acme", slug: "acme", owner_id: owner.id });
    const workspaceId = created.body.id;

    const peek = await as(app, outsider).get(`/workspaces/${workspaceId}`);
    expect(peek.status).toBe(403);
    expect(peek.body).toEqual({ detail: "Forbidden" });

    const channel = await as(app, owner).post(`/channels/workspaces/${workspaceId}/channels`, {
      json: { name: "general", is_private: false },
    });
    expect(channel.status).toBe(200);
    expect(channel.body).toMatchObject({ workspace_id: workspaceId, name: "general", is_private: false });

    const list = await as(app, outsider).get(`/channels/workspaces/${workspaceId}/channels`);
    expect(list.status).toBe(403);
    expect(list.body).toEqual({ detail: "Forbidden" });
    const read = await as(app, outsider).get(`/channels/${channel.body.id}`);
    expect(read.status).toBe(403);
    expect(read.body).toEqual({ detail: "Forbidden" });
  });
});

describe("the paths the web client calls", () => {
  it("serves GET and POST /workspaces without the slash, with no redirect", async () => {
    const created = await as(app, owner).post("/workspaces", {
      json: { name: "Personal", slug: "personal-0a1b2c3d" },
    });
    expect(created.status).toBe(200);
    expect(created.headers.get("location")).toBeNull();
    expect(Object.keys(created.body).sort()).toEqual([
      "created_at",
      "id",
      "name",
      "owner_id",
      "role",
      "slug",
    ]);
    expect(new Date(created.body.created_at).toISOString()).toBe(created.body.created_at);

    const bare = await as(app, owner).get("/workspaces");
    const slashed = await as(app, owner).get("/workspaces/");
    expect(bare.status).toBe(200);
    expect(slashed.status).toBe(200);
    expect(bare.headers.get("location")).toBeNull();
    expect(bare.body).toEqual(slashed.body);
    expect(bare.body.map((w: { id: number }) => w.id)).toContain(created.body.id);
  });

  it("creates and lists channels at /workspaces/{id}/channels", async () => {
    const workspace = await as(app, owner).post("/workspaces", { json: { name: "Sidebar" } });
    const id = workspace.body.id;
    // The sidebar sends only the name.
    const created = await as(app, owner).post(`/workspaces/${id}/channels`, { json: { name: "random" } });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({
      workspace_id: id,
      name: "random",
      is_private: false,
      topic: null,
      is_archived: false,
    });
    const viaAlias = await as(app, owner).get(`/workspaces/${id}/channels`);
    const viaOriginal = await as(app, owner).get(`/channels/workspaces/${id}/channels`);
    expect(viaAlias.status).toBe(200);
    expect(viaAlias.body).toEqual(viaOriginal.body);
    expect(viaAlias.body.map((c: { name: string }) => c.name)).toEqual(["random"]);
    expect((await as(app, outsider).get(`/workspaces/${id}/channels`)).status).toBe(403);
    expect(
      (await as(app, outsider).post(`/workspaces/${id}/channels`, { json: { name: "intruder" } })).status,
    ).toBe(403);
  });

  it("answers the original's 404 and 403 for a missing workspace and channel", async () => {
    expect((await as(app, owner).get("/workspaces/999999")).body).toEqual({ detail: "Not Found" });
    expect((await as(app, owner).get("/workspaces/999999")).status).toBe(404);
    expect((await as(app, owner).get("/channels/999999")).status).toBe(404);
    // Creating or listing channels of a missing workspace is a 403 in the original.
    const list = await as(app, owner).get("/channels/workspaces/999999/channels");
    expect(list.status).toBe(403);
    const create = await as(app, owner).post("/workspaces/999999/channels", { json: { name: "x" } });
    expect(create.status).toBe(403);
  });
});

/**
 * Channels (docs/original-defects.md#d3-private-channels,
 * docs/original-defects.md#d9-500s-for-ordinary-mistakes, docs/original-defects.md#d17-missing-features):
 * creation with name rules and case-insensitive uniqueness, private channels that only their members see,
 * channel members and their events, rename, topic, archive and delete.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { as } from "../support/http";
import { notificationsOf } from "../support/sockets";
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

const names = (body: { name: string }[]) => body.map((c) => c.name);

function createChannel(workspaceId: number, json: unknown, user = cast.owner) {
  return as(app, user).post(`/workspaces/${workspaceId}/channels`, { json });
}

describe("creating channels", () => {
  it("makes the creator a member, trims the name, and lists channels by id", async () => {
    const world = await buildWorld(app, cast);
    const res = await createChannel(world.workspaceId, { name: "  design  ", is_private: true }, cast.admin);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: expect.any(Number),
      workspace_id: world.workspaceId,
      name: "design",
      is_private: true,
      created_at: expect.any(String),
      topic: null,
      is_archived: false,
    });
    const members = await as(app, cast.admin).get(`/channels/${res.body.id}/members`);
    expect(members.body.map((m: { user_id: number }) => m.user_id)).toEqual([cast.admin.id]);
    const list = await as(app, cast.admin).get(`/workspaces/${world.workspaceId}/channels`);
    const ids = list.body.map((c: { id: number }) => c.id);
    expect(ids).toEqual([...ids].sort((a: number, b: number) => a - b));
    expect(names(list.body)).toEqual(["general", "design"]);
  });

  it("refuses a name already used in the workspace, whatever its case (409)", async () => {
    const world = await buildWorld(app, cast);
    for (const name of ["General", "GENERAL", " general "]) {
      const res = await createChannel(world.workspaceId, { name });
      expect(res.status).toBe(409);
      expect(res.body).toEqual({ detail: "Channel name already taken" });
    }
    // A private channel's name counts too, and another workspace may use the name.
    expect((await createChannel(world.workspaceId, { name: "Secret" })).status).toBe(409);
    const other = await buildWorld(app, cast);
    expect((await createChannel(other.workspaceId, { name: "Random" })).status).toBe(200);
    expect((await createChannel(world.workspaceId, { name: "Random" })).status).toBe(200);
  });

  it("creates one channel when the same name is asked for concurrently", async () => {
    const world = await buildWorld(app, cast);
    const answers = await Promise.all(
      ["race", "Race", "RACE", "race"].map((name) => createChannel(world.workspaceId, { name })),
    );
    expect(answers.map((r) => r.status).sort()).toEqual([200, 409, 409, 409]);
  });

  it("counts name lengths in code points and refuses control characters", async () => {
    const world = await buildWorld(app, cast);
    const emoji = "😀".repeat(80);
    expect((await createChannel(world.workspaceId, { name: emoji })).status).toBe(200);
    const long = await createChannel(world.workspaceId, { name: "x".repeat(81) });
    expect(long.status).toBe(422);
    expect(long.body.detail[0]).toMatchObject({
      loc: ["body", "name"],
      msg: "ensure this value has at most 80 characters",
    });
    const blank = await createChannel(world.workspaceId, { name: "   " });
    expect(blank.status).toBe(422);
    expect(blank.body.detail[0].msg).toBe("ensure this value has at least 1 characters");
    const control = await createChannel(world.workspaceId, { name: "two\nlines" });
    expect(control.status).toBe(422);
    expect(control.body.detail[0]).toMatchObject({
      loc: ["body", "name"],
      msg: "must not contain control characters",
    });
  });
});

describe("private channels", () => {
  it("are listed and readable only for their members, whatever their workspace role", async () => {
    const world = await buildWorld(app, cast);
    for (const user of [cast.admin, cast.member]) {
      const list = await as(app, user).get(`/workspaces/${world.workspaceId}/channels`);
      expect(names(list.body)).toEqual(["general"]);
      const read = await as(app, user).get(`/channels/${world.privateChannelId}`);
      expect([read.status, read.body]).toEqual([403, { detail: "Forbidden" }]);
    }
    for (const user of [cast.owner, cast.extra]) {
      const list = await as(app, user).get(`/channels/workspaces/${world.workspaceId}/channels`);
      expect(names(list.body)).toEqual(["general", "secret"]);
      expect((await as(app, user).get(`/channels/${world.privateChannelId}`)).status).toBe(200);
    }
  });

  it("open to a member once added, and close again once removed, with events to that member", async () => {
    const world = await buildWorld(app, cast);
    const socket = await notificationsOf(app, cast.member);
    try {
      const added = await as(app, cast.admin).post(`/channels/${world.privateChannelId}/members`, {
        json: { user_id: cast.member.id },
      });
      expect(added.status).toBe(200);
      expect(added.body).toMatchObject({
        channel_id: world.privateChannelId,
        user_id: cast.member.id,
        user: { id: cast.member.id, display_name: cast.member.displayName },
      });
      const addedEvent = await socket.next("channel.member_added");
      expect(addedEvent.payload).toMatchObject({
        channel: { id: world.privateChannelId, name: "secret", is_private: true },
        by: { id: cast.admin.id },
      });
      expect((await as(app, cast.member).get(`/channels/${world.privateChannelId}`)).status).toBe(200);
      const list = await as(app, cast.member).get(`/workspaces/${world.workspaceId}/channels`);
      expect(names(list.body)).toEqual(["general", "secret"]);

      const removed = await as(app, cast.owner).delete(
        `/channels/${world.privateChannelId}/members/${cast.member.id}`,
      );
      expect(removed.status).toBe(204);
      const removedEvent = await socket.next("channel.member_removed");
      expect(removedEvent.payload).toMatchObject({
        channel_id: world.privateChannelId,
        workspace_id: world.workspaceId,
        reason: "removed",
      });
      expect((await as(app, cast.member).get(`/channels/${world.privateChannelId}`)).status).toBe(403);
    } finally {
      await socket.close();
    }
  });

  it("its members may leave it; then it is hidden from them", async () => {
    const world = await buildWorld(app, cast);
    const leave = await as(app, cast.extra).delete(
      `/channels/${world.privateChannelId}/members/${cast.extra.id}`,
    );
    expect(leave.status).toBe(204);
    expect((await as(app, cast.extra).get(`/channels/${world.privateChannelId}`)).status).toBe(403);
  });
});

describe("channel members", () => {
  it("only members of the workspace can be added, once", async () => {
    const world = await buildWorld(app, cast);
    const path = `/channels/${world.privateChannelId}/members`;
    const outsider = await as(app, cast.owner).post(path, { json: { user_id: cast.outsider.id } });
    expect([outsider.status, outsider.body]).toEqual([
      400,
      { detail: "User is not a member of this workspace" },
    ]);
    const twice = await as(app, cast.owner).post(path, { json: { user_id: cast.extra.id } });
    expect([twice.status, twice.body]).toEqual([400, { detail: "User is already a member of this channel" }]);
    const missing = await as(app, cast.owner).delete(`${path}/${cast.member.id}`);
    expect([missing.status, missing.body]).toEqual([404, { detail: "Member not found" }]);
    expect((await as(app, cast.owner).get("/channels/999999/members")).status).toBe(404);
  });

  it("lists members in the order they joined", async () => {
    const world = await buildWorld(app, cast);
    const res = await as(app, cast.extra).get(`/channels/${world.privateChannelId}/members`);
    expect(res.status).toBe(200);
    expect(res.body.map((m: { user_id: number }) => m.user_id)).toEqual([cast.owner.id, cast.extra.id]);
  });
});

describe("PATCH /channels/{id}", () => {
  it("renames, sets and clears the topic, refusing a name taken by another channel", async () => {
    const world = await buildWorld(app, cast);
    const path = `/channels/${world.publicChannelId}`;
    const renamed = await as(app, cast.admin).patch(path, { json: { name: "lobby", topic: "  Say hi  " } });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ name: "lobby", topic: "Say hi" });
    // The web client reads the topic from GET /channels/{id}.
    expect((await as(app, cast.member).get(path)).body.topic).toBe("Say hi");
    // Its own name in another case is fine; another channel's is not.
    expect((await as(app, cast.admin).patch(path, { json: { name: "Lobby" } })).status).toBe(200);
    const taken = await as(app, cast.admin).patch(path, { json: { name: "SECRET" } });
    expect([taken.status, taken.body]).toEqual([409, { detail: "Channel name already taken" }]);
    const cleared = await as(app, cast.admin).patch(path, { json: { topic: "" } });
    expect(cleared.body.topic).toBeNull();
    expect((await as(app, cast.admin).patch(path, { json: { topic: null } })).body.topic).toBeNull();
  });

  it("archives: the channel leaves the default listing and stays readable", async () => {
    const world = await buildWorld(app, cast);
    const archived = await as(app, cast.owner).patch(`/channels/${world.publicChannelId}`, {
      json: { is_archived: true },
    });
    expect(archived.body.is_archived).toBe(true);
    const list = await as(app, cast.member).get(`/workspaces/${world.workspaceId}/channels`);
    expect(names(list.body)).toEqual([]);
    const all = await as(app, cast.member).get(
      `/workspaces/${world.workspaceId}/channels?include_archived=true`,
    );
    expect(names(all.body)).toEqual(["general"]);
    expect((await as(app, cast.member).get(`/channels/${world.publicChannelId}`)).status).toBe(200);
    const restored = await as(app, cast.owner).patch(`/channels/${world.publicChannelId}`, {
      json: { is_archived: false },
    });
    expect(restored.body.is_archived).toBe(false);
  });

  it("answers 404 for a missing channel", async () => {
    const res = await as(app, cast.owner).patch("/channels/999999", { json: { name: "x" } });
    expect([res.status, res.body]).toEqual([404, { detail: "Not Found" }]);
  });
});

describe("DELETE /channels/{id}", () => {
  it("deletes the channel with its messages and members", async () => {
    const world = await buildWorld(app, cast);
    await app.sql`insert into messages (channel_id, user_id, content, is_edited, is_deleted)
                  values (${world.privateChannelId}, ${cast.owner.id}, 'psst', false, false)`;
    const res = await as(app, cast.admin).delete(`/channels/${world.privateChannelId}`);
    expect(res.status).toBe(204);
    expect((await as(app, cast.owner).get(`/channels/${world.privateChannelId}`)).status).toBe(404);
    const [left] = await app.sql`
      select (select count(*) from messages where channel_id = ${world.privateChannelId})::int as messages,
             (select count(*) from channel_members where channel_id = ${world.privateChannelId})::int as members`;
    expect(left).toEqual({ messages: 0, members: 0 });
    // The name is free again.
    expect((await createChannel(world.workspaceId, { name: "secret" })).status).toBe(200);
  });
});

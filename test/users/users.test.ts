/**
 * User routes with docs/original-defects.md#d19-user-discovery fixed: lookups by handle, search that escapes
 * LIKE wildcards and only finds people within reach, /users/online that only reveals people within
 * reach, and PATCH /users/me. "Within reach" means sharing a workspace (in any role) or being
 * friends; a full handle finds anyone.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { as } from "../support/http";
import { notificationsOf } from "../support/sockets";
import { registerUser, type TestUser } from "../support/users";
import { befriendInDatabase, workspaceWith } from "../support/worlds";
import type { TestSocket } from "../support/ws";

let app: TestApp;

// The cast of the reach matrix: one workspace with an owner, an admin and a member; a friend
// of the member; someone in no workspace; someone in another workspace.
let owner: TestUser;
let admin: TestUser;
let member: TestUser;
let friend: TestUser;
let outsider: TestUser;
let elsewhere: TestUser;
let workspaceId: number;

beforeAll(async () => {
  app = await startApp();
  const named = (displayName: string) => registerUser(app, { displayName });
  [owner, admin, member, friend, outsider, elsewhere] = await Promise.all([
    named("Quartz Owner"),
    named("Quartz Admin"),
    named("Quartz Member"),
    named("Quartz Friend"),
    named("Quartz Outsider"),
    named("Quartz Elsewhere"),
  ]);
  workspaceId = await workspaceWith(app, [
    [owner, "owner"],
    [admin, "admin"],
    [member, "member"],
  ]);
  await workspaceWith(app, [[elsewhere, "owner"]]);
  await befriendInDatabase(app, member, friend);
});
afterAll(async () => {
  await app?.close();
});

const ids = (list: { id: number }[]) => list.map((u) => u.id).sort((a, b) => a - b);
const sorted = (...users: TestUser[]) => users.map((u) => u.id).sort((a, b) => a - b);

describe("GET /users/by-username/{username} and /users/by-display-name/{display_name}", () => {
  for (const route of ["by-username", "by-display-name"]) {
    it(`${route}: finds a full handle case-insensitively and trimmed, for anyone`, async () => {
      const handle = encodeURIComponent(` ${member.displayName.toUpperCase()} `);
      const res = await as(app, outsider).get(`/users/${route}/${handle}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ id: member.id, display_name: member.displayName, avatar_url: null });
    });

    it(`${route}: 404 "User not found" for an unknown, partial, blank or over-long handle`, async () => {
      for (const value of [
        "nobody%230000",
        "Quartz%20Member",
        "%20%20",
        encodeURIComponent("x".repeat(300)),
      ]) {
        const res = await as(app, member).get(`/users/${route}/${value}`);
        expect(res.status).toBe(404);
        expect(res.body).toEqual({ detail: "User not found" });
      }
    });

    it(`${route}: 401 without a token`, async () => {
      const res = await as(app).get(`/users/${route}/${encodeURIComponent(member.displayName)}`);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ detail: "Not authenticated" });
    });
  }
});

describe("GET /users/search", () => {
  it("finds, by prefix, only the people within the caller's reach, for every kind of caller", async () => {
    const search = async (caller: TestUser) => {
      const res = await as(app, caller).get("/users/search?q=quartz");
      expect(res.status).toBe(200);
      return ids(res.body);
    };
    expect(await search(owner)).toEqual(sorted(owner, admin, member));
    expect(await search(admin)).toEqual(sorted(owner, admin, member));
    expect(await search(member)).toEqual(sorted(owner, admin, member, friend));
    expect(await search(friend)).toEqual(sorted(member, friend));
    expect(await search(outsider)).toEqual(sorted(outsider));
    expect(await search(elsewhere)).toEqual(sorted(elsewhere));
    const anonymous = await as(app).get("/users/search?q=quartz");
    expect(anonymous.status).toBe(401);
  });

  it("finds anyone by their exact full handle, in any case", async () => {
    const res = await as(app, outsider).get(
      `/users/search?q=${encodeURIComponent(member.displayName.toLowerCase())}`,
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual([{ id: member.id, display_name: member.displayName, avatar_url: null }]);
  });

  it("matches % _ and \\ literally", async () => {
    const names = ["Pct%Sign", "Pctx Sign", "Und_Score", "Undx Score", "Back\\slash", "Backx slash"];
    const people = await Promise.all(names.map((displayName) => registerUser(app, { displayName })));
    await workspaceWith(app, [[member, "owner"], ...people.map((p): [TestUser, "member"] => [p, "member"])]);
    const find = async (q: string) => {
      const res = await as(app, member).get(`/users/search?q=${encodeURIComponent(q)}`);
      expect(res.status).toBe(200);
      return res.body.map((u: { display_name: string }) => u.display_name.split("#")[0]);
    };
    expect(await find("pct%")).toEqual(["Pct%Sign"]);
    expect(await find("%sign")).toEqual([]);
    expect(await find("und_")).toEqual(["Und_Score"]);
    expect(await find("back\\")).toEqual(["Back\\slash"]);
    expect((await find("pct")).sort()).toEqual(["Pct%Sign", "Pctx Sign"]);
  });

  it("answers [] for fewer than 2 characters after trimming, and for more than a handle can hold", async () => {
    for (const q of ["", "q", "  q  ", "x".repeat(38)]) {
      const res = await as(app, member).get(`/users/search?q=${encodeURIComponent(q)}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual([]);
    }
  });

  it("requires q (422)", async () => {
    const res = await as(app, member).get("/users/search");
    expect(res.status).toBe(422);
    expect(res.body).toEqual({
      detail: [{ loc: ["query", "q"], msg: "field required", type: "value_error.missing" }],
    });
  });

  it("clamps limit to 1..50 (default 20) and refuses a non-integer limit", async () => {
    await app.sql`
      with bulk as (
        insert into users (email, display_name, is_active, is_superuser)
        select 'bulk' || g || '@example.com', 'Bulk#' || lpad(g::text, 4, '0'), true, false
        from generate_series(0, 54) g
        returning id
      )
      insert into workspace_members (workspace_id, user_id, role) select ${workspaceId}, id, 'member' from bulk`;
    const count = async (query: string) => {
      const res = await as(app, member).get(`/users/search?q=bulk${query}`);
      expect(res.status).toBe(200);
      return res.body.length;
    };
    expect(await count("")).toBe(20);
    expect(await count("&limit=999")).toBe(50);
    expect(await count("&limit=0")).toBe(1);
    expect(await count("&limit=-3")).toBe(1);
    expect(await count("&limit=%2035%20")).toBe(35);
    const bad = await as(app, member).get("/users/search?q=bulk&limit=ten");
    expect(bad.status).toBe(422);
    expect(bad.body.detail[0]).toMatchObject({
      loc: ["query", "limit"],
      msg: "value is not a valid integer",
    });
  });
});

describe("GET /users/online", () => {
  let sockets: TestSocket[] = [];

  beforeAll(async () => {
    sockets = await Promise.all(
      [owner, admin, member, friend, outsider, elsewhere].map((u) => notificationsOf(app, u)),
    );
  });
  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.close()));
  });

  it("reveals only people within reach; everyone else reads offline", async () => {
    const everyone = [owner, admin, member, friend, outsider, elsewhere];
    const query = everyone.map((u) => u.id).join(",");
    const onlineFor = async (caller: TestUser) => {
      const res = await as(app, caller).get(`/users/online?ids=${query}`);
      expect(res.status).toBe(200);
      expect(res.body.map((e: { user_id: number }) => e.user_id)).toEqual(everyone.map((u) => u.id));
      return res.body.filter((e: { online: boolean }) => e.online).map((e: { user_id: number }) => e.user_id);
    };
    const idsOf = (...users: TestUser[]) => users.map((u) => u.id);
    expect(await onlineFor(owner)).toEqual(idsOf(owner, admin, member));
    expect(await onlineFor(admin)).toEqual(idsOf(owner, admin, member));
    expect(await onlineFor(member)).toEqual(idsOf(owner, admin, member, friend));
    expect(await onlineFor(friend)).toEqual(idsOf(member, friend));
    expect(await onlineFor(outsider)).toEqual(idsOf(outsider));
    expect(await onlineFor(elsewhere)).toEqual(idsOf(elsewhere));
    const anonymous = await as(app).get(`/users/online?ids=${query}`);
    expect(anonymous.status).toBe(401);
  });

  it("parses ids as the original does: blanks and non-integers dropped, order and duplicates kept", async () => {
    const res = await as(app, member).get(
      `/users/online?ids=${owner.id},%20${friend.id}%20,x,,1.5,${owner.id},-4,99999999999`,
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual([
      { user_id: owner.id, online: true },
      { user_id: friend.id, online: true },
      { user_id: owner.id, online: true },
      { user_id: -4, online: false },
      { user_id: 99999999999, online: false },
    ]);
  });

  it("answers [] for an empty list, 422 without ids, 422 for more than 100 ids", async () => {
    const empty = await as(app, member).get("/users/online?ids=");
    expect(empty.status).toBe(200);
    expect(empty.body).toEqual([]);
    const missing = await as(app, member).get("/users/online");
    expect(missing.status).toBe(422);
    expect(missing.body.detail).toEqual([
      { loc: ["query", "ids"], msg: "field required", type: "value_error.missing" },
    ]);
    const many = await as(app, member).get(
      `/users/online?ids=${Array.from({ length: 101 }, (_, i) => i + 1).join(",")}`,
    );
    expect(many.status).toBe(422);
    expect(many.body.detail).toEqual([
      {
        loc: ["query", "ids"],
        msg: "ensure this value has at most 100 items",
        type: "value_error.list.max_items",
        ctx: { limit_value: 100 },
      },
    ]);
  });

  it("reports a user offline once their last socket has closed", async () => {
    const colleague = await registerUser(app, { displayName: "Quartz Leaving" });
    await workspaceWith(app, [
      [member, "owner"],
      [colleague, "member"],
    ]);
    const socket = await notificationsOf(app, colleague);
    const before = await as(app, member).get(`/users/online?ids=${colleague.id}`);
    expect(before.body).toEqual([{ user_id: colleague.id, online: true }]);
    await socket.close();
    await expect
      .poll(async () => (await as(app, member).get(`/users/online?ids=${colleague.id}`)).body[0].online, {
        timeout: 5_000,
      })
      .toBe(false);
  });
});

describe("PATCH /users/me", () => {
  it("sets and removes avatar_url, which every view of the user then shows", async () => {
    const user = await registerUser(app, { displayName: "Avatar Person" });
    const url = "https://cdn.example.com/a/b.png?size=64";
    const set = await as(app, user).patch("/users/me", { json: { avatar_url: url } });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({
      id: user.id,
      email: user.email,
      display_name: user.displayName,
      avatar_url: url,
    });
    const seen = await as(app, outsider).get(`/users/by-username/${encodeURIComponent(user.displayName)}`);
    expect(seen.body.avatar_url).toBe(url);
    const cleared = await as(app, user).patch("/users/me", { json: { avatar_url: null } });
    expect(cleared.status).toBe(200);
    expect(cleared.body.avatar_url).toBeNull();
  });

  it("refuses an avatar_url that is not an http(s) URL of at most 1024 characters (422)", async () => {
    const user = await registerUser(app);
    const bad = [
      "ftp://example.com/a.png",
      "javascript:alert(1)",
      "not a url",
      "https://",
      "https://user:secret@example.com/a.png",
      "https://example.com/a b.png",
      "https://example.com/\na.png",
      `https://example.com/${"a".repeat(1010)}`,
      "",
      42,
      { url: "https://example.com" },
    ];
    for (const value of bad) {
      const res = await as(app, user).patch("/users/me", { json: { avatar_url: value } });
      expect(res.status, JSON.stringify(value)).toBe(422);
      expect(res.body.detail[0].loc).toEqual(["body", "avatar_url"]);
    }
    const me = await as(app, user).get("/auth/me");
    expect(me.body.avatar_url).toBeNull();
  });

  it("gives a new base name a new handle; the old handle no longer resolves", async () => {
    const user = await registerUser(app, { displayName: "Old Name" });
    const res = await as(app, user).patch("/users/me", { json: { display_name: "  New Name  " } });
    expect(res.status).toBe(200);
    expect(res.body.display_name).toMatch(/^New Name#\d{4}$/);
    const old = await as(app, outsider).get(`/users/by-username/${encodeURIComponent(user.displayName)}`);
    expect(old.status).toBe(404);
    const fresh = await as(app, outsider).get(
      `/users/by-username/${encodeURIComponent(res.body.display_name)}`,
    );
    expect(fresh.body.id).toBe(user.id);
  });

  it("keeps the discriminator when only the case of the base changes", async () => {
    const user = await registerUser(app, { displayName: "casey" });
    const res = await as(app, user).patch("/users/me", { json: { display_name: "Casey" } });
    expect(res.status).toBe(200);
    expect(res.body.display_name).toBe(`Casey#${user.displayName.slice(-4)}`);
  });

  it("keeps the handle rules of registration (400 / 422, as at /auth/register)", async () => {
    const user = await registerUser(app);
    const hash = await as(app, user).patch("/users/me", { json: { display_name: "bad#name" } });
    expect(hash.status).toBe(400);
    expect(hash.body).toEqual({ detail: "Display name must not include '#'." });
    const short = await as(app, user).patch("/users/me", { json: { display_name: "  a  " } });
    expect(short.status).toBe(400);
    expect(short.body).toEqual({ detail: "Display name must be between 2 and 32 characters." });
    const long = await as(app, user).patch("/users/me", { json: { display_name: "x".repeat(33) } });
    expect(long.status).toBe(422);
    expect(long.body.detail[0]).toMatchObject({
      loc: ["body", "display_name"],
      msg: "ensure this value has at most 32 characters",
    });
    const none = await as(app, user).patch("/users/me", { json: { display_name: null } });
    expect(none.status).toBe(422);
    const me = await as(app, user).get("/auth/me");
    expect(me.body.display_name).toBe(user.displayName);
  });

  it("answers 409 when every tag of the new name is taken", async () => {
    await app.sql`
      insert into users (email, display_name, is_active, is_superuser)
      select 'taken' || g || '@example.com', 'Taken#' || lpad(g::text, 4, '0'), true, false
      from generate_series(0, 9999) g`;
    const user = await registerUser(app);
    const res = await as(app, user).patch("/users/me", { json: { display_name: "taken" } });
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ detail: "Unable to allocate a unique tag for this display name." });
  });

  it("changes nothing for {} and refuses a missing, malformed or non-object body", async () => {
    const user = await registerUser(app);
    const same = await as(app, user).patch("/users/me", { json: {} });
    expect(same.status).toBe(200);
    expect(same.body.display_name).toBe(user.displayName);
    const missing = await as(app, user).patch("/users/me");
    expect(missing.status).toBe(422);
    expect(missing.body.detail).toEqual([
      { loc: ["body"], msg: "field required", type: "value_error.missing" },
    ]);
    const malformed = await as(app, user).patch("/users/me", {
      raw: "{",
      headers: { "Content-Type": "application/json" },
    });
    expect(malformed.status).toBe(422);
    expect(malformed.body.detail[0].type).toBe("value_error.jsondecode");
    const list = await as(app, user).patch("/users/me", { json: ["display_name"] });
    expect(list.status).toBe(422);
    expect(list.body.detail[0]).toMatchObject({ loc: ["body"], msg: "value is not a valid dict" });
  });

  it("401 without a token", async () => {
    const res = await as(app).patch("/users/me", { json: { avatar_url: null } });
    expect(res.status).toBe(401);
  });
});

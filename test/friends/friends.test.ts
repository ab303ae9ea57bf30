/**
 * Friend routes with docs/original-defects.md#d10-long-handles, docs/original-defects.md#d12-settled-requests
 * and docs/original-defects.md#d20-self-matching-search fixed, unfriend and cancel added, and the friend.*
 * events of 3.5 observed on real notification sockets.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { as } from "../support/http";
import { expectNoEventSoFar, notificationsOf } from "../support/sockets";
import { registerUser, type TestUser } from "../support/users";
import { befriendInDatabase } from "../support/worlds";

let app: TestApp;

beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => {
  await app?.close();
});

const publicOf = (user: TestUser) => ({ id: user.id, display_name: user.displayName, avatar_url: null });

async function request(from: TestUser, to: TestUser | string) {
  const handle = typeof to === "string" ? to : to.displayName;
  return as(app, from).post("/friends/requests", { json: { addressee_display_name: handle } });
}

describe("POST /friends/requests", () => {
  it("creates a pending request and tells the addressee on every socket (friend.requested)", async () => {
    const [alice, bob] = await Promise.all([registerUser(app), registerUser(app)]);
    const sockets = [await notificationsOf(app, bob), await notificationsOf(app, bob)];
    const res = await request(alice, bob);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual([
      "addressee",
      "created_at",
      "id",
      "requester",
      "status",
      "updated_at",
    ]);
    expect(res.body).toMatchObject({
      status: "pending",
      requester: publicOf(alice),
      addressee: publicOf(bob),
      updated_at: null,
    });
    expect(new Date(res.body.created_at).toISOString()).toBe(res.body.created_at);
    for (const socket of sockets) {
      expect(await socket.next()).toEqual({ type: "friend.requested", payload: { id: res.body.id } });
      await socket.close();
    }
  });

  it("accepts a handle of 37 characters, trimmed and in any case", async () => {
    const alice = await registerUser(app);
    const longName = await registerUser(app, { displayName: "L".repeat(32) });
    expect(longName.displayName).toHaveLength(37);
    const res = await request(alice, `  ${longName.displayName.toLowerCase()}  `);
    expect(res.status).toBe(200);
    expect(res.body.addressee.id).toBe(longName.id);
  });

  it("refuses a handle outside 2..37 characters, a missing field or body (422)", async () => {
    const alice = await registerUser(app);
    const tooLong = await request(alice, `${"L".repeat(33)}#0000`);
    expect(tooLong.status).toBe(422);
    expect(tooLong.body.detail[0]).toMatchObject({
      loc: ["body", "addressee_display_name"],
      msg: "ensure this value has at most 37 characters",
    });
    const tooShort = await request(alice, "  x ");
    expect(tooShort.status).toBe(422);
    expect(tooShort.body.detail[0].msg).toBe("ensure this value has at least 2 characters");
    const missing = await as(app, alice).post("/friends/requests", { json: {} });
    expect(missing.status).toBe(422);
    expect(missing.body.detail).toEqual([
      { loc: ["body", "addressee_display_name"], msg: "field required", type: "value_error.missing" },
    ]);
    const noBody = await as(app, alice).post("/friends/requests");
    expect(noBody.status).toBe(422);
    const number = await as(app, alice).post("/friends/requests", {
      json: { addressee_display_name: 12345 },
    });
    expect(number.status).toBe(422);
  });

  it("answers the documented errors: unknown user, oneself, already friends, incoming pending", async () => {
    const [alice, bob, carol] = await Promise.all([registerUser(app), registerUser(app), registerUser(app)]);
    const unknown = await request(alice, "Nobody#0000");
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ detail: "User not found" });
    const self = await request(alice, alice);
    expect(self.status).toBe(400);
    expect(self.body).toEqual({ detail: "Cannot friend yourself" });
    await befriendInDatabase(app, alice, bob);
    const friends = await request(alice, bob);
    expect(friends.status).toBe(400);
    expect(friends.body).toEqual({ detail: "Already friends" });
    expect((await request(carol, alice)).status).toBe(200);
    const crossing = await request(alice, carol);
    expect(crossing.status).toBe(409);
    expect(crossing.body).toEqual({ detail: "Incoming request already pending" });
  });

  it("returns a pending request unchanged, and reopens a declined one", async () => {
    const [alice, bob] = await Promise.all([registerUser(app), registerUser(app)]);
    const first = await request(alice, bob);
    const again = await request(alice, bob);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect((await as(app, bob).post(`/friends/requests/${first.body.id}/decline`)).status).toBe(200);
    const reopened = await request(alice, bob);
    expect(reopened.status).toBe(200);
    expect(reopened.body).toMatchObject({ id: first.body.id, status: "pending" });
    expect(reopened.body.updated_at).not.toBeNull();
  });

  it("lets only one of two people who befriend each other at once have a pending request", async () => {
    const [alice, bob] = await Promise.all([registerUser(app), registerUser(app)]);
    const answers = await Promise.all([request(alice, bob), request(bob, alice)]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    const pending = await app.sql`
      select count(*)::int as n from friend_requests
      where status = 'pending' and requester_id in (${alice.id}, ${bob.id}) and addressee_id in (${alice.id}, ${bob.id})`;
    expect(pending[0]?.n).toBe(1);
  });

  it("401 without a token", async () => {
    const res = await as(app).post("/friends/requests", { json: { addressee_display_name: "Any#0000" } });
    expect(res.status).toBe(401);
  });
});

describe("GET /friends/requests/incoming and /outgoing", () => {
  it("list the caller's pending requests, newest first, with FriendRequestRead", async () => {
    const [alice, bob, carol, dave] = await Promise.all([
      registerUser(app),
      registerUser(app),
      registerUser(app),
      registerUser(app),
    ]);
    const fromBob = await request(bob, alice);
    const fromCarol = await request(carol, alice);
    const fromDave = await request(dave, alice);
    await as(app, alice).post(`/friends/requests/${fromDave.body.id}/decline`);
    const toDave = await request(alice, dave);

    const incoming = await as(app, alice).get("/friends/requests/incoming");
    expect(incoming.status).toBe(200);
    expect(incoming.body).toEqual([fromCarol.body, fromBob.body]);
    const outgoing = await as(app, alice).get("/friends/requests/outgoing");
    expect(outgoing.body).toEqual([toDave.body]);
    expect((await as(app, bob).get("/friends/requests/outgoing")).body).toEqual([fromBob.body]);
    expect((await as(app, bob).get("/friends/requests/incoming")).body).toEqual([]);

    const page = await as(app, alice).get("/friends/requests/incoming?limit=1&offset=1");
    expect(page.body).toEqual([fromBob.body]);
    const clamped = await as(app, alice).get("/friends/requests/incoming?limit=0&offset=-5");
    expect(clamped.body).toEqual([fromCarol.body]);
  });

  it("refuse non-integer paging (422) and anonymous callers (401)", async () => {
    const alice = await registerUser(app);
    for (const path of ["/friends/requests/incoming", "/friends/requests/outgoing"]) {
      const limit = await as(app, alice).get(`${path}?limit=many`);
      expect(limit.status).toBe(422);
      expect(limit.body.detail[0]).toMatchObject({
        loc: ["query", "limit"],
        msg: "value is not a valid integer",
      });
      const offset = await as(app, alice).get(`${path}?offset=1.5`);
      expect(offset.status).toBe(422);
      expect(offset.body.detail[0].loc).toEqual(["query", "offset"]);
      expect((await as(app).get(path)).status).toBe(401);
    }
  });
});

describe("accepting and declining", () => {
  it("accept makes friends and tells the requester on every socket (friend.accepted)", async () => {
    const [alice, bob] = await Promise.all([registerUser(app), registerUser(app)]);
    const sockets = [await notificationsOf(app, alice), await notificationsOf(app, alice)];
    const sent = await request(alice, bob);
    const res = await as(app, bob).post(`/friends/requests/${sent.body.id}/accept`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: sent.body.id, status: "accepted", requester: publicOf(alice) });
    expect(res.body.updated_at).not.toBeNull();
    for (const socket of sockets) {
      expect(await socket.next()).toEqual({
        type: "friend.accepted",
        payload: { id: sent.body.id, by: publicOf(bob) },
      });
      await socket.close();
    }
    expect((await as(app, alice).get("/friends")).body).toEqual([publicOf(bob)]);
    expect((await as(app, bob).get("/friends")).body).toEqual([publicOf(alice)]);
    expect((await as(app, bob).get("/friends/requests/incoming")).body).toEqual([]);
  });

  it("decline tells the requester (friend.declined) and makes no friendship", async () => {
    const [alice, bob] = await Promise.all([registerUser(app), registerUser(app)]);
    const socket = await notificationsOf(app, alice);
    const sent = await request(alice, bob);
    const res = await as(app, bob).post(`/friends/requests/${sent.body.id}/decline`);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("declined");
    expect(await socket.next()).toEqual({
      type: "friend.declined",
      payload: { id: sent.body.id, by: publicOf(bob) },
    });
    expect((await as(app, alice).get("/friends")).body).toEqual([]);
    await socket.close();
  });

  it("answers 409 for a request that is no longer pending, and tells nobody", async () => {
    const [alice, bob, carol] = await Promise.all([registerUser(app), registerUser(app), registerUser(app)]);
    const accepted = await request(alice, bob);
    await as(app, bob).post(`/friends/requests/${accepted.body.id}/accept`);
    const declined = await request(carol, bob);
    await as(app, bob).post(`/friends/requests/${declined.body.id}/decline`);
    const aliceFeed = await notificationsOf(app, alice);
    const carolFeed = await notificationsOf(app, carol);

    for (const verb of ["accept", "decline"]) {
      const again = await as(app, bob).post(`/friends/requests/${accepted.body.id}/${verb}`);
      expect(again.status).toBe(409);
      expect(again.body).toEqual({ detail: "Request already accepted" });
      const late = await as(app, bob).post(`/friends/requests/${declined.body.id}/${verb}`);
      expect(late.status).toBe(409);
      expect(late.body).toEqual({ detail: "Request already declined" });
    }
    await expectNoEventSoFar(app, alice, aliceFeed);
    await expectNoEventSoFar(app, carol, carolFeed);
    expect((await as(app, carol).get("/friends")).body).toEqual([]);
    await aliceFeed.close();
    await carolFeed.close();
  });

  it("lets only the addressee answer: 403 for the requester and for a stranger, 404 for an unknown id", async () => {
    const [alice, bob, stranger] = await Promise.all([
      registerUser(app),
      registerUser(app),
      registerUser(app),
    ]);
    const sent = await request(alice, bob);
    for (const verb of ["accept", "decline"]) {
      for (const caller of [alice, stranger]) {
        const res = await as(app, caller).post(`/friends/requests/${sent.body.id}/${verb}`);
        expect(res.status).toBe(403);
        expect(res.body).toEqual({ detail: "Forbidden" });
      }
      for (const id of [999999, 99999999999, 0]) {
        const res = await as(app, bob).post(`/friends/requests/${id}/${verb}`);
        expect(res.status).toBe(404);
        expect(res.body).toEqual({ detail: "Request not found" });
      }
      const bad = await as(app, bob).post(`/friends/requests/abc/${verb}`);
      expect(bad.status).toBe(422);
      expect(bad.body.detail[0]).toMatchObject({
        loc: ["path", "request_id"],
        msg: "value is not a valid integer",
      });
      expect((await as(app).post(`/friends/requests/${sent.body.id}/${verb}`)).status).toBe(401);
    }
    const [row] = await app.sql`select status from friend_requests where id = ${sent.body.id}`;
    expect(row?.status).toBe("pending");
  });
});

describe("GET /friends and /friends/", () => {
  let caller: TestUser;
  let beta: TestUser;
  let gamma: TestUser;
  let percent: TestUser;

  beforeAll(async () => {
    caller = await registerUser(app, { displayName: "Alpha Caller" });
    beta = await registerUser(app, { displayName: "Beta Friend" });
    gamma = await registerUser(app, { displayName: "Gamma Friend" });
    percent = await registerUser(app, { displayName: "100% Friend" });
    for (const friend of [beta, gamma, percent]) {
      const sent = await request(caller, friend);
      expect((await as(app, friend).post(`/friends/requests/${sent.body.id}/accept`)).status).toBe(200);
    }
  });

  it("serve the same list on both paths, newest friendship first, without a redirect", async () => {
    const bare = await as(app, caller).get("/friends?limit=20&offset=0");
    const slash = await as(app, caller).get("/friends/?limit=20&offset=0");
    expect(bare.status).toBe(200);
    expect(bare.headers.get("location")).toBeNull();
    expect(slash.body).toEqual(bare.body);
    expect(bare.body).toEqual([publicOf(percent), publicOf(gamma), publicOf(beta)]);
  });

  it("filter q on the friend only, never on the caller, literally and case-insensitively", async () => {
    const list = async (q: string) => (await as(app, caller).get(`/friends?q=${encodeURIComponent(q)}`)).body;
    expect(await list("alpha")).toEqual([]);
    expect(await list("BETA")).toEqual([publicOf(beta)]);
    expect(await list("friend")).toEqual([publicOf(percent), publicOf(gamma), publicOf(beta)]);
    expect(await list("%")).toEqual([publicOf(percent)]);
    expect(await list("_")).toEqual([]);
    expect(await list("   ")).toHaveLength(3);
  });

  it("page with limit (clamped to 1..50) and offset (negative counts as 0)", async () => {
    const page = async (query: string) => (await as(app, caller).get(`/friends?${query}`)).body;
    expect(await page("limit=1&offset=1")).toEqual([publicOf(gamma)]);
    expect(await page("limit=0")).toEqual([publicOf(percent)]);
    expect(await page("offset=-2&limit=999")).toHaveLength(3);
    expect(await page("offset=3")).toEqual([]);
  });

  it("refuse bad query values (422) and anonymous callers (401)", async () => {
    for (const path of ["/friends", "/friends/"]) {
      const limit = await as(app, caller).get(`${path}?limit=x`);
      expect(limit.status).toBe(422);
      expect(limit.body.detail[0].loc).toEqual(["query", "limit"]);
      const q = await as(app, caller).get(`${path}?q=${"q".repeat(256)}`);
      expect(q.status).toBe(422);
      expect(q.body.detail[0]).toMatchObject({
        loc: ["query", "q"],
        msg: "ensure this value has at most 255 characters",
      });
      expect((await as(app).get(path)).status).toBe(401);
    }
  });
});

describe("DELETE /friends/{user_id} (unfriend)", () => {
  it("ends the friendship for both and tells the other (friend.removed)", async () => {
    const [alice, bob] = await Promise.all([registerUser(app), registerUser(app)]);
    await befriendInDatabase(app, alice, bob);
    const socket = await notificationsOf(app, bob);
    const res = await as(app, alice).delete(`/friends/${bob.id}`);
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    expect(await socket.next()).toEqual({
      type: "friend.removed",
      payload: { user_id: alice.id, by: publicOf(alice) },
    });
    expect((await as(app, bob).get("/friends")).body).toEqual([]);
    expect((await as(app, alice).get("/friends")).body).toEqual([]);
    // Friends again only through a new request.
    const again = await request(bob, alice);
    expect(again.status).toBe(200);
    await socket.close();
  });

  it("answers 404 for someone who is not a friend (or oneself, or nobody), 422 for a bad id, 401 anonymous", async () => {
    const [alice, stranger] = await Promise.all([registerUser(app), registerUser(app)]);
    for (const id of [stranger.id, alice.id, 999999, 99999999999]) {
      const res = await as(app, alice).delete(`/friends/${id}`);
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ detail: "Friend not found" });
    }
    const bad = await as(app, alice).delete("/friends/bob");
    expect(bad.status).toBe(422);
    expect(bad.body.detail[0]).toMatchObject({
      loc: ["path", "user_id"],
      msg: "value is not a valid integer",
    });
    expect((await as(app).delete(`/friends/${stranger.id}`)).status).toBe(401);
  });
});

describe("DELETE /friends/requests/{request_id} (cancel)", () => {
  it("withdraws the caller's pending request and tells the addressee (friend.cancelled)", async () => {
    const [alice, bob] = await Promise.all([registerUser(app), registerUser(app)]);
    const sent = await request(alice, bob);
    const socket = await notificationsOf(app, bob);
    const res = await as(app, alice).delete(`/friends/requests/${sent.body.id}`);
    expect(res.status).toBe(204);
    expect(await socket.next()).toEqual({ type: "friend.cancelled", payload: { id: sent.body.id } });
    expect((await as(app, bob).get("/friends/requests/incoming")).body).toEqual([]);
    expect((await as(app, alice).get("/friends/requests/outgoing")).body).toEqual([]);
    const gone = await as(app, bob).post(`/friends/requests/${sent.body.id}/accept`);
    expect(gone.status).toBe(404);
    await socket.close();
  });

  it("lets only the requester cancel, only while pending", async () => {
    const [alice, bob, stranger] = await Promise.all([
      registerUser(app),
      registerUser(app),
      registerUser(app),
    ]);
    const sent = await request(alice, bob);
    for (const caller of [bob, stranger]) {
      const res = await as(app, caller).delete(`/friends/requests/${sent.body.id}`);
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ detail: "Forbidden" });
    }
    await as(app, bob).post(`/friends/requests/${sent.body.id}/accept`);
    const late = await as(app, alice).delete(`/friends/requests/${sent.body.id}`);
    expect(late.status).toBe(409);
    expect(late.body).toEqual({ detail: "Request already accepted" });
    const unknown = await as(app, alice).delete("/friends/requests/999999");
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ detail: "Request not found" });
    const bad = await as(app, alice).delete("/friends/requests/x1");
    expect(bad.status).toBe(422);
    expect((await as(app).delete(`/friends/requests/${sent.body.id}`)).status).toBe(401);
  });
});

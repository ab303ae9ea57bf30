/**
 * Sessions: rotation with reuse detection and a grace window (docs/original-defects.md#d16-refresh-rotation),
 * immediate revocation, the session list, "log out everywhere else" and password change.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { api } from "../support/http";
import { jwtPayload, login, registerUser } from "../support/users";

let app: TestApp;
let http: ReturnType<typeof api>;

beforeAll(async () => {
  app = await startApp();
  http = api(app);
});
afterAll(async () => {
  await app?.close();
});

const me = (token: string) => api(app, { token }).get("/auth/me");
const refresh = (token: string) => http.post("/auth/refresh", { json: { refresh_token: token } });

describe("refresh rotation", () => {
  it("keeps the session id, issues a new pair, and leaves the old access token valid", async () => {
    const user = await registerUser(app);
    const res = await refresh(user.refreshToken);
    expect(res.status).toBe(200);
    expect(res.body.refresh_token).not.toBe(user.refreshToken);
    expect(jwtPayload(res.body.access_token).sid).toBe(jwtPayload(user.accessToken).sid);
    expect((await me(user.accessToken)).status).toBe(200);
    expect((await me(res.body.access_token)).status).toBe(200);
    // The rotated token keeps rotating.
    expect((await refresh(res.body.refresh_token)).status).toBe(200);
  });

  it("gives the previous token, within the grace window, the very same new pair (two tabs)", async () => {
    const user = await registerUser(app);
    const first = await refresh(user.refreshToken);
    const second = await refresh(user.refreshToken);
    expect(second.status).toBe(200);
    expect(second.body).toEqual(first.body);
    // Both tabs now hold the current pair, which still rotates.
    expect((await refresh(first.body.refresh_token)).status).toBe(200);
  });

  it("revokes the whole session when an older token is reused (reuse detection)", async () => {
    const user = await registerUser(app);
    const first = await refresh(user.refreshToken);
    const second = await refresh(first.body.refresh_token);
    expect(second.status).toBe(200);
    // user.refreshToken is now two rotations old: it can only have leaked.
    const reused = await refresh(user.refreshToken);
    expect(reused.status).toBe(401);
    expect(reused.body).toEqual({ detail: "Session revoked" });
    expect((await refresh(second.body.refresh_token)).body).toEqual({ detail: "Session revoked" });
    const access = await me(second.body.access_token);
    expect(access.status).toBe(401);
    expect(access.body).toEqual({ detail: "Session revoked" });
    const [row] =
      await app.sql`select revoked_at from user_sessions where session_id = ${String(jwtPayload(user.accessToken).sid)}`;
    expect(row?.revoked_at).not.toBeNull();
  });

  it("refuses an access token as a refresh token, and a refresh token as a bearer token", async () => {
    const user = await registerUser(app);
    const asRefresh = await refresh(user.accessToken);
    expect(asRefresh.status).toBe(401);
    expect(asRefresh.body).toEqual({ detail: "Invalid refresh token" });
    const asBearer = await me(user.refreshToken);
    expect(asBearer.status).toBe(401);
    expect(asBearer.body).toEqual({ detail: "Invalid authentication" });
  });
});

describe("last seen", () => {
  it("records a session's use in last_seen_at at most once per SESSION_TOUCH_TTL_SECONDS", async () => {
    const user = await registerUser(app);
    const lastSeen = async () => {
      const res = await api(app, { token: user.accessToken }).get("/auth/sessions");
      expect(res.status).toBe(200);
      return res.body.find((s: { is_current: boolean }) => s.is_current).last_seen_at as string | null;
    };
    expect((await me(user.accessToken)).status).toBe(200);
    const first = await lastSeen();
    expect(first).not.toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (let i = 0; i < 3; i++) expect((await me(user.accessToken)).status).toBe(200);
    expect(await lastSeen()).toBe(first);
  });
});

describe("revocation", () => {
  it("takes effect at once: logout answers 204 and every token of the session gets 401", async () => {
    const user = await registerUser(app);
    expect((await me(user.accessToken)).status).toBe(200);
    const out = await api(app, { token: user.accessToken }).post("/auth/logout");
    expect(out.status).toBe(204);
    const after = await me(user.accessToken);
    expect(after.status).toBe(401);
    expect(after.body).toEqual({ detail: "Session revoked" });
    expect((await refresh(user.refreshToken)).body).toEqual({ detail: "Session revoked" });
  });

  it("serves the per-request check from the store, not the database", async () => {
    // Revoking behind the app's back (database only) is not seen while the cached verdict
    // lives: proof that a warm request costs no session query. Revocation through the app
    // overwrites the cached verdict, which the next test shows.
    const user = await registerUser(app);
    expect((await me(user.accessToken)).status).toBe(200);
    await app.sql`update user_sessions set revoked_at = now() where session_id = ${String(jwtPayload(user.accessToken).sid)}`;
    expect((await me(user.accessToken)).status).toBe(200);
  });

  it("DELETE /auth/sessions/{id} revokes another of the caller's sessions at once, idempotently", async () => {
    const user = await registerUser(app);
    const laptop = await login(app, user.email, user.password);
    const laptopSid = String(jwtPayload(laptop.access_token).sid);
    expect((await me(laptop.access_token)).status).toBe(200);

    const caller = api(app, { token: user.accessToken });
    expect((await caller.delete(`/auth/sessions/${laptopSid}`)).status).toBe(204);
    expect((await me(laptop.access_token)).body).toEqual({ detail: "Session revoked" });
    expect((await caller.delete(`/auth/sessions/${laptopSid}`)).status).toBe(204);
    expect((await me(user.accessToken)).status).toBe(200);
  });

  it("DELETE /auth/sessions/{id} of someone else's session is 404 and revokes nothing", async () => {
    const owner = await registerUser(app);
    const other = await registerUser(app);
    const sid = String(jwtPayload(owner.accessToken).sid);
    const res = await api(app, { token: other.accessToken }).delete(`/auth/sessions/${sid}`);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ detail: "Session not found" });
    expect((await me(owner.accessToken)).status).toBe(200);
    const unknown = await api(app, { token: other.accessToken }).delete("/auth/sessions/no-such-session");
    expect(unknown.status).toBe(404);
  });

  it("logout with another user's refresh token is refused and revokes nothing", async () => {
    const owner = await registerUser(app);
    const other = await registerUser(app);
    const res = await api(app, { token: other.accessToken }).post("/auth/logout", {
      json: { refresh_token: owner.refreshToken },
    });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ detail: "Invalid refresh token" });
    expect((await me(owner.accessToken)).status).toBe(200);
    expect((await me(other.accessToken)).status).toBe(200);
  });

  it("logout with {} or a null refresh token revokes the caller's own session", async () => {
    for (const json of [{}, { refresh_token: null }]) {
      const user = await registerUser(app);
      expect((await api(app, { token: user.accessToken }).post("/auth/logout", { json })).status).toBe(204);
      expect((await me(user.accessToken)).status).toBe(401);
    }
  });
});

describe("GET /auth/sessions and log out everywhere else", () => {
  it("lists the live sessions with the documented fields and marks the caller's own", async () => {
    const user = await registerUser(app);
    const phone = await login(app, user.email, user.password);
    const res = await api(app, { token: user.accessToken }).get("/auth/sessions");
    expect(res.status).toBe(200);
    expect(res.body).toHaveLength(2);
    for (const session of res.body) {
      expect(Object.keys(session).sort()).toEqual(
        [
          "created_at",
          "ip_address",
          "is_current",
          "last_seen_at",
          "revoked_at",
          "session_id",
          "user_agent",
        ].sort(),
      );
      expect(session.revoked_at).toBeNull();
    }
    const current = res.body.find((s: { is_current: boolean }) => s.is_current);
    expect(current.session_id).toBe(jwtPayload(user.accessToken).sid);

    const revoked = await api(app, { token: user.accessToken }).post("/auth/sessions/revoke-others");
    expect(revoked.status).toBe(200);
    expect(revoked.body).toEqual({ revoked: 1 });
    expect((await me(phone.access_token)).status).toBe(401);
    const after = await api(app, { token: user.accessToken }).get("/auth/sessions");
    expect(after.body.map((s: { session_id: string }) => s.session_id)).toEqual([
      jwtPayload(user.accessToken).sid,
    ]);
  });
});

describe("POST /auth/password", () => {
  it("changes the password and logs out the other sessions, keeping the caller's", async () => {
    const user = await registerUser(app);
    const other = await login(app, user.email, user.password);
    const res = await api(app, { token: user.accessToken }).post("/auth/password", {
      json: { current_password: user.password, new_password: "a brand new secret" },
    });
    expect(res.status).toBe(204);
    expect((await me(user.accessToken)).status).toBe(200);
    expect((await me(other.access_token)).status).toBe(401);
    const old = await http.post("/auth/login", { form: { username: user.email, password: user.password } });
    expect(old.status).toBe(401);
    expect((await login(app, user.email, "a brand new secret")).access_token).toBeTruthy();
  });

  it("refuses a wrong current password and changes nothing", async () => {
    const user = await registerUser(app);
    const res = await api(app, { token: user.accessToken }).post("/auth/password", {
      json: { current_password: "not it", new_password: "a brand new secret" },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ detail: "Incorrect password" });
    expect((await login(app, user.email, user.password)).access_token).toBeTruthy();
  });
});

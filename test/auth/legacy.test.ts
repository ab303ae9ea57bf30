/**
 * Auth against a database adopted from the original service (test/fixtures): its bcrypt
 * passwords, its handles, its sessions, and tokens it signed, all keep working after
 * `migrateDatabase` and the switch to this Worker (same secret, same claims).
 */
import { randomUUID } from "node:crypto";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrateDatabase } from "../../scripts/lib/migrate";
import { startApp, TEST_JWT_SECRET, type TestApp } from "../support/app";
import { createTestDatabase, loadSqlFile, originalFixture, type TestDatabase } from "../support/database";
import { api } from "../support/http";
import { jwtPayload, login } from "../support/users";

const FIXTURE_USERS = [
  { id: 1, email: "alice@example.com", password: "alice-password-1", handle: "Alice#1234" },
  { id: 2, email: "bob@example.com", password: "bob-password-2", handle: "Bob#0042" },
  { id: 3, email: "carol@example.com", password: "carol-password-3", handle: "Carol Q#7777" },
] as const;
const [ALICE] = FIXTURE_USERS;

let database: TestDatabase;
let app: TestApp;
let http: ReturnType<typeof api>;
/** Alice's sessions in the fixture, read from user_sessions. */
let aliceActiveSid: string;
let aliceRevokedSid: string;
/** Hashes as the original stored them, so a test can put one back after a login re-hashed it. */
const originalHashes = new Map<number, string>();

beforeAll(async () => {
  database = await createTestDatabase({ migrate: false });
  await loadSqlFile(database.url, originalFixture("original-schema.sql"));
  await loadSqlFile(database.url, originalFixture("original-data.sql"));
  await migrateDatabase(database.url);
  app = await startApp({ database });
  http = api(app);

  const sessions = await app.sql<{ session_id: string; revoked_at: Date | null }[]>`
    select session_id, revoked_at from user_sessions where user_id = ${ALICE.id} order by id`;
  const active = sessions.filter((s) => s.revoked_at === null);
  const revoked = sessions.filter((s) => s.revoked_at !== null);
  expect(active).toHaveLength(1);
  expect(revoked).toHaveLength(1);
  aliceActiveSid = active[0]?.session_id as string;
  aliceRevokedSid = revoked[0]?.session_id as string;

  for (const row of await app.sql<{ id: number; hashed_password: string }[]>`
    select id, hashed_password from users`) {
    originalHashes.set(row.id, row.hashed_password);
  }
});
afterAll(async () => {
  await app?.close();
  await database?.drop();
});

async function storedHash(userId: number): Promise<string> {
  const [row] = await app.sql<
    { hashed_password: string }[]
  >`select hashed_password from users where id = ${userId}`;
  return row?.hashed_password as string;
}

async function restoreOriginalHash(userId: number): Promise<void> {
  await app.sql`update users set hashed_password = ${originalHashes.get(userId) as string} where id = ${userId}`;
}

/** A token as the original signed it (python-jose, HS256): no `jti`, `sub` a string. */
async function originalToken(claims: Record<string, unknown>, ttlSeconds: number): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iat: now, exp: now + ttlSeconds, ...claims })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));
}

const originalAccessToken = (sub: string, sid: string) => originalToken({ sub, sid, typ: "access" }, 15 * 60);
const originalRefreshToken = (sub: string, sid: string) =>
  originalToken({ sub, sid, typ: "refresh" }, 7 * 24 * 3600);

/** A session row exactly as the original writes one at login (none of this project's columns). */
async function insertOriginalSession(userId: number): Promise<string> {
  const sid = randomUUID();
  await app.sql`
    insert into user_sessions (user_id, session_id, user_agent, ip_address, last_seen_at)
    values (${userId}, ${sid}, 'Mozilla/5.0', '203.0.113.9', now())`;
  return sid;
}

describe("passwords of the original", () => {
  it.each(FIXTURE_USERS)(
    "$email logs in with its bcrypt hash, which is then re-hashed with scrypt",
    async (user) => {
      await restoreOriginalHash(user.id);
      expect(await storedHash(user.id)).toMatch(/^\$2b\$12\$/);

      const first = await login(app, user.email, user.password);
      expect(jwtPayload(first.access_token).sub).toBe(String(user.id));
      const upgraded = await storedHash(user.id);
      expect(upgraded).toMatch(/^\$scrypt\$/);

      const second = await login(app, user.email, user.password);
      expect(jwtPayload(second.access_token).sub).toBe(String(user.id));
      // Verifying the new hash must not re-hash it again.
      expect(await storedHash(user.id)).toBe(upgraded);

      const me = await api(app, { token: second.access_token }).get("/auth/me");
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ id: user.id, email: user.email, display_name: user.handle });
    },
  );

  it("refuses a wrong password against a bcrypt hash and leaves the hash alone", async () => {
    await restoreOriginalHash(ALICE.id);
    const res = await http.post("/auth/login", {
      form: { username: ALICE.email, password: "alice-password-2" },
    });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ detail: "Incorrect credentials" });
    expect(res.headers.get("www-authenticate")).toBeNull();
    expect(await storedHash(ALICE.id)).toBe(originalHashes.get(ALICE.id));
  });

  it("accepts the e-mail in another case", async () => {
    await restoreOriginalHash(ALICE.id);
    const tokens = await login(app, "Alice@Example.COM", ALICE.password);
    expect(jwtPayload(tokens.access_token).sub).toBe(String(ALICE.id));
  });
});

describe("the original's data through the auth routes", () => {
  it("GET /auth/me shows the fixture's account", async () => {
    const tokens = await login(app, ALICE.email, ALICE.password);
    const me = await api(app, { token: tokens.access_token }).get("/auth/me");
    expect(me.status).toBe(200);
    expect(me.body).toEqual({
      id: 1,
      email: "alice@example.com",
      display_name: "Alice#1234",
      avatar_url: null,
      is_active: true,
      is_superuser: false,
      created_at: expect.any(String),
    });
    expect(new Date(me.body.created_at).toISOString()).toBe("2026-01-10T10:01:00.000Z");
  });

  it("GET /auth/sessions lists the new session as current, the adopted live one, not the revoked one", async () => {
    const tokens = await login(app, ALICE.email, ALICE.password);
    const sid = jwtPayload(tokens.access_token).sid;
    const res = await api(app, { token: tokens.access_token }).get("/auth/sessions");
    expect(res.status).toBe(200);
    const byId = new Map(res.body.map((s: { session_id: string }) => [s.session_id, s]));
    expect(byId.get(sid)).toMatchObject({ is_current: true, revoked_at: null });
    expect(byId.get(aliceActiveSid)).toMatchObject({
      is_current: false,
      user_agent: "Mozilla/5.0",
      ip_address: "203.0.113.5",
      revoked_at: null,
    });
    expect(byId.has(aliceRevokedSid)).toBe(false);
    for (const session of res.body) expect(session.revoked_at).toBeNull();
  });
});

describe("tokens the original signed", () => {
  it("an access token for the adopted live session is accepted", async () => {
    const [session] = await app.sql`
      select refresh_token_id from user_sessions where session_id = ${aliceActiveSid}`;
    // Adopted sessions know no refresh token id: their first refresh is the original's token.
    expect(session?.refresh_token_id).toBeNull();

    const token = await originalAccessToken("1", aliceActiveSid);
    expect(jwtPayload(token)).not.toHaveProperty("jti");
    const me = await api(app, { token }).get("/auth/me");
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: 1, display_name: "Alice#1234" });
  });

  it("a token for the adopted revoked session is refused with Session revoked", async () => {
    const access = await api(app, { token: await originalAccessToken("1", aliceRevokedSid) }).get("/auth/me");
    expect(access.status).toBe(401);
    expect(access.body).toEqual({ detail: "Session revoked" });

    const refresh = await http.post("/auth/refresh", {
      json: { refresh_token: await originalRefreshToken("1", aliceRevokedSid) },
    });
    expect(refresh.status).toBe(401);
    expect(refresh.body).toEqual({ detail: "Session revoked" });
  });

  it("a token naming another user's session is refused with Session revoked", async () => {
    const res = await api(app, { token: await originalAccessToken("2", aliceActiveSid) }).get("/auth/me");
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ detail: "Session revoked" });
  });

  it("a refresh token presented twice within the grace window gets the same pair (two tabs)", async () => {
    // The first refresh after the switch is the likeliest moment for two tabs to race: every
    // open tab holds the original's token and the access tokens all expire within 15 minutes.
    const sid = await insertOriginalSession(ALICE.id);
    const oldRefresh = await originalRefreshToken("1", sid);

    const first = await http.post("/auth/refresh", { json: { refresh_token: oldRefresh } });
    expect(first.status).toBe(200);
    const second = await http.post("/auth/refresh", { json: { refresh_token: oldRefresh } });
    expect(second.status).toBe(200);
    expect(second.body).toEqual(first.body);
    expect((await api(app, { token: second.body.access_token }).get("/auth/me")).status).toBe(200);
    // The pair both tabs now hold keeps rotating.
    expect(
      (await http.post("/auth/refresh", { json: { refresh_token: first.body.refresh_token } })).status,
    ).toBe(200);
  });

  it("a refresh token is accepted once; presented again after the grace window it revokes the session", async () => {
    const strict = await startApp({ database, env: { REFRESH_REUSE_GRACE_SECONDS: "0" } });
    try {
      const sid = await insertOriginalSession(ALICE.id);
      const oldAccess = await originalAccessToken("1", sid);
      const oldRefresh = await originalRefreshToken("1", sid);

      const first = await api(strict).post("/auth/refresh", { json: { refresh_token: oldRefresh } });
      expect(first.status).toBe(200);
      expect(first.body).toEqual({
        access_token: expect.any(String),
        token_type: "bearer",
        refresh_token: expect.any(String),
      });
      expect(jwtPayload(first.body.access_token)).toMatchObject({ sub: "1", sid, typ: "access" });
      expect(jwtPayload(first.body.refresh_token)).toMatchObject({ sub: "1", sid, typ: "refresh" });
      expect(first.body.refresh_token).not.toBe(oldRefresh);
      expect((await api(strict, { token: first.body.access_token }).get("/auth/me")).status).toBe(200);
      // Rotation leaves access tokens to their own expiry (docs/original-defects.md#d16-refresh-rotation),
      // the original's included.
      expect((await api(strict, { token: oldAccess }).get("/auth/me")).status).toBe(200);

      const replay = await api(strict).post("/auth/refresh", { json: { refresh_token: oldRefresh } });
      expect(replay.status).toBe(401);
      expect(replay.body).toEqual({ detail: "Session revoked" });

      const [row] = await strict.sql`select revoked_at from user_sessions where session_id = ${sid}`;
      expect(row?.revoked_at).not.toBeNull();
      for (const token of [first.body.access_token, oldAccess]) {
        const me = await api(strict, { token }).get("/auth/me");
        expect(me.status).toBe(401);
        expect(me.body).toEqual({ detail: "Session revoked" });
      }
      const next = await api(strict).post("/auth/refresh", {
        json: { refresh_token: first.body.refresh_token },
      });
      expect(next.status).toBe(401);
      expect(next.body).toEqual({ detail: "Session revoked" });
    } finally {
      await strict.close();
    }
  });
});

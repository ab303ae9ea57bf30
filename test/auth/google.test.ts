/**
 * POST /auth/google: sign-in with a Google ID token, verified against a key set served by the
 * test (test/support/google.ts) exactly as the Worker would fetch Google's.
 */
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import {
  createSigningKey,
  googleEnv,
  googleSubject,
  idTokenClaims,
  type KeyServer,
  type SigningKey,
  signIdToken,
  startKeyServer,
} from "../support/google";
import { api } from "../support/http";
import { jwtPayload, login, registerUser, uniqueEmail } from "../support/users";

/** The database's own rule for handles (ck_users_display_name_handle), in code points. */
const HANDLE = /^.{2,32}#\d{4}$/u;

let key: SigningKey;
let strangerKey: SigningKey;
let keyServer: KeyServer;
let app: TestApp;
let http: ReturnType<typeof api>;

beforeAll(async () => {
  [key, strangerKey] = await Promise.all([createSigningKey(), createSigningKey()]);
  keyServer = await startKeyServer([key]);
  app = await startApp({ env: googleEnv(keyServer) });
  http = api(app);
});
afterAll(async () => {
  await app?.close();
  await keyServer?.close();
});

const signIn = (idToken: unknown) => http.post("/auth/google", { json: { id_token: idToken } });

async function usersWithEmail(email: string): Promise<number> {
  const [row] = await app.sql<{ n: number }[]>`
    select count(*)::int as n from users where lower(email) = ${email.toLowerCase()}`;
  return row?.n ?? 0;
}

describe("a valid ID token", () => {
  it("creates an account for a new e-mail, with a handle from the Google name", async () => {
    const email = uniqueEmail("grace");
    const subject = googleSubject();
    const res = await signIn(
      await signIdToken(key, idTokenClaims(email, { sub: subject, name: "Grace Hopper" })),
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      access_token: expect.any(String),
      token_type: "bearer",
      refresh_token: expect.any(String),
    });
    const access = jwtPayload(res.body.access_token);
    expect(access).toMatchObject({ typ: "access", sid: expect.any(String) });
    expect(jwtPayload(res.body.refresh_token)).toMatchObject({
      typ: "refresh",
      sid: access.sid,
      sub: access.sub,
    });

    const me = await api(app, { token: res.body.access_token }).get("/auth/me");
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: Number(access.sub), email, is_active: true });
    expect(me.body.display_name).toMatch(/^Grace Hopper#\d{4}$/);

    // A Google account has no password here: the password form must not open it.
    const [row] = await app.sql`select hashed_password from users where id = ${me.body.id}`;
    expect(row?.hashed_password).toBeNull();

    // The tokens are an ordinary session: listed, and refreshable.
    const sessions = await api(app, { token: res.body.access_token }).get("/auth/sessions");
    expect(sessions.body).toEqual([expect.objectContaining({ session_id: access.sid, is_current: true })]);
    const refreshed = await http.post("/auth/refresh", { json: { refresh_token: res.body.refresh_token } });
    expect(refreshed.status).toBe(200);

    const again = await signIn(
      await signIdToken(key, idTokenClaims(email, { sub: subject, name: "Grace Hopper" })),
    );
    expect(again.status).toBe(200);
    const second = jwtPayload(again.body.access_token);
    expect(second.sub).toBe(access.sub);
    expect(second.sid).not.toBe(access.sid);
    expect(await usersWithEmail(email)).toBe(1);
  });

  it("stores a new e-mail lower-cased and finds it again in any case", async () => {
    const email = uniqueEmail("mixed");
    const shouted = email.toUpperCase();
    const first = await signIn(await signIdToken(key, idTokenClaims(shouted)));
    expect(first.status).toBe(200);
    const me = await api(app, { token: first.body.access_token }).get("/auth/me");
    expect(me.body.email).toBe(email);

    const quiet = await signIn(await signIdToken(key, idTokenClaims(email)));
    expect(quiet.status).toBe(200);
    expect(jwtPayload(quiet.body.access_token).sub).toBe(String(me.body.id));
    expect(await usersWithEmail(email)).toBe(1);
  });

  it("signs in to the password account with the same e-mail, registered in another case", async () => {
    const email = uniqueEmail("ada");
    const registeredAs = `Ada.${email.replace("@example.com", "@Example.COM")}`;
    const user = await registerUser(app, { email: registeredAs, displayName: "Ada" });

    const res = await signIn(await signIdToken(key, idTokenClaims(`ada.${email}`, { name: "Someone Else" })));
    expect(res.status).toBe(200);
    expect(jwtPayload(res.body.access_token).sub).toBe(String(user.id));
    const me = await api(app, { token: res.body.access_token }).get("/auth/me");
    // The account keeps its handle; the Google name does not rename anyone.
    expect(me.body).toMatchObject({ id: user.id, display_name: user.displayName });
    expect(await usersWithEmail(`ada.${email}`)).toBe(1);

    // Linking leaves the password working.
    await expect(login(app, registeredAs, user.password)).resolves.toMatchObject({ token_type: "bearer" });
  });
});

describe("tokens that are not from Google for this app", () => {
  const now = () => Math.floor(Date.now() / 1000);
  const cases: [string, (email: string) => Promise<string>][] = [
    [
      "another audience",
      (email) => signIdToken(key, idTokenClaims(email, { aud: "someone-else.apps.googleusercontent.com" })),
    ],
    [
      "another issuer",
      (email) => signIdToken(key, idTokenClaims(email, { iss: "https://accounts.example.com" })),
    ],
    [
      "an expired token",
      (email) => signIdToken(key, idTokenClaims(email, { iat: now() - 7200, exp: now() - 3600 })),
    ],
    ["a key Google does not publish", (email) => signIdToken(strangerKey, idTokenClaims(email))],
    [
      "a foreign key claiming a published key id",
      (email) => signIdToken(strangerKey, idTokenClaims(email), { kid: key.kid }),
    ],
    [
      "HS256 with some secret",
      (email) =>
        new SignJWT(idTokenClaims(email))
          .setProtectedHeader({ alg: "HS256", typ: "JWT", kid: key.kid })
          .sign(new TextEncoder().encode("a-secret-anyone-could-choose-000000")),
    ],
    [
      "alg none",
      async (email) =>
        `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${Buffer.from(
          JSON.stringify(idTokenClaims(email)),
        ).toString("base64url")}.`,
    ],
    ["a token without an e-mail", (email) => signIdToken(key, idTokenClaims(email, { email: undefined }))],
    ["a garbage string", async () => "this-is-not-a-jwt"],
  ];

  it.each(cases)("refuses %s with 401 and creates no account", async (_, makeToken) => {
    const email = uniqueEmail("refused");
    const res = await signIn(await makeToken(email));
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ detail: "Invalid Google ID token" });
    expect(await usersWithEmail(email)).toBe(0);
  });

  it.each([
    ["false", false],
    ["absent", undefined],
  ])("refuses an e-mail Google has not verified (email_verified %s)", async (_, verified) => {
    const email = uniqueEmail("unverified");
    const res = await signIn(await signIdToken(key, idTokenClaims(email, { email_verified: verified })));
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ detail: "Google account e-mail is not verified" });
    expect(await usersWithEmail(email)).toBe(0);
  });
});

describe("request shape and configuration", () => {
  it("answers a missing or empty id_token with 422", async () => {
    const missing = await http.post("/auth/google", { json: {} });
    expect(missing.status).toBe(422);
    expect(missing.body.detail).toEqual([
      { loc: ["body", "id_token"], msg: "field required", type: "value_error.missing" },
    ]);

    const empty = await signIn("");
    expect(empty.status).toBe(422);
    expect(empty.body.detail).toEqual([
      expect.objectContaining({ loc: ["body", "id_token"], type: "value_error.any_str.min_length" }),
    ]);

    const noBody = await http.post("/auth/google");
    expect(noBody.status).toBe(422);
    expect(noBody.body.detail).toEqual([
      { loc: ["body"], msg: "field required", type: "value_error.missing" },
    ]);
  });

  it("answers 501 when GOOGLE_CLIENT_ID is not set", async () => {
    const unconfigured = await startApp({ database: app.database, env: { GOOGLE_CLIENT_ID: undefined } });
    try {
      const token = await signIdToken(key, idTokenClaims(uniqueEmail("nogoogle")));
      const res = await api(unconfigured).post("/auth/google", { json: { id_token: token } });
      expect(res.status).toBe(501);
      expect(res.body).toEqual({ detail: "Google sign-in is not configured" });
    } finally {
      await unconfigured.close();
    }
  });
});

describe("handles for names that are not valid bases (the backfill rule of handles)", () => {
  const localPart = (email: string) => email.split("@")[0] as string;
  const cases: [string, string | undefined, (email: string) => string][] = [
    ["a name with '#'", "Ada#Lovelace", () => "AdaLovelace"],
    ["a 1-character name", "Q", localPart],
    ["a name made only of '#'", "##", localPart],
    ["a blank name", "   ", localPart],
    ["no name", undefined, localPart],
    ["a name longer than 32 characters", "Ω".repeat(40), () => "Ω".repeat(32)],
  ];

  it.each(cases)("%s still gets a valid handle", async (_, name, expectedBase) => {
    const email = uniqueEmail("nm");
    const res = await signIn(await signIdToken(key, idTokenClaims(email, { name })));
    expect(res.status).toBe(200);
    const me = await api(app, { token: res.body.access_token }).get("/auth/me");
    expect(me.body.display_name).toMatch(HANDLE);
    expect(me.body.display_name.slice(0, -5)).toBe(expectedBase(email));
  });
});

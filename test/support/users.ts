/**
 * Arranging users for tests through the public API: register, log in, and keep the tokens; and
 * access tokens signed as the app signs them, for expiry and session cases.
 */
import { SignJWT } from "jose";
import { TEST_JWT_SECRET, type TestApp } from "./app";
import { api } from "./http";

export interface TestUser {
  id: number;
  email: string;
  password: string;
  displayName: string;
  accessToken: string;
  refreshToken: string;
}

let counter = 0;

/** A unique e-mail for this test process. */
export function uniqueEmail(label = "user"): string {
  counter += 1;
  return `${label}-${process.pid}-${Date.now().toString(36)}-${counter}@example.com`;
}

export async function login(app: TestApp, email: string, password: string) {
  const res = await api(app).post("/auth/login", {
    form: { grant_type: "password", username: email, password, scope: "", client_id: "", client_secret: "" },
  });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${res.text}`);
  return res.body as { access_token: string; refresh_token: string; token_type: string };
}

export async function registerUser(
  app: TestApp,
  options: { displayName?: string; email?: string; password?: string } = {},
): Promise<TestUser> {
  const email = options.email ?? uniqueEmail();
  const password = options.password ?? "correct horse battery";
  const displayName = options.displayName ?? `User ${counter}`;
  const res = await api(app).post("/auth/register", { json: { email, password, display_name: displayName } });
  if (res.status !== 200) throw new Error(`register failed: ${res.status} ${res.text}`);
  const tokens = await login(app, email, password);
  return {
    id: res.body.id,
    email: res.body.email,
    password,
    displayName: res.body.display_name,
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token,
  };
}

/** Decodes a JWT's payload without verifying it (as the web app does to read `exp`). */
export function jwtPayload(token: string): Record<string, unknown> {
  const part = token.split(".")[1] ?? "";
  return JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
}

/**
 * An access token for the user's session (or, with `withSession` false, one without `sid`, as
 * REQUIRE_SESSION_CLAIM=false accepts), signed as the app signs them, expiring in `seconds`
 * (negative: already expired).
 */
export async function accessTokenExpiringIn(user: TestUser, seconds: number, withSession = true) {
  const claims = jwtPayload(user.accessToken);
  const now = Math.floor(Date.now() / 1000);
  const body: Record<string, string> = { sub: String(user.id), typ: "access" };
  if (withSession) body.sid = String(claims.sid);
  return new SignJWT(body)
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt(now)
    .setExpirationTime(now + seconds)
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));
}

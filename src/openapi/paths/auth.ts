/** Auth routes (docs/http-api.md#accounts-and-sessions; src/routes/auth.ts). */
import { z } from "zod";
import {
  googleSignIn,
  loginForm,
  logoutBody,
  passwordChange,
  refreshBody,
  registration,
  sessionParam,
} from "../../routes/auth";
import { operation } from "../define";
import { RevokedSessions, Token, UserRead, UserSessionRead } from "../schemas";

const tag = "auth";

export const authOperations = [
  operation({
    method: "post",
    path: "/auth/register",
    tag,
    summary: "Create an account",
    description: "No session is created: log in next. The e-mail is normalised (domain lower-cased).",
    auth: false,
    body: registration,
    ok: { description: "The new account.", schema: UserRead },
    errors: {
      400: "`Email already registered`, `Display name already taken`, or an invalid display name.",
      409: "`Unable to allocate a unique tag for this display name.`",
    },
    routeLimit: "registrations per client IP",
  }),
  operation({
    method: "post",
    path: "/auth/login",
    tag,
    summary: "Log in (OAuth2 password form)",
    description: "`username` is the e-mail, matched exactly. Starts a session.",
    auth: false,
    form: loginForm,
    ok: { description: "A token pair for the new session.", schema: Token },
    errors: { 400: "Malformed form body.", 401: "`Incorrect credentials`." },
    routeLimit: "attempts per client IP, and per client IP and username",
  }),
  operation({
    method: "post",
    path: "/auth/refresh",
    tag,
    summary: "Rotate a refresh token",
    description: "The old pair stops working; reusing a rotated refresh token revokes the session.",
    auth: false,
    body: refreshBody,
    ok: { description: "A new token pair (new session id).", schema: Token },
    errors: { 401: "`Invalid refresh token`, `Session revoked` or `User not found`." },
    routeLimit: "refreshes per user (per client IP when the token does not verify)",
  }),
  operation({
    method: "post",
    path: "/auth/logout",
    tag,
    summary: "Log out",
    description:
      "Revokes the session of the given refresh token, or else the session of the access token. " +
      "The body may be absent, `{}` or `{ refresh_token }`.",
    body: logoutBody,
    bodyOptional: true,
    ok: { status: 204, description: "Logged out." },
    errors: { 401: "Also `Invalid refresh token`." },
  }),
  operation({
    method: "get",
    path: "/auth/me",
    tag,
    summary: "The caller's account",
    ok: { description: "The caller.", schema: UserRead },
  }),
  operation({
    method: "get",
    path: "/auth/sessions",
    tag,
    summary: "The caller's active sessions",
    ok: { description: "Sessions not revoked.", schema: z.array(UserSessionRead) },
  }),
  operation({
    method: "post",
    path: "/auth/sessions/revoke-others",
    tag,
    summary: "Log out everywhere else",
    ok: { description: "How many sessions were revoked.", schema: RevokedSessions },
  }),
  operation({
    method: "delete",
    path: "/auth/sessions/{session_id}",
    tag,
    summary: "Revoke one of the caller's sessions",
    params: sessionParam,
    ok: { status: 204, description: "Revoked (also when it already was)." },
    errors: { 404: "`Session not found` (unknown, or another user's)." },
  }),
  operation({
    method: "post",
    path: "/auth/password",
    tag,
    summary: "Change the password",
    description: "Every other session is logged out.",
    body: passwordChange,
    ok: { status: 204, description: "Changed." },
    errors: { 400: "`Incorrect password`." },
  }),
  operation({
    method: "post",
    path: "/auth/google",
    tag,
    summary: "Sign in with a Google ID token",
    auth: false,
    body: googleSignIn,
    ok: { description: "A token pair for the new session.", schema: Token },
    errors: {
      401: "`Invalid Google ID token` or `Google account e-mail is not verified`.",
      501: "`Google sign-in is not configured`.",
    },
    routeLimit: "sign-in attempts per client IP (shared with the password form)",
  }),
];

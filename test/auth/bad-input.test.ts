/**
 * Bad input on every auth route: each is answered with the 4xx and body documented in docs/http-api.md
 * (sections 1.4, 1.5, 2.2), in the original's 422 vocabulary, and never with a 500.
 */
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, TEST_JWT_SECRET, type TestApp } from "../support/app";
import { api } from "../support/http";
import { jwtPayload, login, registerUser, type TestUser, uniqueEmail } from "../support/users";

let app: TestApp;
let http: ReturnType<typeof api>;
/** A user whose tokens the bad-credential tests are forged around. */
let user: TestUser;

beforeAll(async () => {
  app = await startApp();
  http = api(app);
  user = await registerUser(app, { displayName: "Bad Input" });
});
afterAll(async () => {
  await app?.close();
});

const missing = (...loc: (string | number)[]) => ({
  loc,
  msg: "field required",
  type: "value_error.missing",
});
const atLeast = (field: string, limit: number) => ({
  loc: ["body", field],
  msg: `ensure this value has at least ${limit} characters`,
  type: "value_error.any_str.min_length",
  ctx: { limit_value: limit },
});
const atMost = (field: string, limit: number) => ({
  loc: ["body", field],
  msg: `ensure this value has at most ${limit} characters`,
  type: "value_error.any_str.max_length",
  ctx: { limit_value: limit },
});
const notADict = { loc: ["body"], msg: "value is not a valid dict", type: "type_error.dict" };

const encoder = new TextEncoder();
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Signs `claims` as this app would (HS256), with whatever secret and times the test needs. */
function forge(claims: Record<string, unknown>, options: { secret?: string; ttlSeconds?: number } = {}) {
  const iat = nowSeconds();
  return new SignJWT({ iat, exp: iat + (options.ttlSeconds ?? 900), ...claims })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .sign(encoder.encode(options.secret ?? TEST_JWT_SECRET));
}

/** An unsigned token (`alg: none`) carrying `claims`, built by hand as an attacker would. */
function unsigned(claims: Record<string, unknown>): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "none", typ: "JWT" })}.${part(claims)}.`;
}

function register(body: unknown) {
  return http.post("/auth/register", { json: body });
}

const validRegistration = (overrides: Record<string, unknown> = {}) => ({
  email: uniqueEmail("reg"),
  display_name: "Someone",
  password: "secret-password",
  ...overrides,
});

describe("POST /auth/register", () => {
  it.each(["email", "display_name", "password"])("requires %s", async (field) => {
    const body: Record<string, unknown> = validRegistration();
    delete body[field];
    const res = await register(body);
    expect(res.status).toBe(422);
    expect(res.body.detail).toEqual([missing("body", field)]);
  });

  it("reports every missing field at once, and a missing body", async () => {
    const empty = await register({});
    expect(empty.status).toBe(422);
    expect(empty.body.detail).toEqual([
      missing("body", "email"),
      missing("body", "display_name"),
      missing("body", "password"),
    ]);

    const none = await http.post("/auth/register");
    expect(none.status).toBe(422);
    expect(none.body.detail).toEqual([missing("body")]);
  });

  it("answers malformed JSON with 422 value_error.jsondecode", async () => {
    const res = await http.post("/auth/register", {
      raw: '{"email": "a@example.com", "password":',
      headers: { "Content-Type": "application/json" },
    });
    expect(res.status).toBe(422);
    expect(res.body.detail).toHaveLength(1);
    expect(res.body.detail[0]).toMatchObject({
      loc: ["body", expect.any(Number)],
      type: "value_error.jsondecode",
    });
  });

  it("treats a text/plain body as a string: value is not a valid dict", async () => {
    const res = await http.post("/auth/register", {
      raw: JSON.stringify(validRegistration()),
      headers: { "Content-Type": "text/plain" },
    });
    expect(res.status).toBe(422);
    expect(res.body.detail).toEqual([notADict]);
  });

  it.each([
    ["an array", [validRegistration()]],
    ["a string", "hello"],
    ["a number", 42],
    ["null", null],
  ])("refuses %s as the body: value is not a valid dict", async (_, body) => {
    const res = await register(body);
    expect(res.status).toBe(422);
    expect(res.body.detail).toEqual([notADict]);
  });

  it.each([
    ["empty", ""],
    ["without @", "no-at"],
    ["without a domain", "a@"],
    ["without a local part", "@example.com"],
    ["with two @", "a@b@c"],
    ["with a space inside", "a b@example.com"],
  ])("refuses an e-mail %s", async (_, email) => {
    const res = await register(validRegistration({ email }));
    expect(res.status).toBe(422);
    expect(res.body.detail).toEqual([
      { loc: ["body", "email"], msg: "value is not a valid email address", type: "value_error.email" },
    ]);
  });

  // Over-long addresses are not valid addresses either, whatever internal bound they cross.
  it.each([300, 400])("refuses a %i-character address as not a valid email address", async (length) => {
    const domain = `@${"d".repeat(length - 64 - ".com".length - 1)}.com`;
    const email = `${"a".repeat(64)}${domain}`;
    expect(email).toHaveLength(length);
    const res = await register(validRegistration({ email }));
    expect(res.status).toBe(422);
    expect(res.body.detail).toEqual([
      { loc: ["body", "email"], msg: "value is not a valid email address", type: "value_error.email" },
    ]);
  });

  it.each([
    ["surrounding spaces", (addr: string) => `  ${addr}  `],
    ["the Name <addr> form", (addr: string) => `Grace Hopper <${addr}>`],
  ])("accepts an e-mail with %s, stored normalised and lower-cased", async (_, dress) => {
    const email = uniqueEmail("norm");
    const typed = dress(email.replace("norm", "Norm").replace("example.com", "Example.COM"));
    const res = await register(validRegistration({ email: typed, password: "secret-password" }));
    expect(res.status).toBe(200);
    expect(res.body.email).toBe(email);
    const [row] = await app.sql`select email from users where id = ${res.body.id}`;
    expect(row?.email).toBe(email);
    // Login normalises the same way (docs/original-defects.md#d11-e-mail-case).
    await expect(login(app, typed, "secret-password")).resolves.toMatchObject({ token_type: "bearer" });
  });

  it.each([
    ["1 character", "a", atLeast("display_name", 2)],
    ["1 code point in 2 UTF-16 units", "😀", atLeast("display_name", 2)],
    ["33 characters", "a".repeat(33), atMost("display_name", 32)],
    ["33 code points", "😀".repeat(33), atMost("display_name", 32)],
    // The length rule applies before trimming.
    ["32 characters and a blank", ` ${"b".repeat(32)}`, atMost("display_name", 32)],
  ])("refuses a display_name of %s with 422", async (_, displayName, issue) => {
    const res = await register(validRegistration({ display_name: displayName }));
    expect(res.status).toBe(422);
    expect(res.body.detail).toEqual([issue]);
  });

  it("counts display_name in code points: 32 emoji are accepted", async () => {
    const base = "😀".repeat(32);
    const res = await register(validRegistration({ display_name: base }));
    expect(res.status).toBe(200);
    expect(res.body.display_name).toMatch(new RegExp(`^${base}#\\d{4}$`, "u"));
  });

  it("checks the trimmed display_name after the length rule: '   a  ' is a 400", async () => {
    const res = await register(validRegistration({ display_name: "   a  " }));
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ detail: "Display name must be between 2 and 32 characters." });
  });

  it("refuses '#' in a display_name, and an existing full handle as taken", async () => {
    const hash = await register(validRegistration({ display_name: "Bob#1" }));
    expect(hash.status).toBe(400);
    expect(hash.body).toEqual({ detail: "Display name must not include '#'." });

    const owner = await register(validRegistration({ display_name: "Taken" }));
    expect(owner.status).toBe(200);
    const taken = await register(
      validRegistration({ display_name: `  ${owner.body.display_name.toUpperCase()} ` }),
    );
    expect(taken.status).toBe(400);
    expect(taken.body).toEqual({ detail: "Display name already taken" });
  });

  it("refuses an e-mail already registered in another case", async () => {
    const email = uniqueEmail("dup");
    expect((await register(validRegistration({ email }))).status).toBe(200);
    const res = await register(validRegistration({ email: email.toUpperCase() }));
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ detail: "Email already registered" });
  });

  it("bounds the password: 5 and 129 characters are 422, 128 non-ASCII code points work", async () => {
    const short = await register(validRegistration({ password: "12345" }));
    expect(short.status).toBe(422);
    expect(short.body.detail).toEqual([atLeast("password", 6)]);

    const long = await register(validRegistration({ password: "p".repeat(129) }));
    expect(long.status).toBe(422);
    expect(long.body.detail).toEqual([atMost("password", 128)]);

    const password = "🔑".repeat(128);
    const email = uniqueEmail("keys");
    const ok = await register(validRegistration({ email, password }));
    expect(ok.status).toBe(200);
    await expect(login(app, email, password)).resolves.toMatchObject({ token_type: "bearer" });
  });
});

describe("POST /auth/login", () => {
  it("refuses a JSON body: username and password are missing from the form", async () => {
    const res = await http.post("/auth/login", { json: { username: user.email, password: user.password } });
    expect(res.status).toBe(422);
    expect(res.body.detail).toEqual([missing("body", "username"), missing("body", "password")]);
  });

  it("requires the password", async () => {
    const res = await http.post("/auth/login", { form: { username: user.email } });
    expect(res.status).toBe(422);
    expect(res.body.detail).toEqual([missing("body", "password")]);
  });

  it("accepts grant_type password only", async () => {
    const res = await http.post("/auth/login", {
      form: { grant_type: "client_credentials", username: user.email, password: user.password },
    });
    expect(res.status).toBe(422);
    expect(res.body.detail).toEqual([
      {
        loc: ["body", "grant_type"],
        msg: 'string does not match regex "password"',
        type: "value_error.str.regex",
        ctx: { pattern: "password" },
      },
    ]);
  });

  it("refuses a 129-character password with 422 before any hashing", async () => {
    const res = await http.post("/auth/login", { form: { username: user.email, password: "p".repeat(129) } });
    expect(res.status).toBe(422);
    expect(res.body.detail).toEqual([atMost("password", 128)]);
  });

  it("answers an unknown e-mail with 401 Incorrect credentials and no challenge", async () => {
    const res = await http.post("/auth/login", {
      form: { username: uniqueEmail("nobody"), password: "whatever" },
    });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ detail: "Incorrect credentials" });
    expect(res.headers.get("www-authenticate")).toBeNull();
  });

  it("accepts multipart/form-data", async () => {
    const form = new FormData();
    form.set("grant_type", "password");
    form.set("username", user.email);
    form.set("password", user.password);
    const res = await app.fetch("/auth/login", { method: "POST", body: form });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ token_type: "bearer" });
    expect(jwtPayload(body.access_token).sub).toBe(String(user.id));
  });
});

describe("POST /auth/refresh", () => {
  it("requires a body with a string refresh_token", async () => {
    const none = await http.post("/auth/refresh");
    expect(none.status).toBe(422);
    expect(none.body.detail).toEqual([missing("body")]);

    const empty = await http.post("/auth/refresh", { json: {} });
    expect(empty.status).toBe(422);
    expect(empty.body.detail).toEqual([missing("body", "refresh_token")]);

    const number = await http.post("/auth/refresh", { json: { refresh_token: 123 } });
    expect(number.status).toBe(422);
    expect(number.body.detail).toEqual([
      { loc: ["body", "refresh_token"], msg: "str type expected", type: "type_error.str" },
    ]);
  });

  const sid = () => String(jwtPayload(user.refreshToken).sid);
  it.each([
    ["garbage", async () => "garbage"],
    ["an access token", async () => user.accessToken],
    [
      "a token signed with another secret",
      () =>
        forge(
          { sub: String(user.id), sid: sid(), typ: "refresh" },
          { secret: "another-secret-of-at-least-32-bytes!!" },
        ),
    ],
    [
      "an unsigned (alg none) token",
      async () => unsigned({ sub: String(user.id), sid: sid(), typ: "refresh", exp: nowSeconds() + 600 }),
    ],
    [
      "an expired refresh token",
      () => forge({ sub: String(user.id), sid: sid(), typ: "refresh" }, { ttlSeconds: -60 }),
    ],
    ["a token whose sub is not a user id", () => forge({ sub: "abc", sid: sid(), typ: "refresh" })],
  ])("answers %s with 401 Invalid refresh token", async (_, makeToken) => {
    const res = await http.post("/auth/refresh", { json: { refresh_token: await makeToken() } });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ detail: "Invalid refresh token" });
  });
});

const PROTECTED: [method: string, path: string][] = [
  ["GET", "/auth/me"],
  ["GET", "/auth/sessions"],
  ["POST", "/auth/logout"],
  ["DELETE", "/auth/sessions/x"],
  ["POST", "/auth/password"],
  ["POST", "/auth/sessions/revoke-others"],
];

describe.each(PROTECTED)("%s %s without valid credentials", (method, path) => {
  const call = (authorization?: string) =>
    http.request(method, path, { headers: authorization ? { Authorization: authorization } : {} });

  it.each([
    ["no Authorization header", undefined],
    ["a Basic scheme", "Basic xyz"],
    ["a Bearer scheme without a token", "Bearer "],
  ])("answers %s with 401 Not authenticated and a Bearer challenge", async (_, authorization) => {
    const res = await call(authorization);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ detail: "Not authenticated" });
    expect(res.headers.get("www-authenticate")).toBe("Bearer");
  });

  const sid = () => String(jwtPayload(user.accessToken).sid);
  it.each([
    ["a garbage token", async () => "garbage"],
    ["a refresh token", async () => user.refreshToken],
    [
      "an unsigned (alg none) token",
      async () => unsigned({ sub: String(user.id), sid: sid(), typ: "access", exp: nowSeconds() + 600 }),
    ],
    [
      "an expired access token",
      () => forge({ sub: String(user.id), sid: sid(), typ: "access" }, { ttlSeconds: -60 }),
    ],
    ["a token whose sub is not a user id", () => forge({ sub: "abc", sid: sid(), typ: "access" })],
    [
      "a token signed with another secret",
      () =>
        forge(
          { sub: String(user.id), sid: sid(), typ: "access" },
          { secret: "another-secret-of-at-least-32-bytes!!" },
        ),
    ],
  ])("answers %s with 401 Invalid authentication", async (_, makeToken) => {
    const res = await call(`Bearer ${await makeToken()}`);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ detail: "Invalid authentication" });
  });
});

describe("other protected-route errors", () => {
  it.each(["/auth/logout", "/auth/password"])(
    "answers malformed JSON on %s with 422 before authentication",
    async (path) => {
      const res = await http.post(path, { raw: "{oops", headers: { "Content-Type": "application/json" } });
      expect(res.status).toBe(422);
      expect(res.body.detail).toEqual([
        expect.objectContaining({ loc: ["body", expect.any(Number)], type: "value_error.jsondecode" }),
      ]);
    },
  );

  it("answers DELETE of another user's session with 404 and leaves it alive", async () => {
    const other = await registerUser(app, { displayName: "Other" });
    const otherSid = String(jwtPayload(other.accessToken).sid);
    const res = await api(app, { token: user.accessToken }).delete(`/auth/sessions/${otherSid}`);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ detail: "Session not found" });
    expect((await api(app, { token: other.accessToken }).get("/auth/me")).status).toBe(200);

    const unknown = await api(app, { token: user.accessToken }).delete(
      `/auth/sessions/${crypto.randomUUID()}`,
    );
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ detail: "Session not found" });
  });

  it("answers a password change with a wrong current password or a short new one", async () => {
    const owner = await registerUser(app, { displayName: "Changer" });
    const as = api(app, { token: owner.accessToken });

    const wrong = await as.post("/auth/password", {
      json: { current_password: "not-the-password", new_password: "a-new-password" },
    });
    expect(wrong.status).toBe(400);
    expect(wrong.body).toEqual({ detail: "Incorrect password" });

    const short = await as.post("/auth/password", {
      json: { current_password: owner.password, new_password: "12345" },
    });
    expect(short.status).toBe(422);
    expect(short.body.detail).toEqual([atLeast("new_password", 6)]);

    const none = await as.post("/auth/password");
    expect(none.status).toBe(422);
    expect(none.body.detail).toEqual([missing("body")]);

    // None of these changed anything.
    await expect(login(app, owner.email, owner.password)).resolves.toMatchObject({ token_type: "bearer" });
  });
});

// Last in the file: every request above went through this app.
it("answered none of the requests above with a 5xx", () => {
  const requests = app.logs
    .map((line) => {
      try {
        return JSON.parse(line) as { msg?: string; status?: number };
      } catch {
        return {};
      }
    })
    .filter((entry) => entry.msg === "request");
  expect(requests.length).toBeGreaterThan(50);
  expect(requests.filter((entry) => (entry.status ?? 0) >= 500)).toEqual([]);
});

/**
 * A query that fails for real, on routes that carry an e-mail, a password or a token: the error
 * line names PostgreSQL's code and message and the statement's text, and no line carries the
 * statement's parameters (the e-mail, the password hash, the token's id) or the request's secrets.
 * The failures are made in this file's own database: a constraint that refuses certain rows, a
 * column renamed for the length of one request.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { api } from "../support/http";
import { jwtPayload, login, registerUser } from "../support/users";

let app: TestApp;

beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => {
  await app?.close();
});

type Line = Record<string, unknown>;
const lines = (): Line[] => app.logs.map((text) => JSON.parse(text) as Line);

async function errorLine(requestId: string): Promise<Line> {
  const find = () => lines().find((l) => l.request_id === requestId && l.level === "error");
  await expect.poll(() => find() !== undefined).toBe(true);
  return find() as Line;
}

/** Nothing written while `requestId` was served, nor anything else, carries these values. */
function expectNowhere(values: string[]) {
  const output = app.logs.join("\n");
  for (const value of values) expect(output, `a log line carries ${value}`).not.toContain(value);
  // A password hash in the PHC format (scrypt) or bcrypt's, whoever's it is.
  expect(output).not.toMatch(/\$scrypt\$|\$2[aby]\$\d\d\$/);
}

describe("a failed query in the log", () => {
  it("registration: the constraint, table and statement, never the e-mail or password hash", async () => {
    await app.sql`alter table users add constraint test_refuses_example_org
      check (email not like '%@refused.example.org') not valid`;
    try {
      const email = `someone-${Date.now()}@refused.example.org`;
      const password = "Pa55word-for-a-failing-insert";
      const res = await api(app).post("/auth/register", {
        json: { email, password, display_name: "Refused" },
        headers: { "X-Request-Id": "qf-register" },
      });
      expect(res.status).toBe(500);
      const line = await errorLine("qf-register");
      expect(line).toMatchObject({
        msg: "unhandled error",
        route: "/auth/register",
        db_code: "23514",
        db_severity: "ERROR",
        db_table: "users",
        db_constraint: "test_refuses_example_org",
      });
      expect(String(line.db_message)).toContain('violates check constraint "test_refuses_example_org"');
      expect(String(line.db_statement)).toMatch(/^insert into "users" .*\$1/);
      expect(String(line.error)).toContain("params: [left out]");
      expectNowhere([email, email.split("@")[0] as string, password]);
    } finally {
      await app.sql`alter table users drop constraint test_refuses_example_org`;
    }
  });

  it("login: the missing column and the statement, never the e-mail or the password", async () => {
    const user = await registerUser(app);
    await app.sql`alter table users rename column username to username_gone`;
    try {
      const res = await api(app).post("/auth/login", {
        form: { username: user.email, password: user.password },
        headers: { "X-Request-Id": "qf-login" },
      });
      expect(res.status).toBe(500);
      const line = await errorLine("qf-login");
      expect(line).toMatchObject({ route: "/auth/login", db_code: "42703" });
      expect(String(line.db_message)).toContain('column "username" does not exist');
      expect(String(line.db_statement)).toMatch(/^select .* from "users" where /);
      expectNowhere([user.email, user.password, user.accessToken, user.refreshToken]);
    } finally {
      await app.sql`alter table users rename column username_gone to username`;
    }
  });

  it("refresh and password change: never the token, its id, or the new password's hash", async () => {
    const user = await registerUser(app);
    const jti = String(jwtPayload(user.refreshToken).jti);
    await app.sql`alter table user_sessions add constraint test_refuses_rotation
      check (previous_refresh_token_id is null) not valid`;
    await app.sql`alter table users add constraint test_refuses_new_hash
      check (id <> ${app.sql.unsafe(String(user.id))} or updated_at is null) not valid`;
    try {
      const refresh = await api(app).post("/auth/refresh", {
        json: { refresh_token: user.refreshToken },
        headers: { "X-Request-Id": "qf-refresh" },
      });
      expect(refresh.status).toBe(500);
      expect(await errorLine("qf-refresh")).toMatchObject({
        route: "/auth/refresh",
        db_code: "23514",
        db_constraint: "test_refuses_rotation",
      });

      const newPassword = "An0ther-Pa55word-never-logged";
      const change = await api(app, { token: user.accessToken }).post("/auth/password", {
        json: { current_password: user.password, new_password: newPassword },
        headers: { "X-Request-Id": "qf-password" },
      });
      expect(change.status).toBe(500);
      expect(await errorLine("qf-password")).toMatchObject({
        route: "/auth/password",
        db_code: "23514",
        db_constraint: "test_refuses_new_hash",
      });
      expectNowhere([user.refreshToken, user.accessToken, jti, user.password, newPassword, user.email]);
    } finally {
      await app.sql`alter table user_sessions drop constraint test_refuses_rotation`;
      await app.sql`alter table users drop constraint test_refuses_new_hash`;
    }
    // The account still works once the database is whole again.
    await login(app, user.email, user.password);
  });
});

/**
 * Text PostgreSQL cannot store as sent (src/db/text.ts): a NUL character anywhere a client can put
 * one, and lone surrogates, answer 422 in the validation error shape on REST, and an error event
 * on sockets, where they used to be 500s and `internal_error` events (issue 13.2). Bodies that are
 * not UTF-8 are a 422 too. test/fuzz/ sends such values to every operation; this file pins the
 * routes the issue names and the shapes of the answers.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { api, as } from "../support/http";
import { joinChat, joinDm } from "../support/sockets";
import { buildRoom, openThread, post, postDm, type Room } from "../support/worlds";

let app: TestApp;
let room: Room;
let threadId: number;
let messageId: number;
let directMessageId: number;

const NUL = "\u0000";
const LONE = "\ud800";

beforeAll(async () => {
  app = await startApp();
  room = await buildRoom(app);
  threadId = (await openThread(app, room.owner, room.member, room.workspaceId)).id;
  messageId = (await post(app, room.owner, room.channelId, "first")).id;
  directMessageId = (await postDm(app, room.owner, threadId, "first")).id;
});
afterAll(async () => {
  await app?.close();
});

const nulIssue = (...loc: (string | number)[]) => ({
  loc,
  msg: "must not contain NUL characters (U+0000)",
  type: "value_error.str.nul",
});
const surrogateIssue = (...loc: (string | number)[]) => ({
  loc,
  msg: "must be valid Unicode (it contains a lone surrogate)",
  type: "value_error.str.surrogate",
});

describe("REST: a NUL character is a 422 naming where it is", () => {
  it("in the login form and the registration body", async () => {
    const login = await api(app).post("/auth/login", {
      form: { username: `a${NUL}@example.com`, password: "x" },
    });
    expect(login.status).toBe(422);
    expect(login.body).toEqual({ detail: [nulIssue("body", "username")] });

    const password = await api(app).post("/auth/login", {
      form: { username: room.owner.email, password: `${room.owner.password}${NUL}` },
    });
    expect(password.body).toEqual({ detail: [nulIssue("body", "password")] });

    const register = await api(app).post("/auth/register", {
      json: { email: "nul@example.com", password: `secret${NUL}12`, display_name: "Nul" },
    });
    expect(register.status).toBe(422);
    expect(register.body).toEqual({ detail: [nulIssue("body", "password")] });
  });

  it("in channel and DM posts and edits, client_id included", async () => {
    const owner = as(app, room.owner);
    const cases = [
      ["post", `/channels/${room.channelId}/messages`, { content: `a${NUL}b` }, ["body", "content"]],
      [
        "post",
        `/channels/${room.channelId}/messages`,
        { content: "ok", client_id: NUL },
        ["body", "client_id"],
      ],
      ["patch", `/channels/${room.channelId}/messages/${messageId}`, { content: NUL }, ["body", "content"]],
      ["post", `/dm/threads/${threadId}/messages`, { content: `${NUL}` }, ["body", "content"]],
      [
        "patch",
        `/dm/threads/${threadId}/messages/${directMessageId}`,
        { content: `x${NUL}` },
        ["body", "content"],
      ],
      ["post", "/workspaces", { name: `w${NUL}` }, ["body", "name"]],
      [
        "post",
        "/friends/requests",
        { addressee_display_name: `x${NUL}` },
        ["body", "addressee_display_name"],
      ],
    ] as const;
    for (const [method, path, json, loc] of cases) {
      const res = await owner.request(method.toUpperCase(), path, { json });
      expect(res.status, `${method} ${path}: ${res.text}`).toBe(422);
      expect(res.body).toEqual({ detail: [nulIssue(...loc)] });
    }
    // Nothing was stored on the way.
    const [stored] = await app.sql`select count(*)::int as n from messages where content like ${"%\\u0000%"}`;
    expect(stored?.n).toBe(0);
  });

  it("in a key of a nested body, as deep as it is", async () => {
    const res = await as(app, room.owner).post(`/channels/${room.channelId}/messages`, {
      json: { content: "ok", extra: { list: [1, { [`k${NUL}`]: true }] } },
    });
    expect(res.status).toBe(422);
    expect(res.body).toEqual({ detail: [nulIssue("body", "extra", "list", 1, `k${NUL}`)] });
  });

  it("in a path segment or a query string, on the searches and the session route", async () => {
    const owner = as(app, room.owner);
    const cases: [string, (string | number)[]][] = [
      ["/auth/sessions/%00", ["path", "session_id"]],
      ["/users/by-username/a%00b", ["path", "username"]],
      ["/users/by-display-name/%00", ["path", "display_name"]],
      // An escape that is not UTF-8 beside it: decoded run by run, as the router does.
      ["/users/by-display-name/x%ED%BF%BF0-%00", ["path", "display_name"]],
      ["/users/search?q=a%00", ["query", "q"]],
      ["/friends?q=%00", ["query", "q"]],
      ["/dm/threads?q=%00", ["query", "q"]],
      [`/channels/${room.channelId}/messages?x%00=1`, ["query", `x${NUL}`]],
    ];
    for (const [path, loc] of cases) {
      const method = path.startsWith("/auth/sessions/") ? "DELETE" : "GET";
      const res = await owner.request(method, path);
      expect(res.status, `${method} ${path}: ${res.text}`).toBe(422);
      expect(res.body).toEqual({ detail: [nulIssue(...loc)] });
    }
  });

  it("leaves unknown paths a 404", async () => {
    expect((await as(app, room.owner).get("/no/such/%00")).status).toBe(404);
  });
});

describe("REST: text the database would change", () => {
  it("refuses a lone surrogate instead of storing U+FFFD", async () => {
    // JSON.stringify writes a lone surrogate as the escape \ud800, which JSON.parse turns back into one.
    const res = await as(app, room.owner).post("/workspaces", { json: { name: `w${LONE}x` } });
    expect(res.status).toBe(422);
    expect(res.body).toEqual({ detail: [surrogateIssue("body", "name")] });
    const message = await as(app, room.owner).post(`/channels/${room.channelId}/messages`, {
      raw: '{"content":"half \\udc00 a pair"}',
      headers: { "Content-Type": "application/json" },
    });
    expect(message.body).toEqual({ detail: [surrogateIssue("body", "content")] });
    // A whole pair is a character like any other.
    const emoji = await as(app, room.owner).post(`/channels/${room.channelId}/messages`, {
      raw: '{"content":"\\ud83d\\ude00"}',
      headers: { "Content-Type": "application/json" },
    });
    expect(emoji.status, emoji.text).toBe(200);
    expect(emoji.body.content).toBe("😀");
  });

  it("refuses a body that is not UTF-8", async () => {
    const bytes = Buffer.concat([Buffer.from('{"content":"caf'), Buffer.from([0xe9]), Buffer.from('"}')]);
    const latin1 = await app.fetch(`/channels/${room.channelId}/messages`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${room.owner.accessToken}` },
      body: bytes,
    });
    expect(latin1.status).toBe(422);
    expect(await latin1.json()).toEqual({
      detail: [{ loc: ["body"], msg: "the body is not valid UTF-8", type: "value_error.unicode" }],
    });
  });
});

describe("sockets: an error event, and the socket stays open", () => {
  it("answers NUL and lone surrogates in a channel or DM message frame with an error event", async () => {
    const chat = await joinChat(app, room, room.owner);
    const dm = await joinDm(app, threadId, room.owner);
    for (const socket of [chat, dm]) {
      socket.send({ type: "message", content: `a${NUL}b`, client_id: "c1" });
      expect(await socket.next("error")).toEqual({
        type: "error",
        payload: {
          code: "invalid_content",
          detail: "content must not contain NUL characters (U+0000)",
          field: "content",
          client_id: "c1",
        },
      });
      socket.sendText('{"type":"message","content":"x\\ud800"}');
      expect((await socket.next("error")).payload).toMatchObject({
        code: "invalid_content",
        detail: "content must be valid Unicode (it contains a lone surrogate)",
      });
      socket.send({ type: "message", content: "fine", client_id: `id${NUL}` });
      expect((await socket.next("error")).payload).toMatchObject({
        code: "invalid_field",
        field: "client_id",
      });
      // Still open and working.
      socket.send({ type: "message", content: "after the bad frames" });
      expect((await socket.next("message")).payload).toMatchObject({ content: "after the bad frames" });
    }
    for (const socket of [chat, dm]) await socket.close();
    expect(app.logs.join("\n")).not.toContain("socket frame failed");
  });
});

/**
 * The conversation socket's contract, for channels (/ws/chat) and threads (/ws/dm) alike
 * (docs/original-defects.md#d2-channel-socket-authorization, docs/original-defects.md#d3-private-channels,
 * docs/original-defects.md#d7-socket-sessions-and-expiry, docs/original-defects.md#d14-rate-limit-bypass,
 * docs/original-defects.md#d21-bad-socket-frames): the handshake's refusals, good and bad frames, typing,
 * read frames, idempotent sends, edit and delete events, a user's last leave, and closing sockets whose
 * session or token ended. What only one kind does is in test/messages/chat-socket.test.ts and
 * test/dm/socket.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { api, as } from "../support/http";
import { closeFrame, expectNothingPending, idOf, probe, refusal, take } from "../support/sockets";
import { accessTokenExpiringIn, jwtPayload, login } from "../support/users";
import { connectSocket, rawHandshake, withoutReactions } from "../support/ws";
import { type ConversationKind, KINDS } from "./kinds";

let app: TestApp;

beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => {
  await app?.close();
});

describe.each(KINDS)("$kind", ({ build }) => {
  let kind: ConversationKind;

  beforeAll(async () => {
    kind = await build(app);
  });

  describe("handshake", () => {
    it("refuses everyone else with 403 before the upgrade, naming the reason", async () => {
      const { main } = kind;
      const user = main.a;
      const revoked = await login(app, user.email, user.password);
      expect((await api(app, { token: revoked.access_token }).post("/auth/logout")).status).toBe(204);
      const expired = await accessTokenExpiringIn(user, -10);
      const cases: [string, string, string][] = [
        ["anonymous", kind.socketPath(main), "Not authenticated"],
        ["empty token", kind.socketPath(main, ""), "Not authenticated"],
        ["malformed token", kind.socketPath(main, "not-a-jwt"), "Invalid authentication"],
        ["refresh token", kind.socketPath(main, user.refreshToken), "Invalid authentication"],
        ["expired token", kind.socketPath(main, expired), "Invalid authentication"],
        ["revoked session", kind.socketPath(main, revoked.access_token), "Session revoked"],
        ...kind.refusedHandshakes(),
      ];
      for (const [label, path, detail] of cases) {
        expect(await rawHandshake(app.url, path), label).toEqual({ status: 403, body: { detail } });
        expect(await refusal(`${app.url.replace(/^http/, "ws")}${path}`), label).toBe(403);
      }
    });

    it("answers a plain GET with 426, and a malformed since with 422", async () => {
      const { main } = kind;
      const res = await api(app).get(kind.socketPath(main, main.a.accessToken));
      expect(res).toMatchObject({
        status: 426,
        body: { detail: "This endpoint only accepts WebSocket upgrades" },
      });
      for (const since of ["abc", "-1", "1.5", "99999999999"]) {
        const refused = await rawHandshake(
          app.url,
          kind.socketPath(main, main.a.accessToken, `&since=${since}`),
        );
        expect(refused.status, since).toBe(422);
        expect(refused.body).toMatchObject({ detail: [{ loc: ["query", "since"] }] });
      }
    });

    it("accepts the token as the subprotocol list [bearer, token] and answers 'bearer'", async () => {
      const c = await kind.fresh();
      const socket = await connectSocket(kind.socketUrl(c), { protocols: ["bearer", c.a.accessToken] });
      expect(socket.socket.protocol).toBe("bearer");
      const message = await kind.post(c, c.b, "hello bearer");
      expect((await socket.next("message")).payload).toMatchObject({ id: message.id });
      await socket.close();
      for (const protocols of [
        ["bearer"],
        ["bearer", c.a.refreshToken],
        ["bearer", kind.outsider.accessToken],
      ]) {
        expect(await refusal(kind.socketUrl(c), { protocols }), protocols.join(" ").slice(0, 20)).toBe(403);
      }
    });

    it("never writes the token to the log", async () => {
      const c = await kind.fresh();
      const socket = await kind.join(c, c.a);
      await socket.close();
      await refusal(kind.socketUrl(c, { token: c.a.refreshToken }));
      const logs = app.logs.join("\n");
      expect(logs).toContain(kind.endpoint);
      expect(logs).not.toContain(c.a.accessToken);
      expect(logs).not.toContain(c.a.refreshToken);
    });
  });

  describe("frames", () => {
    it("stores a message frame and echoes it to every socket, sender included, with client_id; a REST post is broadcast alike", async () => {
      const c = await kind.fresh();
      const sender = await kind.join(c, c.a);
      const other = await kind.join(c, c.b);
      sender.send({ type: "message", content: "over the socket", client_id: "client:1" });
      const expected = {
        ...withoutReactions(kind.restShape(c, c.a, "over the socket", "client:1")),
        ...kind.eventExtras(c, c.a),
        created_at: expect.any(String),
      };
      for (const socket of [sender, other]) {
        expect(await socket.next("message")).toEqual({ type: "message", payload: expected });
      }
      expect(await kind.stored(c)).toEqual(["over the socket"]);
      const rest = await kind.post(c, c.b, "over REST", "client:2");
      for (const socket of [sender, other]) {
        expect((await socket.next("message")).payload).toEqual({
          ...withoutReactions(rest),
          ...kind.eventExtras(c, c.b),
        });
      }
      await sender.close();
      await other.close();
    });

    it("answers bad frames with an error event, stores nothing, and keeps the socket open", async () => {
      const c = await kind.fresh();
      const socket = await kind.join(c, c.a);
      const cases: [string | Buffer, string][] = [
        ["{not json", "invalid_json"],
        ["ping", "invalid_json"],
        ["[1,2,3]", "invalid_frame"],
        ["null", "invalid_frame"],
        ["42", "invalid_frame"],
        ['"message"', "invalid_frame"],
        [Buffer.from([1, 2, 3]), "invalid_frame"],
        ['{"type":"launch"}', "unknown_type"],
        ['{"no":"type"}', "unknown_type"],
        ['{"type":7}', "unknown_type"],
        ['{"type":"message"}', "invalid_content"],
        ['{"type":"message","content":""}', "invalid_content"],
        ['{"type":"message","content":"   "}', "invalid_content"],
        ['{"type":"message","content":42}', "invalid_content"],
        ['{"type":"message","content":{"text":"hi"}}', "invalid_content"],
        [JSON.stringify({ type: "message", content: "x".repeat(4001) }), "invalid_content"],
        ['{"type":"message","content":"ok","client_id":5}', "invalid_field"],
        [JSON.stringify({ type: "message", content: "ok", client_id: "c".repeat(129) }), "invalid_field"],
        ['{"type":"typing","is_typing":"false"}', "invalid_field"],
        ['{"type":"typing","is_typing":1}', "invalid_field"],
        ['{"type":"typing","is_typing":null}', "invalid_field"],
        ['{"type":"read","last_read_message_id":-1}', "invalid_field"],
        ['{"type":"read","last_read_message_id":"x"}', "invalid_field"],
        ['{"type":"read","last_read_message_id":1.5}', "invalid_field"],
        ['{"type":"read"}', "invalid_field"],
        ...kind.readIdsBelowMinimum.map((id): [string, string] => [
          JSON.stringify({ type: "read", last_read_message_id: id }),
          "invalid_field",
        ]),
      ];
      for (const [frame, code] of cases) {
        socket.socket.send(frame);
        const error = await socket.next("error");
        expect(error.payload, String(frame).slice(0, 40)).toMatchObject({ code, detail: expect.any(String) });
      }
      // No frame crashed anything: the socket works and nothing was stored or broadcast.
      expect(socket.socket.readyState).toBe(socket.socket.OPEN);
      socket.send({ type: "message", content: "still fine", client_id: "c" });
      expect((await socket.next("message")).payload).toMatchObject({ content: "still fine", client_id: "c" });
      expect(socket.pending().filter((f) => ["typing", "message", "read"].includes(f.type))).toEqual([]);
      expect(await kind.stored(c)).toEqual(["still fine"]);
      await socket.close();
    });

    it("echoes the client_id of a refused message so the client can drop its optimistic copy", async () => {
      const c = await kind.fresh();
      const socket = await kind.join(c, c.a);
      socket.send({ type: "message", content: "", client_id: "client:empty" });
      expect((await socket.next("error")).payload).toMatchObject({
        code: "invalid_content",
        client_id: "client:empty",
      });
      await socket.close();
    });

    it("answers the web app's exact ping with a pong and ignores other pings", async () => {
      const c = await kind.fresh();
      const socket = await kind.join(c, c.a);
      const other = await kind.join(c, c.b);
      socket.sendText('{"type":"ping"}');
      expect(await socket.next("pong")).toEqual({ type: "pong", payload: {} });
      socket.sendText('{ "type": "ping", "extra": true }');
      await expectNothingPending(socket, other, "error");
      expect(socket.pending().filter((f) => f.type === "pong")).toEqual([]);
      await socket.close();
      await other.close();
    });

    it("broadcasts typing with a real boolean (true by default) to every socket", async () => {
      const c = await kind.fresh();
      const typist = await kind.join(c, c.a);
      const watcher = await kind.join(c, c.b);
      for (const [frame, isTyping] of [
        [{ type: "typing", is_typing: true }, true],
        [{ type: "typing", is_typing: false }, false],
        [{ type: "typing" }, true],
      ] as const) {
        typist.send(frame);
        for (const socket of [watcher, typist]) {
          expect(await socket.next("typing")).toEqual({
            type: "typing",
            payload: { user_id: c.a.id, display_name: c.a.displayName, is_typing: isTyping },
          });
        }
      }
      await typist.close();
      await watcher.close();
    });

    it("moves the stored read pointer with a read frame, forward only and no further than the newest message, and tells the reader", async () => {
      const c = await kind.fresh();
      const zero = await kind.post(c, c.a, "zero");
      const first = await kind.post(c, c.a, "one");
      const second = await kind.post(c, c.a, "two");
      const reader = await kind.join(c, c.b);
      reader.send({ type: "read", last_read_message_id: first.id });
      expect(await reader.next("read")).toEqual({
        type: "read",
        payload: kind.readEvent(c, c.b, first.id, 1),
      });
      expect(await kind.readPointer(c, c.b)).toBe(first.id);
      // A numeric string is accepted; an older id does not move the pointer back.
      reader.send({ type: "read", last_read_message_id: String(first.id) });
      expect((await reader.next("read")).payload).toMatchObject({ last_read_message_id: first.id });
      reader.send({ type: "read", last_read_message_id: zero.id });
      expect((await reader.next("read")).payload).toMatchObject({ last_read_message_id: first.id });
      // A made-up future id stops at the newest message.
      reader.send({ type: "read", last_read_message_id: 2_000_000_000 });
      expect(await reader.next("read")).toEqual({
        type: "read",
        payload: kind.readEvent(c, c.b, second.id, 0),
      });
      expect(await kind.readPointer(c, c.b)).toBe(second.id);
      await reader.close();
    });
  });

  describe("idempotent sends", () => {
    it("answers a repeated client_id on the sender's socket only, sharing the record with REST", async () => {
      const c = await kind.fresh();
      const sender = await kind.join(c, c.a);
      const other = await kind.join(c, c.b);
      sender.send({ type: "message", content: "once", client_id: "client:once" });
      const first = await sender.next("message");
      expect((await other.next("message")).payload).toEqual(first.payload);
      sender.send({ type: "message", content: "once", client_id: "client:once" });
      expect(await sender.next("message")).toEqual(first);
      await expectNothingPending(other, sender, "message");
      // REST shares the record: the same client_id from the same user is the same message.
      expect((await kind.post(c, c.a, "once", "client:once")).id).toBe(idOf(first));
      expect(await kind.stored(c)).toEqual(["once"]);
      await sender.close();
      await other.close();
    });

    it("stores one message when the same client_id arrives over sockets and REST at once", async () => {
      const c = await kind.fresh();
      const sockets = await Promise.all([1, 2, 3].map(() => kind.join(c, c.a)));
      for (const socket of sockets)
        socket.send({ type: "message", content: "dup", client_id: "client:storm" });
      const rest = await Promise.all(
        [1, 2, 3].map(() =>
          as(app, c.a).post(kind.messagesPath(c), { json: { content: "dup", client_id: "client:storm" } }),
        ),
      );
      const ids = new Set(rest.map((r) => r.body.id));
      for (const socket of sockets) ids.add(idOf(await socket.next("message")));
      expect(ids.size).toBe(1);
      expect(await kind.stored(c)).toEqual(["dup"]);
      for (const socket of sockets) await socket.close();
    });
  });

  describe("edits and deletes as events", () => {
    it("broadcasts message.updated and message.deleted, without the deleted content", async () => {
      const c = await kind.fresh();
      const watcher = await kind.join(c, c.b);
      const message = await kind.post(c, c.a, "draft");
      await watcher.next("message");
      const edit = await as(app, c.a).patch(`${kind.messagesPath(c)}/${message.id}`, {
        json: { content: "final" },
      });
      expect(edit.status, edit.text).toBe(200);
      expect(await watcher.next("message.updated")).toEqual({
        type: "message.updated",
        payload: { ...withoutReactions(edit.body), ...kind.eventExtras(c, c.a) },
      });
      expect((await as(app, c.a).delete(`${kind.messagesPath(c)}/${message.id}`)).status).toBe(204);
      const deleted = await watcher.next("message.deleted");
      expect(deleted.payload).toMatchObject({
        id: message.id,
        ...kind.conversationField(c),
        ...kind.eventExtras(c, c.a),
        content: "",
        is_deleted: true,
      });
      expect(JSON.stringify(deleted)).not.toContain("final");
      // A refused change broadcasts nothing.
      const refused = await as(app, c.a).patch(`${kind.messagesPath(c)}/${message.id}`, {
        json: { content: "x" },
      });
      expect(refused.status).toBe(404);
      const typist = await kind.join(c, c.a);
      await expectNothingPending(watcher, typist, "message.updated");
      await watcher.close();
      await typist.close();
    });
  });

  describe("presence", () => {
    it("announces a user gone once, when their last socket closes, and not while another tab is open", async () => {
      const c = await kind.fresh();
      const watcher = await kind.join(c, c.a);
      const tab1 = await kind.join(c, c.b);
      const tab2 = await kind.join(c, c.b);
      // The watcher's own join, the other user's first, and (where every join is told) the second.
      await take(watcher, "presence", kind.announcesEveryJoin ? 3 : 2);
      await tab1.close();
      await expect.poll(async () => (await probe(app, kind.name, c.id)).sockets, { timeout: 5_000 }).toBe(2);
      await expectNothingPending(watcher, tab2, "presence");
      await tab2.close();
      expect(await watcher.next("presence")).toEqual({
        type: "presence",
        payload: { user_id: c.b.id, online: false },
      });
      await watcher.close();
    });
  });

  describe("closing sockets that lost their right to exist", () => {
    it("closes the sockets of a revoked session, and only those", async () => {
      const c = await kind.fresh();
      const session = await login(app, c.a.email, c.a.password);
      const doomed = await kind.join(c, { ...c.a, accessToken: session.access_token });
      const kept = await kind.join(c, c.a);
      const sid = String(jwtPayload(session.access_token).sid);
      expect((await as(app, c.a).delete(`/auth/sessions/${sid}`)).status).toBe(204);
      // Pushed to the conversation through the user's feed (test/realtime/revocation.test.ts
      // proves it is the push, not the sweeps' safety net, that closes it).
      expect(await closeFrame(doomed, 10_000)).toEqual({ code: 1008, reason: "Session revoked" });
      const message = await kind.post(c, c.b, "still here");
      expect((await kept.next("message")).payload).toMatchObject({ id: message.id });
      await kept.close();
    }, 15_000);

    it("closes a socket when its access token expires", async () => {
      const c = await kind.fresh();
      const socket = await kind.join(c, c.a, { token: await accessTokenExpiringIn(c.a, 2) });
      expect(await closeFrame(socket, 10_000)).toEqual({ code: 1008, reason: "Token expired" });
    }, 15_000);
  });
});

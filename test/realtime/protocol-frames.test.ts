/**
 * The socket protocol as published (issue 15, item 3): real sockets on /ws/chat, /ws/dm and
 * /ws/notifications, every event type driven through real routes and frames (error events and a
 * resync included), every frame received and sent recorded (frame-recorder.ts), and each checked
 * against /asyncapi.json as the Worker serves it, with a JSON Schema validator (ajv):
 *
 *   - a received frame must be an event of its socket's `send` operation (a type the document
 *     does not list fails) and validate against that event's schema;
 *   - a sent frame the server's parser accepted must validate against exactly one of its socket's
 *     `receive` messages, and one it refused as invalid against none;
 *   - every close the server initiated must be one of `x-close-codes` (code and reason);
 *   - and the other way round: every event and frame type the document lists for a socket was
 *     seen at least once, so the document lists nothing the server does not do.
 *
 * The missed messages of the two resyncs are inserted with SQL: the limits allow 20 messages per
 * 10 s, and a resync needs more than 200 (the events themselves come from real handshakes).
 */

import { Ajv, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { api } from "../support/http";
import { closeFrame } from "../support/sockets";
import { accessTokenExpiringIn, login, registerUser, type TestUser } from "../support/users";
import { connectSocket, type SocketFrame } from "../support/ws";
import { FrameRecorder, type RecordedSocket, type SocketKey, type Verdict } from "./frame-recorder";

/** The DM limit, low so that a burst meets it within one 10 s window or the next. */
const DM_LIMIT = 4;

let app: TestApp;
const recorder = new FrameRecorder();
let owner: TestUser;
let member: TestUser;
let workspaceId: number;

const as = (user: TestUser, token = user.accessToken) => api(app, { token });

async function ok<T = any>(promise: Promise<{ status: number; body: T; text: string }>, expected = 200) {
  const res = await promise;
  expect(res.status, res.text).toBe(expected);
  return res.body;
}

const wsBase = () => app.url.replace(/^http/, "ws");
const chatUrl = (channelId: number, query = "") => `${wsBase()}/ws/chat/${workspaceId}/${channelId}${query}`;

async function open(key: SocketKey, path: string, token: string, how: "query" | "subprotocol" = "query") {
  const url = `${wsBase()}${path}`;
  const socket =
    how === "query"
      ? await connectSocket(`${url}${url.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}`)
      : await connectSocket(url, { protocols: ["bearer", token] });
  return recorder.attach(key, socket);
}

const chat = (user: TestUser, channelId: number, query = "", how: "query" | "subprotocol" = "query") =>
  open("chat", `/ws/chat/${workspaceId}/${channelId}${query}`, user.accessToken, how);
const dm = (user: TestUser, threadId: number, query = "") =>
  open("dm", `/ws/dm/${threadId}${query}`, user.accessToken);
const notifications = (user: TestUser, token = user.accessToken) =>
  open("notifications", "/ws/notifications", token);

async function invite(by: TestUser, toWorkspace: number, user: TestUser): Promise<number> {
  return (
    await ok(
      as(by).post(`/workspaces/${toWorkspace}/invites`, { json: { invitee_display_name: user.displayName } }),
    )
  ).id;
}

async function newChannel(name: string, isPrivate = false): Promise<number> {
  return (
    await ok(
      as(owner).post(`/workspaces/${workspaceId}/channels`, {
        json: { name: `${name}-${Date.now()}`, is_private: isPrivate },
      }),
    )
  ).id;
}

/** Sends a frame the server must answer with an error event, and returns its payload. */
async function refused(socket: RecordedSocket, frame: unknown, code: string, verdict: Verdict = "invalid") {
  socket.sendAs(verdict, frame);
  const error = (await socket.next("error")).payload as { code: string };
  expect(error.code).toBe(code);
  return error;
}

const payloadOf = <T = Record<string, unknown>>(frame: SocketFrame) => frame.payload as T;

beforeAll(async () => {
  app = await startApp({ env: { RATE_LIMIT_DM_MESSAGE_PER_10_SECONDS: String(DM_LIMIT) } });
  [owner, member] = await Promise.all([
    registerUser(app, { displayName: "Owen" }),
    registerUser(app, { displayName: "Mia" }),
  ]);
  workspaceId = (await ok(as(owner).post("/workspaces", { json: { name: "Frames" } }))).id;
  await ok(as(member).post(`/invites/${await invite(owner, workspaceId, member)}/accept`));
});
afterAll(async () => {
  await app?.close();
});

describe("driving every frame and event", () => {
  it("on a channel socket", async () => {
    const channelId = await newChannel("general");
    const mine = await chat(owner, channelId);
    await mine.next("presence");
    // The token as subprotocols, as a browser should send it.
    const theirs = await chat(member, channelId, "", "subprotocol");
    expect(theirs.socket.protocol).toBe("bearer");
    await mine.next("presence");

    mine.sendText('{"type":"ping"}');
    await mine.next("pong");
    mine.send({ type: "ping", at: 1 }); // accepted, not answered (only the exact text is)
    mine.send({ type: "typing" });
    expect(payloadOf(await theirs.next("typing"))).toMatchObject({ user_id: owner.id, is_typing: true });
    mine.send({ type: "typing", is_typing: false });
    await theirs.next("typing");

    mine.send({ type: "message", content: "hello", client_id: "rec-1" });
    const sent = payloadOf<{ id: number; client_id: string }>(await mine.next("message"));
    expect(sent.client_id).toBe("rec-1");
    await theirs.next("message");
    mine.send({ type: "message", content: "hello again?", client_id: "rec-1" });
    expect(payloadOf(await mine.next("message")).id).toBe(sent.id); // replayed, not stored twice

    const rest = await ok(
      as(member).post(`/channels/${channelId}/messages`, { json: { content: "from REST" } }),
    );
    await mine.next("message");
    mine.send({ type: "read", last_read_message_id: rest.id });
    expect(payloadOf(await mine.next("read"))).toMatchObject({ channel_id: channelId, unread_count: 0 });
    mine.send({ type: "read", last_read_message_id: ` ${rest.id} ` });
    await mine.next("read");

    await ok(as(owner).patch(`/channels/${channelId}/messages/${sent.id}`, { json: { content: "edited" } }));
    await theirs.next("message.updated");
    await ok(as(owner).delete(`/channels/${channelId}/messages/${sent.id}`), 204);
    await theirs.next("message.deleted");

    await refused(mine, "{not json", "invalid_json");
    await refused(mine, new Uint8Array([1, 2, 3]), "invalid_frame");
    await refused(mine, "[1,2]", "invalid_frame");
    await refused(mine, { type: "launch" }, "unknown_type");
    await refused(mine, { type: "typing", is_typing: "yes" }, "invalid_field");
    await refused(mine, { type: "read", last_read_message_id: -1 }, "invalid_field");
    await refused(mine, { type: "message", content: "hi", client_id: 7 }, "invalid_field");
    // The newcomer's frame of the issue: fields belong at the top level.
    await refused(mine, { type: "message", payload: { content: "hi" } }, "invalid_content");
    await refused(mine, { type: "message", content: " \n " }, "invalid_content");

    await theirs.close();
    expect(payloadOf(await mine.next("presence"))).toEqual({ user_id: member.id, online: false });
    await mine.close();
  });

  it("on a channel socket: an archived channel, a resync, and the frame budget", async () => {
    const archived = await newChannel("archived");
    const socket = await chat(owner, archived);
    await ok(as(owner).patch(`/channels/${archived}`, { json: { is_archived: true } }));
    // A valid frame whose write is refused: the document says what may be sent, not when.
    const frame = { type: "message", content: "too late", client_id: "rec-archived" };
    const error = await refused(socket, frame, "forbidden", "valid");
    expect(error).toMatchObject({ detail: "Channel is archived", client_id: "rec-archived" });

    const busy = await newChannel("busy");
    await app.sql`
      INSERT INTO messages (channel_id, user_id, content, is_edited, is_deleted, created_at)
      SELECT ${busy}, ${owner.id}, 'missed ' || n, false, false, now() FROM generate_series(1, 201) AS n`;
    const late = await chat(member, busy, "?since=0");
    expect(payloadOf(await late.next("resync"))).toMatchObject({ reason: "too_many_missed", since: 0 });
    await late.close();

    // Over the frame budget: dropped frames are told once (rate_limited), then the socket closes.
    const flood = await chat(member, busy);
    for (let i = 0; i < 300; i++) flood.send({ type: "ping", n: i });
    expect(payloadOf(await flood.next("error"))).toEqual({
      code: "rate_limited",
      detail: "Too many frames; slow down",
    });
    expect(await closeFrame(flood, 10_000)).toEqual({ code: 1008, reason: "Too many frames" });

    await ok(as(owner).delete(`/channels/${archived}`), 204);
    expect(await closeFrame(socket, 5_000)).toEqual({ code: 1008, reason: "Channel deleted" });
  });

  it("on a thread socket", async () => {
    const thread = await ok(
      as(owner).post("/dm/threads", { json: { workspace_id: workspaceId, user_id: member.id } }),
    );
    const mine = await dm(owner, thread.id);
    const theirs = await dm(member, thread.id);
    await mine.next("presence");

    mine.sendText('{"type":"ping"}');
    await mine.next("pong");
    mine.send({ type: "typing", is_typing: true });
    await theirs.next("typing");

    mine.send({ type: "message", content: "psst", client_id: "dm-1" });
    const sent = payloadOf<{ id: number; sender_id: number }>(await theirs.next("message"));
    expect(sent.sender_id).toBe(owner.id);
    await mine.next("message");
    mine.send({ type: "message", content: "psst?", client_id: "dm-1" });
    expect(payloadOf(await mine.next("message")).id).toBe(sent.id);
    const rest = await ok(
      as(member).post(`/dm/threads/${thread.id}/messages`, { json: { content: "REST" } }),
    );
    await mine.next("message");

    mine.send({ type: "read", last_read_message_id: rest.id });
    expect(payloadOf(await theirs.next("read"))).toEqual({
      thread_id: thread.id,
      user_id: owner.id,
      last_read_message_id: rest.id,
    });
    await ok(
      as(owner).patch(`/dm/threads/${thread.id}/messages/${sent.id}`, { json: { content: "edited" } }),
    );
    await theirs.next("message.updated");
    await ok(as(owner).delete(`/dm/threads/${thread.id}/messages/${sent.id}`), 204);
    await theirs.next("message.deleted");

    await refused(mine, { type: "read", last_read_message_id: 0 }, "invalid_field");
    await refused(mine, { type: "read", last_read_message_id: "0" }, "invalid_field");
    await refused(mine, { type: "message" }, "invalid_content");
    await refused(mine, { no: "type" }, "unknown_type");

    // The message limit: a burst meets it within this window or the next. Each frame is valid; the
    // limit refuses the write.
    const burst = await dm(owner, thread.id);
    await burst.next("presence");
    let limited: SocketFrame | undefined;
    for (let i = 0; i < 2 * DM_LIMIT + 1 && !limited; i++) {
      burst.send({ type: "message", content: `burst ${i}`, client_id: `burst-${i}` });
      const answer = await burst.next();
      if (answer.type === "error") limited = answer;
      else expect(answer.type).toBe("message");
    }
    expect(limited?.payload).toMatchObject({ code: "rate_limited", detail: "Too many requests" });
    await burst.close();

    await app.sql`
      INSERT INTO direct_messages (thread_id, sender_id, content)
      SELECT ${thread.id}, ${member.id}, 'missed ' || n FROM generate_series(1, 201) AS n`;
    const late = await dm(owner, thread.id, `?since=${rest.id}`);
    expect(payloadOf(await late.next("resync"))).toMatchObject({ reason: "too_many_missed", since: rest.id });
    await late.close();
    await mine.close();
    await theirs.close();
  });

  it("threads, reactions and mentions, on channel, thread and notification sockets", async () => {
    const channelId = await newChannel("threads");
    const mine = await chat(owner, channelId);
    const theirs = await chat(member, channelId);
    await mine.next("presence");
    const toMember = await notifications(member);

    mine.send({ type: "message", content: `a root for @${member.displayName}`, client_id: "root-1" });
    const root = payloadOf<{ id: number }>(await mine.next("message"));
    await theirs.next("message");
    expect(payloadOf(await toMember.next("mention"))).toMatchObject({ channel_id: channelId, via: "user" });
    mine.send({ type: "message", content: "a reply", parent_id: root.id, client_id: "reply-1" });
    const reply = payloadOf<{ id: number; parent_id: number }>(await theirs.next("message"));
    expect(reply.parent_id).toBe(root.id);
    expect(payloadOf(await theirs.next("thread.updated"))).toMatchObject({
      message_id: root.id,
      reply_count: 1,
    });
    const nested = { type: "message", content: "nested", parent_id: reply.id, client_id: "nested-1" };
    expect(await refused(mine, nested, "invalid_parent", "valid")).toMatchObject({ client_id: "nested-1" });
    await refused(
      mine,
      { type: "message", content: "bad", parent_id: "1", client_id: "bad-1" },
      "invalid_field",
    );

    const emoji = encodeURIComponent("👍");
    await ok(as(member).put(`/channels/${channelId}/messages/${root.id}/reactions/${emoji}`));
    expect(payloadOf(await mine.next("reaction.added"))).toMatchObject({ message_id: root.id, count: 1 });
    await ok(as(member).delete(`/channels/${channelId}/messages/${root.id}/reactions/${emoji}`));
    expect(payloadOf(await mine.next("reaction.removed"))).toMatchObject({ message_id: root.id, count: 0 });

    // A thread of its own: the thread test's burst has used up the owner's DM limit there.
    const tess = await registerUser(app, { displayName: "Tess" });
    await ok(as(tess).post(`/invites/${await invite(owner, workspaceId, tess)}/accept`));
    const toTess = await notifications(tess);
    const thread = await ok(
      as(member).post("/dm/threads", { json: { workspace_id: workspaceId, user_id: tess.id } }),
    );
    const onThread = await dm(tess, thread.id);
    const rootDm = await ok(
      as(member).post(`/dm/threads/${thread.id}/messages`, {
        json: { content: `@${tess.displayName} dm root` },
      }),
    );
    await onThread.next("message");
    expect(payloadOf(await toTess.next("mention"))).toMatchObject({ thread_id: thread.id, via: "user" });
    await ok(
      as(member).post(`/dm/threads/${thread.id}/messages`, {
        json: { content: "dm reply", parent_id: rootDm.id },
      }),
    );
    expect(payloadOf(await onThread.next("thread.updated"))).toMatchObject({
      thread_id: thread.id,
      reply_count: 1,
    });
    await ok(as(member).put(`/dm/threads/${thread.id}/messages/${rootDm.id}/reactions/${emoji}`));
    await onThread.next("reaction.added");
    await ok(as(member).delete(`/dm/threads/${thread.id}/messages/${rootDm.id}/reactions/${emoji}`));
    await onThread.next("reaction.removed");
    await Promise.all([mine.close(), theirs.close(), onThread.close(), toMember.close(), toTess.close()]);
  });

  it("on notification sockets", async () => {
    const [nina, paul] = await Promise.all([
      registerUser(app, { displayName: "Nina" }),
      registerUser(app, { displayName: "Paul" }),
    ]);
    const [toNina, toPaul, toOwner] = await Promise.all([
      notifications(nina),
      notifications(paul),
      notifications(owner),
    ]);
    toNina.sendText("ping"); // the web app's keep-alive: any text, never answered

    const request = async () =>
      (await ok(as(paul).post("/friends/requests", { json: { addressee_display_name: nina.displayName } })))
        .id;
    await ok(as(paul).delete(`/friends/requests/${await request()}`), 204);
    await toNina.next("friend.requested");
    await toNina.next("friend.cancelled");
    await ok(as(nina).post(`/friends/requests/${await request()}/decline`));
    await toPaul.next("friend.declined");
    await ok(as(nina).post(`/friends/requests/${await request()}/accept`));
    await toPaul.next("friend.accepted");

    // Friends reach each other: a message while Nina has no socket on the thread is an unread one.
    const paulsWorkspace = (await ok(as(paul).post("/workspaces", { json: { name: "Paul's" } }))).id;
    const thread = await ok(
      as(paul).post("/dm/threads", { json: { workspace_id: paulsWorkspace, user_id: nina.id } }),
    );
    await ok(as(paul).post(`/dm/threads/${thread.id}/messages`, { json: { content: "hi Nina" } }));
    expect(payloadOf(await toNina.next("dm.unread"))).toEqual({ thread_id: thread.id, delta: 1 });
    // Unfriended, they reach each other no more: the thread's open socket closes.
    const paulOnThread = await dm(paul, thread.id);
    await ok(as(nina).delete(`/friends/${paul.id}`), 204);
    await toPaul.next("friend.removed");
    expect((await closeFrame(paulOnThread, 5_000)).code).toBe(1008);

    const place = (await ok(as(owner).post("/workspaces", { json: { name: "Place" } }))).id;
    await ok(as(nina).post(`/invites/${await invite(owner, place, nina)}/decline`));
    await toNina.next("invite.created");
    await toOwner.next("invite.declined");
    await ok(as(owner).delete(`/workspaces/${place}/invites/${await invite(owner, place, nina)}`), 204);
    await toNina.next("invite.cancelled");
    await ok(as(nina).post(`/invites/${await invite(owner, place, nina)}/accept`));
    await toOwner.next("invite.accepted");
    await toNina.next("workspace.member_added");
    await ok(as(owner).patch(`/workspaces/${place}/members/${nina.id}`, { json: { role: "admin" } }));
    await toNina.next("workspace.role_changed");

    const secret = (
      await ok(
        as(owner).post(`/workspaces/${place}/channels`, { json: { name: "secret", is_private: true } }),
      )
    ).id;
    await ok(as(owner).post(`/channels/${secret}/members`, { json: { user_id: nina.id } }));
    await toNina.next("channel.member_added");
    await ok(as(owner).delete(`/channels/${secret}/members/${nina.id}`), 204);
    await toNina.next("channel.member_removed");
    await ok(as(owner).delete(`/workspaces/${place}/members/${nina.id}`), 204);
    await toNina.next("workspace.member_removed");
    await ok(as(owner).delete(`/workspaces/${place}`), 204);
    await toOwner.next("workspace.deleted");

    // A logout closes the sockets of its session.
    const session = await login(app, nina.email, nina.password);
    const loggedIn = await notifications(nina, session.access_token);
    await ok(
      as(nina, session.access_token).post("/auth/logout", { json: { refresh_token: session.refresh_token } }),
      204,
    );
    expect(await closeFrame(loggedIn, 5_000)).toEqual({ code: 1008, reason: "Session revoked" });
    await Promise.all([toNina.close(), toPaul.close(), toOwner.close()]);
  });

  it("closes: an oversized frame, an expired token, a member removed", async () => {
    const channelId = await newChannel("closes");
    const big = await chat(owner, channelId);
    big.sendAs("oversized", "x".repeat(16 * 1024 + 1));
    expect(await closeFrame(big, 5_000)).toEqual({
      code: 1009,
      reason: "Frames are limited to 16384 characters",
    });

    const expiring = recorder.attach(
      "chat",
      await connectSocket(chatUrl(channelId, `?token=${await accessTokenExpiringIn(owner, 2)}`)),
    );
    expect(await closeFrame(expiring, 10_000)).toEqual({ code: 1008, reason: "Token expired" });

    const thread = await ok(
      as(owner).post("/dm/threads", { json: { workspace_id: workspaceId, user_id: member.id } }),
    );
    const [onChannel, onThread] = [await chat(member, channelId), await dm(member, thread.id)];
    await ok(as(owner).delete(`/workspaces/${workspaceId}/members/${member.id}`), 204);
    expect(await closeFrame(onChannel, 5_000)).toEqual({ code: 1008, reason: "Access revoked" });
    expect((await closeFrame(onThread, 5_000)).reason).toMatch(/^Thread is read-only/);
  });
});

describe("/asyncapi.json against the recorded frames", () => {
  interface Operation {
    messages: { $ref: string }[];
  }
  let doc: {
    operations: Record<string, Operation>;
    components: { schemas: Record<string, { properties?: { type?: { const?: string } } }> };
    "x-close-codes": { code: number; reason: string }[];
  };
  let ajv: Ajv;

  beforeAll(async () => {
    const res = await app.fetch("/asyncapi.json");
    expect(res.status).toBe(200);
    doc = await res.json();
    ajv = new Ajv({ strict: false, allErrors: true });
    addFormats.default(ajv);
    ajv.addSchema({ components: doc.components }, "asyncapi");
  });

  /** The schemas of a socket's operation, by frame type. */
  function schemasOf(socket: SocketKey, operation: "sendEvents" | "receiveFrames") {
    const byType = new Map<string, { name: string; validate: ValidateFunction }>();
    for (const { $ref } of doc.operations[`${socket}.${operation}`]?.messages ?? []) {
      const name = $ref.split("/").pop() as string;
      const validate = ajv.getSchema(`asyncapi#/components/schemas/${name}`) as ValidateFunction;
      byType.set(doc.components.schemas[name]?.properties?.type?.const ?? name, { name, validate });
    }
    return byType;
  }

  const SOCKETS: SocketKey[] = ["chat", "dm", "notifications"];

  it("every frame the server sent is an event the document lists for its socket, and matches it", () => {
    for (const socket of SOCKETS) {
      const events = schemasOf(socket, "sendEvents");
      const received = recorder.frames.filter((f) => f.socket === socket && f.direction === "received");
      const seen = new Set<string>();
      for (const frame of received) {
        const value = JSON.parse(frame.text ?? "null") as { type: string };
        const event = events.get(value.type);
        expect(
          event,
          `${socket}: the server sent \`${value.type}\`, which the document does not list`,
        ).toBeDefined();
        expect(
          event?.validate(value),
          `${socket} ${frame.text}: ${ajv.errorsText(event?.validate.errors)}`,
        ).toBe(true);
        seen.add(value.type);
      }
      // Every event the document lists for the socket was seen.
      expect([...seen].sort(), socket).toEqual([...events.keys()].sort());
    }
  });

  it("every frame a client sent matches the document if the server accepted it, and no schema if it refused it", () => {
    for (const socket of SOCKETS) {
      const frames = schemasOf(socket, "receiveFrames");
      const sent = recorder.frames.filter((f) => f.socket === socket && f.direction === "sent");
      const seen = new Set<string>();
      for (const frame of sent) {
        if (frame.verdict === "oversized" || frame.text === null) continue; // size and binary: not JSON Schema's
        const value = socket === "notifications" ? frame.text : parsed(frame.text);
        const matching = [...frames].filter(([, schema]) => schema.validate(value)).map(([type]) => type);
        if (frame.verdict === "valid") {
          expect(matching, `${socket}: ${frame.text} is valid`).toHaveLength(1);
          seen.add(matching[0] as string);
        } else expect(matching, `${socket}: ${frame.text} is invalid`).toEqual([]);
      }
      expect([...seen].sort(), socket).toEqual([...frames.keys()].sort());
    }
  });

  it("every close the server initiated is one the document lists", () => {
    const documented = doc["x-close-codes"];
    const byServer = recorder.closes.filter((c) => !c.byClient);
    for (const close of byServer) {
      expect(
        documented.some(
          (d) =>
            d.code === close.code &&
            (d.reason === close.reason || close.reason.startsWith("Thread is read-only")),
        ),
        `${close.socket}: closed with ${close.code} "${close.reason}"`,
      ).toBe(true);
    }
    expect(new Set(byServer.map((c) => `${c.code} ${c.reason.split(":")[0]}`))).toEqual(
      new Set([
        "1008 Too many frames",
        "1008 Channel deleted",
        "1008 Thread is read-only",
        "1008 Session revoked",
        "1009 Frames are limited to 16384 characters",
        "1008 Token expired",
        "1008 Access revoked",
      ]),
    );
    const counts = SOCKETS.map(
      (s) => `${s}: ${recorder.count(s, "received")} received, ${recorder.count(s, "sent")} sent`,
    );
    console.info(`recorded frames (${counts.join("; ")}), ${recorder.closes.length} closes`);
  });
});

function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text; // not JSON: matches no frame schema (they are all objects)
  }
}

/**
 * The conversation client's bookkeeping with a scripted WebSocket and fake timers: what it sends,
 * when it sends again, what it emits. Against the real server: test/realtime/client.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { WebSocketLike } from "./connection";
import { connectConversation } from "./conversation";

/** A socket the test drives: it opens when told, records what the client sends. */
class ScriptedSocket implements WebSocketLike {
  static last: ScriptedSocket;
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  onopen: ((event: never) => void) | null = null;
  onmessage: ((event: never) => void) | null = null;
  onclose: ((event: never) => void) | null = null;
  onerror: ((event: never) => void) | null = null;

  constructor(
    readonly url: string,
    readonly protocols?: string | string[],
  ) {
    ScriptedSocket.last = this;
  }
  open() {
    this.readyState = 1;
    (this.onopen as ((event: unknown) => void) | null)?.({});
  }
  deliver(type: string, payload: unknown) {
    (this.onmessage as ((event: { data: string }) => void) | null)?.({
      data: JSON.stringify({ type, payload }),
    });
  }
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.readyState = 3;
  }
  messages() {
    return this.sent.filter((frame) => frame.type === "message");
  }
}

const message = (id: number, clientId: string | null, userId = 1) => ({
  id,
  channel_id: 7,
  user_id: userId,
  content: `m${id}`,
  client_id: clientId,
  is_edited: false,
  is_deleted: false,
  created_at: "2026-12-01T00:00:00.000Z",
  updated_at: null,
  author: { id: userId, display_name: null, avatar_url: null },
  workspace_id: 1,
});

/** A send the test does not await: closing the client at the end rejects it, as it should. */
const settled = (promise: Promise<unknown>) => {
  promise.catch(() => {});
};

async function connected(options: { since?: number; ackTimeoutMs?: number; maxOutbox?: number } = {}) {
  const client = connectConversation({
    baseUrl: "https://api.example",
    token: () => "opaque-token",
    WebSocket: ScriptedSocket,
    conversation: { kind: "channel", workspaceId: 1, channelId: 7 },
    ...options,
  });
  await vi.advanceTimersByTimeAsync(0); // the token callback
  const socket = ScriptedSocket.last;
  socket.open();
  return { client, socket };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("connectConversation", () => {
  it("connects with the token as a subprotocol, and since in the URL", async () => {
    const { client, socket } = await connected({ since: 41 });
    expect(socket.url).toBe("wss://api.example/ws/chat/1/7?since=41");
    expect(socket.protocols).toEqual(["bearer", "opaque-token"]);
    client.close();
  });

  it("sends one message at a time, each after the echo of the one before", async () => {
    const { client, socket } = await connected();
    const first = client.send("one", { clientId: "c1" });
    settled(client.send("two", { clientId: "c2" }));
    expect(socket.messages()).toEqual([{ type: "message", content: "one", client_id: "c1" }]);
    socket.deliver("message", message(5, "c1"));
    expect((await first).id).toBe(5);
    expect(socket.messages().map((m) => m.client_id)).toEqual(["c1", "c2"]);
    client.close();
  });

  it("sends an unanswered message again, even when more were queued meanwhile", async () => {
    const { client, socket } = await connected({ ackTimeoutMs: 1000 });
    settled(client.send("lost", { clientId: "c1" }));
    await vi.advanceTimersByTimeAsync(500);
    settled(client.send("later", { clientId: "c2" }));
    await vi.advanceTimersByTimeAsync(600);
    expect(socket.messages().map((m) => m.client_id)).toEqual(["c1", "c1"]);
    client.close();
  });

  it("emits each message once, in id order, whatever overlaps", async () => {
    const { client, socket } = await connected({ since: 4 });
    const emitted: number[] = [];
    client.on("message", (m) => emitted.push(m.id));
    for (const id of [4, 5, 6, 5, 7, 6]) socket.deliver("message", message(id, null));
    expect(emitted).toEqual([5, 6, 7]);
    expect(client.lastSeenId).toBe(7);
    client.close();
  });

  it("retries a rate-limited message after a delay, reporting the refusal", async () => {
    const { client, socket } = await connected();
    const refusals: unknown[] = [];
    client.on("refused", (error) => refusals.push(error));
    const sent = client.send("slow down", { clientId: "c1" });
    socket.deliver("error", { code: "rate_limited", detail: "Too many requests", client_id: "c1" });
    expect(refusals).toMatchObject([
      { code: "rate_limited", willRetry: true, extra: { retryAfterMs: 1000 } },
    ]);
    await vi.advanceTimersByTimeAsync(999);
    expect(socket.messages()).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(socket.messages()).toHaveLength(2);
    socket.deliver("message", message(9, "c1"));
    expect((await sent).id).toBe(9);
    client.close();
  });

  it("rejects a message refused for good and goes on; refuses beyond the outbox", async () => {
    const { client, socket } = await connected({ maxOutbox: 2 });
    const bad = client.send(" ", { clientId: "c1" });
    const good = client.send("fine", { clientId: "c2" });
    await expect(client.send("third")).rejects.toMatchObject({ code: "outbox_full" });
    socket.deliver("error", {
      code: "invalid_content",
      detail: "content must not be empty or blank",
      client_id: "c1",
    });
    await expect(bad).rejects.toMatchObject({ code: "invalid_content", willRetry: false });
    expect(socket.messages().at(-1)).toMatchObject({ client_id: "c2" });
    socket.deliver("message", message(3, "c2"));
    expect((await good).content).toBe("m3");
    client.close();
  });

  it("sends typing on a change at once, and the same state at most every 3 s", async () => {
    const { client, socket } = await connected();
    client.typing(true);
    client.typing(true);
    await vi.advanceTimersByTimeAsync(3000);
    client.typing(true);
    client.typing(false);
    client.typing(false);
    expect(socket.sent.filter((f) => f.type === "typing").map((f) => f.is_typing)).toEqual([
      true,
      true,
      false,
    ]);
    client.close();
  });
});

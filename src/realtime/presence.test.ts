/**
 * Presence over a stand-in host: the host's open sockets are a set per user, its broadcasts are
 * recorded, its queue runs steps one after the other, and the user's notification feed answers a
 * count (or fails) as a test says.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ConversationAttachment } from "./conversation-kind";
import { TYPING_INTERVAL_MS } from "./frame-budget";
import { Presence, type PresenceHost } from "./presence";
import type { ServerEvent } from "./protocol/server-events";

const CHANNEL = { announceEveryJoin: false, leaveWhenFeedEmpty: false };
const THREAD = { announceEveryJoin: true, leaveWhenFeedEmpty: true };

const user = (userId: number): ConversationAttachment => ({
  userId,
  displayName: `User ${userId}`,
  conversationId: 1,
  sessionId: null,
  expiresAt: Number.MAX_SAFE_INTEGER,
  lastSeenAt: 0,
});

function room(policy: typeof CHANNEL) {
  const open = new Map<number, Set<object>>();
  const events: ServerEvent[] = [];
  const warnings: string[] = [];
  let queue = Promise.resolve();
  const feed = { sockets: 0, fails: false };
  const host: PresenceHost = {
    broadcast: (event) => events.push(event),
    hasOpenSocket: (userId, except) => [...(open.get(userId) ?? [])].some((ws) => ws !== except),
    enqueue: (step) => {
      queue = queue.then(step);
      return queue;
    },
    feedSockets: async () => {
      if (feed.fails) throw new Error("feed unreachable");
      return feed.sockets;
    },
    warn: (message) => warnings.push(message),
  };
  const presence = new Presence(policy, host);
  return {
    presence,
    events,
    warnings,
    feed,
    /** A socket of the user opens, as the object accepts it, then joins. */
    join(userId: number) {
      const ws = {};
      if (!open.has(userId)) open.set(userId, new Set());
      open.get(userId)?.add(ws);
      presence.joined(user(userId), ws as WebSocket);
      return ws;
    },
    /** A socket closes, then the object asks whether its user is gone. */
    close(userId: number, ws: object) {
      open.get(userId)?.delete(ws);
      presence.leaveIfGone(userId);
    },
    /** Waits for the queued steps. */
    settled: () => queue,
  };
}

const online = (userId: number) => ({
  type: "presence",
  payload: { user_id: userId, display_name: `User ${userId}`, online: true },
});
const offline = (userId: number) => ({ type: "presence", payload: { user_id: userId, online: false } });

afterEach(() => {
  vi.useRealTimers();
});

describe("a channel's presence: first joins and last leaves", () => {
  it("announces a user's first socket, not a second tab, and their leave only with the last", () => {
    const r = room(CHANNEL);
    const tab1 = r.join(7);
    const tab2 = r.join(7);
    expect(r.events).toEqual([online(7)]);
    r.close(7, tab1);
    expect(r.events).toEqual([online(7)]);
    r.close(7, tab2);
    expect(r.events).toEqual([online(7), offline(7)]);
  });

  it("announces a leave once, however often it is asked (a close and a sweep both ask)", () => {
    const r = room(CHANNEL);
    const ws = r.join(7);
    r.close(7, ws);
    r.presence.leaveIfGone(7);
    r.presence.leaveIfGone(7);
    expect(r.events.filter((e) => e.type === "presence")).toEqual([online(7), offline(7)]);
  });

  it("announces a user who comes back, and keeps users apart", () => {
    const r = room(CHANNEL);
    const a = r.join(7);
    r.join(8);
    r.close(7, a);
    r.join(7);
    expect(r.events).toEqual([online(7), online(8), offline(7), online(7)]);
  });

  it("announces the leave of a user it never saw join (it woke from hibernation with their socket)", () => {
    const r = room(CHANNEL);
    r.presence.leaveIfGone(9);
    expect(r.events).toEqual([offline(9)]);
  });
});

describe("a thread's presence: every join, and offline only without a notifications socket", () => {
  it("announces every socket's join, a second tab's too", () => {
    const r = room(THREAD);
    r.join(7);
    r.join(7);
    expect(r.events).toEqual([online(7), online(7)]);
  });

  it("announces the user offline once their last socket closes and their feed has none", async () => {
    const r = room(THREAD);
    const ws = r.join(7);
    r.close(7, ws);
    await r.settled();
    expect(r.events).toEqual([online(7), offline(7)]);
    r.presence.leaveIfGone(7);
    await r.settled();
    expect(r.events).toEqual([online(7), offline(7)]);
  });

  it("says nothing while the user still has a notifications socket", async () => {
    const r = room(THREAD);
    r.feed.sockets = 1;
    const ws = r.join(7);
    r.close(7, ws);
    await r.settled();
    expect(r.events).toEqual([online(7)]);
  });

  it("says nothing, and warns, when the feed cannot be asked", async () => {
    const r = room(THREAD);
    r.feed.fails = true;
    const ws = r.join(7);
    r.close(7, ws);
    await r.settled();
    expect(r.events).toEqual([online(7)]);
    expect(r.warnings).toEqual(["could not ask a user's feed before announcing them offline"]);
  });

  it("says nothing when the user reconnected while the feed was being asked", async () => {
    const r = room(THREAD);
    const ws = r.join(7);
    r.close(7, ws);
    r.join(7);
    await r.settled();
    expect(r.events).toEqual([online(7), online(7)]);
  });
});

describe("typing", () => {
  const typing = (userId: number, isTyping: boolean) => ({
    type: "typing",
    payload: { user_id: userId, display_name: `User ${userId}`, is_typing: isTyping },
  });

  it("broadcasts a state once per interval per user, and a change at once", () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ["Date"] });
    const r = room(CHANNEL);
    r.presence.typed(user(7), true);
    r.presence.typed(user(7), true);
    r.presence.typed(user(8), true);
    r.presence.typed(user(7), false);
    expect(r.events).toEqual([typing(7, true), typing(8, true), typing(7, false)]);
    vi.setSystemTime(1_000_000 + TYPING_INTERVAL_MS);
    r.presence.typed(user(7), false);
    expect(r.events.at(-1)).toEqual(typing(7, false));
    expect(r.events).toHaveLength(4);
  });

  it("forgets a user's typing when they leave, so their next typing is told at once", () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ["Date"] });
    const r = room(CHANNEL);
    const ws = r.join(7);
    r.presence.typed(user(7), true);
    r.close(7, ws);
    r.join(7);
    r.presence.typed(user(7), true);
    expect(r.events).toEqual([online(7), typing(7, true), offline(7), online(7), typing(7, true)]);
  });
});

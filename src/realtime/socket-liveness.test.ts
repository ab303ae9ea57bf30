/**
 * The liveness rules over stand-ins for the runtime's objects: a socket is a plain object with a
 * readyState, an attachment and a close() that records; the object's state answers
 * getWebSockets and the runtime's auto-response timestamps. Nothing else of the runtime is used.
 */
import { describe, expect, it, vi } from "vitest";
import type { Logger } from "../log";
import {
  CLOSE_GOING_AWAY,
  CLOSE_INTERNAL_ERROR,
  CLOSE_POLICY_VIOLATION,
  closeLapsed,
  closeRevoked,
  firstCheckAt,
  IDLE_SWEEP_MS,
  IDLE_TIMEOUT_MS,
  type LeasedSocket,
  nextCheckAt,
  openLeasedSockets,
  type SocketLease,
} from "./socket-liveness";

const NOW = 1_000_000_000;

interface FakeSocket {
  readyState: number;
  closed: { code: number; reason: string }[];
  attachment: unknown;
  /** Answered by ctx.getWebSocketAutoResponseTimestamp: the runtime's last answered ping. */
  autoResponseAt?: number;
  throwsOnClose?: boolean;
  throwsOnAttachment?: boolean;
  tags: string[];
  close(code: number, reason: string): void;
  deserializeAttachment(): unknown;
}

function socket(options: Partial<FakeSocket> = {}): FakeSocket {
  return {
    readyState: 1,
    closed: [],
    attachment: null,
    tags: [],
    ...options,
    close(code, reason) {
      if (this.throwsOnClose) throw new Error("already closed");
      this.closed.push({ code, reason });
      this.readyState = 3;
    },
    deserializeAttachment() {
      if (this.throwsOnAttachment) throw new Error("unreadable attachment");
      return this.attachment;
    },
  };
}

const lease = (fields: Partial<SocketLease> = {}): SocketLease => ({
  userId: 1,
  sessionId: "s1",
  expiresAt: NOW + 3_600_000,
  lastSeenAt: NOW,
  ...fields,
});

function state(sockets: FakeSocket[], options: { autoResponseThrows?: boolean } = {}) {
  return {
    getWebSockets: (tag?: string) => sockets.filter((s) => tag === undefined || s.tags.includes(tag)),
    getWebSocketAutoResponseTimestamp(ws: FakeSocket) {
      if (options.autoResponseThrows) throw new Error("not a hibernatable socket of this object");
      return ws.autoResponseAt === undefined ? null : new Date(ws.autoResponseAt);
    },
  } as unknown as DurableObjectState;
}

const leased = (ws: FakeSocket, l: SocketLease): LeasedSocket<SocketLease> => ({
  ws: ws as unknown as WebSocket,
  lease: l,
});

describe("openLeasedSockets", () => {
  it("returns the open sockets with their leases, by tag, and skips closing ones", () => {
    const a = socket({ attachment: lease({ userId: 1 }), tags: ["u:1"] });
    const b = socket({ attachment: lease({ userId: 2 }), tags: ["u:2"] });
    const closing = socket({ attachment: lease({ userId: 1 }), tags: ["u:1"], readyState: 2 });
    const ctx = state([a, b, closing]);
    expect(openLeasedSockets(ctx).map((e) => e.lease.userId)).toEqual([1, 2]);
    expect(openLeasedSockets(ctx, "u:1").map((e) => e.ws)).toEqual([a]);
    expect(closing.closed).toEqual([]);
  });

  it("closes a socket whose attachment is missing or unreadable with 1011, and leaves it out", () => {
    const missing = socket();
    const unreadable = socket({ throwsOnAttachment: true, attachment: lease() });
    const fine = socket({ attachment: lease() });
    expect(openLeasedSockets(state([missing, unreadable, fine])).map((e) => e.ws)).toEqual([fine]);
    for (const ws of [missing, unreadable]) {
      expect(ws.closed).toEqual([{ code: CLOSE_INTERNAL_ERROR, reason: "Lost connection state" }]);
    }
    expect(fine.closed).toEqual([]);
  });
});

describe("closeLapsed", () => {
  it("closes a socket whose token expired (at the instant of expiry too) with 1008", () => {
    const expired = socket();
    const expiringNow = socket();
    const valid = socket();
    const kept = closeLapsed(
      state([expired, expiringNow, valid]),
      [
        leased(expired, lease({ expiresAt: NOW - 1 })),
        leased(expiringNow, lease({ expiresAt: NOW })),
        leased(valid, lease({ expiresAt: NOW + 1 })),
      ],
      NOW,
    );
    expect(kept.map((e) => e.ws)).toEqual([valid]);
    for (const ws of [expired, expiringNow]) {
      expect(ws.closed).toEqual([{ code: CLOSE_POLICY_VIOLATION, reason: "Token expired" }]);
    }
  });

  it("closes a socket silent for the idle timeout with 1001, and keeps one silent for less", () => {
    const silent = socket();
    const recent = socket();
    const kept = closeLapsed(
      state([silent, recent]),
      [
        leased(silent, lease({ lastSeenAt: NOW - IDLE_TIMEOUT_MS })),
        leased(recent, lease({ lastSeenAt: NOW - IDLE_TIMEOUT_MS + 1 })),
      ],
      NOW,
    );
    expect(kept.map((e) => e.ws)).toEqual([recent]);
    expect(silent.closed).toEqual([{ code: CLOSE_GOING_AWAY, reason: "Idle timeout" }]);
    expect(recent.closed).toEqual([]);
  });

  it("counts a ping the runtime answered as activity, though no handler saw it", () => {
    const pinging = socket({ autoResponseAt: NOW - 1_000 });
    const stalePing = socket({ autoResponseAt: NOW - IDLE_TIMEOUT_MS - 1 });
    const old = lease({ lastSeenAt: NOW - 10 * IDLE_TIMEOUT_MS });
    const kept = closeLapsed(
      state([pinging, stalePing]),
      [leased(pinging, old), leased(stalePing, old)],
      NOW,
    );
    expect(kept.map((e) => e.ws)).toEqual([pinging]);
    expect(stalePing.closed).toEqual([{ code: CLOSE_GOING_AWAY, reason: "Idle timeout" }]);
  });

  it("falls back on the attachment when the runtime cannot say, and survives a close that throws", () => {
    const active = socket();
    const gone = socket({ throwsOnClose: true });
    const ctx = state([active, gone], { autoResponseThrows: true });
    const kept = closeLapsed(
      ctx,
      [leased(active, lease()), leased(gone, lease({ lastSeenAt: NOW - IDLE_TIMEOUT_MS }))],
      NOW,
    );
    expect(kept.map((e) => e.ws)).toEqual([active]);
  });
});

describe("nextCheckAt and firstCheckAt", () => {
  it("is null without sockets", () => {
    expect(nextCheckAt(state([]), [], NOW)).toBeNull();
  });

  it("waits for the earliest idle deadline, but no sooner than a sweep interval from now", () => {
    const a = socket();
    const b = socket();
    const ctx = state([a, b]);
    // Deadlines a sweep interval away or further: the earliest one.
    const far = [
      leased(a, lease({ lastSeenAt: NOW + 10_000 })),
      leased(b, lease({ lastSeenAt: NOW + 20_000 })),
    ];
    expect(nextCheckAt(ctx, far, NOW)).toBe(NOW + 10_000 + IDLE_TIMEOUT_MS);
    // A deadline sooner than that waits for the sweep interval.
    const soon = [leased(a, lease({ lastSeenAt: NOW - 20_000 }))];
    expect(nextCheckAt(ctx, soon, NOW)).toBe(NOW + IDLE_SWEEP_MS);
  });

  it("uses the runtime's ping time when it is later than the attachment's", () => {
    const pinged = socket({ autoResponseAt: NOW + 5_000 });
    expect(nextCheckAt(state([pinged]), [leased(pinged, lease({ lastSeenAt: NOW }))], NOW)).toBe(
      NOW + 5_000 + IDLE_TIMEOUT_MS,
    );
  });

  it("wakes for a token expiry as it falls, not rounded to the sweep, and never in the past", () => {
    const a = socket();
    const b = socket();
    const ctx = state([a, b]);
    expect(nextCheckAt(ctx, [leased(a, lease({ expiresAt: NOW + 3_000 })), leased(b, lease())], NOW)).toBe(
      NOW + 3_000,
    );
    expect(nextCheckAt(ctx, [leased(a, lease({ expiresAt: NOW - 5_000 }))], NOW)).toBe(NOW + 50);
  });

  it("checks a new socket at its idle deadline or its token's expiry, whichever is first", () => {
    expect(firstCheckAt(lease(), NOW)).toBe(NOW + IDLE_TIMEOUT_MS);
    expect(firstCheckAt(lease({ expiresAt: NOW + 2_000 }), NOW)).toBe(NOW + 2_000);
    expect(firstCheckAt(lease({ expiresAt: NOW - 1 }), NOW)).toBe(NOW + 50);
  });
});

describe("closeRevoked", () => {
  const logger = () => {
    const warnings: [string, unknown][] = [];
    const log = { warn: (message: string, fields: unknown) => warnings.push([message, fields]) };
    return { log: log as unknown as Logger, warnings };
  };

  it("asks once per session and closes the sockets of revoked sessions with 1008, keeping the others", async () => {
    const [a1, a2, b, sessionless] = [socket(), socket(), socket(), socket()];
    const revoked = vi.fn(async (ids: string[]) => new Set(ids.filter((id) => id === "a")));
    const { log } = logger();
    const kept = await closeRevoked(
      revoked,
      [
        leased(a1, lease({ sessionId: "a" })),
        leased(a2, lease({ sessionId: "a" })),
        leased(b, lease({ sessionId: "b" })),
        leased(sessionless, lease({ sessionId: null })),
      ],
      log,
    );
    expect(revoked).toHaveBeenCalledTimes(1);
    expect(revoked.mock.calls[0]?.[0]).toEqual(["a", "b"]);
    expect(kept.map((e) => e.ws)).toEqual([b, sessionless]);
    for (const ws of [a1, a2]) {
      expect(ws.closed).toEqual([{ code: CLOSE_POLICY_VIOLATION, reason: "Session revoked" }]);
    }
  });

  it("asks nothing when no socket has a session", async () => {
    const revoked = vi.fn(async () => new Set<string>());
    const sockets = [leased(socket(), lease({ sessionId: null }))];
    expect(await closeRevoked(revoked, sockets, logger().log)).toBe(sockets);
    expect(revoked).not.toHaveBeenCalled();
  });

  it("keeps every socket, and warns, when the check fails", async () => {
    const ws = socket();
    const { log, warnings } = logger();
    const kept = await closeRevoked(
      async () => {
        throw new Error("database down");
      },
      [leased(ws, lease())],
      log,
    );
    expect(kept.map((e) => e.ws)).toEqual([ws]);
    expect(ws.closed).toEqual([]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.[0]).toBe("session re-check skipped");
  });
});

/**
 * NotificationFeed: one Durable Object per user (named `user:{id}`) that holds every open
 * `/ws/notifications` socket of that user and sends them the events services raise (invites,
 * friend requests, `dm.unread`, membership changes; services/notifier.ts).
 *
 * Why an object per user. The original kept sockets in a per-process dictionary, so an event
 * raised on one process never reached a socket held by another. Every Worker request that calls
 * `deliver` on `user:{id}` reaches the same single object, so "all of the user's sockets" means
 * all of them; one object per user keeps each object's work proportional to one person's tabs.
 *
 * The socket bookkeeping (hand-off, hibernation, limits, liveness) is the SocketHost's
 * (socket-host.ts). What is the feed's own:
 *   - Frames only prove liveness: the web app sends the bare text `ping` every 10 s and gets no
 *     reply (the runtime's auto-response would have to reply), so the object wakes for each one.
 *   - Revocations: the sessions service calls `closeSessions` here right after a revocation; the
 *     feed closes its own sockets and forwards the call to every conversation where the user holds
 *     sockets. Those add themselves to the user's set in the store (`socketRoomsKey`) on the
 *     user's first socket there, rather than telling this object: waking a Durable Object per user
 *     for every first join cost each joining user an object instance (about 240 KiB of workerd's
 *     memory, not returned), while most users who chat also hold no notification socket of their
 *     own at that moment. Without the store the push misses, and the rooms' own session checks
 *     (socket-liveness.ts) close the sockets within their bound.
 *   - "Online": while the user has an open socket the object keeps the store key
 *     `online:user:{id}` alive with a TTL and deletes it when the last socket closes. Writes go
 *     through one queue whose step decides what to write when it runs, so the last write always
 *     reflects the sockets of that moment. A crash that skips the delete leaves the key only until
 *     its TTL runs out.
 */
import type { Env } from "../env";
import { ONLINE_TTL_SECONDS, onlineKey, socketRoomsKey } from "../store/keys";
import { encodeFrame, sendToAll } from "./fan-out";
import { CLOSE_CODES, CLOSE_REASONS } from "./protocol/close-codes";
import { type HandOff, SocketHost } from "./socket-host";
import { closeQuietly, type LeasedSocket, type SocketLease } from "./socket-liveness";

const ONLINE_REFRESH_MS = 20_000;

export class NotificationFeed extends SocketHost<SocketLease> {
  /** Serialises writes of the online key (see the module comment). */
  private onlineQueue: Promise<void> = Promise.resolve();
  /** What this instance last wrote, and when; lost on eviction, which only costs a rewrite. */
  private onlineWritten: { online: boolean; at: number } | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, "notifications", "notification-feed");
  }

  protected async admit(handOff: HandOff): Promise<Response> {
    const lease: SocketLease = {
      userId: handOff.userId,
      sessionId: handOff.sessionId,
      expiresAt: handOff.expiresAtSeconds * 1000,
      lastSeenAt: Date.now(),
    };
    const { response } = this.accept(handOff, lease);
    await this.scheduleCheck();
    // Awaited so that a client that asks "who is online" right after connecting sees itself; a
    // store failure is logged by the queue and never refuses the socket.
    await this.syncOnline(handOff.userId);
    return response;
  }

  /**
   * Sends one event to every open socket of the user; returns how many got it. An event that
   * cannot be encoded is dropped and logged; a socket whose send fails is closed (so its client
   * reconnects) and the others still get the frame. Services reach it through the Notifier, whose
   * events are typed (services/notifier.ts); here any event is sent as it is.
   */
  async deliver(event: { type: string; payload: Record<string, unknown> }): Promise<number> {
    const frame = encodeFrame(event);
    if (frame === null) {
      this.log.error("notification event could not be encoded; dropped", { type: event.type });
      return 0;
    }
    const now = Date.now();
    const live: WebSocket[] = [];
    for (const { ws, lease } of this.leasedSockets()) {
      // A token that expired since the last alarm gets nothing more.
      if (lease.expiresAt <= now) closeQuietly(ws, CLOSE_CODES.policy, CLOSE_REASONS.tokenExpired);
      else live.push(ws);
    }
    const result = sendToAll(live, frame);
    for (const { socket, error } of result.failed) {
      this.log.warn("notification send failed; closing that socket", { type: event.type, err: error });
      closeQuietly(socket, CLOSE_CODES.internalError, CLOSE_REASONS.sendFailed);
    }
    return result.delivered;
  }

  /**
   * Closes the sockets of these revoked sessions: the user's own notification sockets here, then
   * theirs in every room the user has joined, each of which answers how many sockets the user still
   * holds there; a room where none are left is forgotten. Returns how many sockets were closed.
   */
  override async closeSessions(
    userId: number,
    sessionIds: string[],
  ): Promise<{ closed: number; remaining: number }> {
    const own = await super.closeSessions(userId, sessionIds);
    let closed = own.closed;
    const key = socketRoomsKey(userId);
    let rooms: string[] = [];
    try {
      rooms = (await this.store?.setMembers(key)) ?? [];
    } catch (error) {
      // The rooms' own session checks (socket-liveness.ts) still close what this misses.
      this.log.warn("could not read where the user holds sockets", { user_id: userId, err: error });
    }
    await Promise.all(
      rooms.map(async (name) => {
        try {
          const outcome = await this.roomStub(name).closeSessions(userId, sessionIds);
          closed += outcome.closed;
          if (outcome.remaining === 0) await this.store?.removeFromSet(key, name);
        } catch (error) {
          this.log.warn("could not close revoked sockets in a room", { room: name, err: error });
        }
      }),
    );
    if (own.closed > 0) await this.scheduleCheck();
    return { closed, remaining: own.remaining };
  }

  /** A conversation's object by its name (`channel:{id}` or `dm:{id}`, names.ts). */
  private roomStub(name: string) {
    const namespace = name.startsWith("dm:") ? this.env.DM_THREAD : this.env.CHANNEL_ROOM;
    return namespace.get(namespace.idFromName(name));
  }

  /** Any inbound frame (the web app's bare-text `ping`, or anything else) only proves liveness. */
  protected async onFrame(): Promise<void> {}

  protected override async onSocketGone(ws: WebSocket, lease: SocketLease): Promise<void> {
    await this.syncOnline(lease.userId, ws);
    await this.scheduleCheck();
  }

  protected override async onSweep(kept: LeasedSocket<SocketLease>[], before: LeasedSocket<SocketLease>[]) {
    const userId = (kept[0] ?? before[0])?.lease.userId;
    if (userId !== undefined) await this.syncOnline(userId);
  }

  /**
   * Queues a write of the online key; the step looks at the sockets when it runs, so of several
   * queued steps the last one always writes the current truth.
   */
  private syncOnline(userId: number, leaving?: WebSocket): Promise<void> {
    const step = async () => {
      const store = this.store;
      if (!store) return;
      const online = this.openSockets().some((ws) => ws !== leaving);
      const now = Date.now();
      const last = this.onlineWritten;
      if (online && last?.online && now - last.at < ONLINE_REFRESH_MS) return;
      if (!online && last && !last.online) return;
      if (online) await store.set(onlineKey(userId), "1", { ttlSeconds: ONLINE_TTL_SECONDS });
      else await store.delete(onlineKey(userId));
      this.onlineWritten = { online, at: now };
    };
    this.onlineQueue = this.onlineQueue.then(step).catch((error) => {
      this.onlineWritten = undefined;
      this.log.warn("could not update the online key", { user_id: userId, err: error });
    });
    return this.onlineQueue;
  }
}

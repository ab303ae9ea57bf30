/**
 * The one way services announce something to a user's notification sockets
 * (docs/socket-protocol.md#notification-events): `invite.created`, `invite.accepted`, `invite.declined`,
 * `friend.requested`, `friend.accepted`, `friend.declined`, `dm.unread`, and this project's additive
 * membership events. Services call `notify` after their change is committed; delivery is best effort
 * (a user without an open socket simply misses the event, as in the original) and a failure
 * to deliver never fails the request that caused it.
 *
 * Payloads must be plain JSON (timestamps as ISO strings, docs/original-defects.md#d4-unencodable-events).
 * Each type is described, with its payload's schema, in realtime/protocol/notification-events.ts (which
 * /asyncapi.json is generated from): a type not described there does not compile, and the recording test
 * (test/realtime/protocol-frames.test.ts) validates the payloads services really send.
 */
import type { NotificationEventType } from "../realtime/protocol/notification-events";

export interface NotificationEvent {
  type: NotificationEventType;
  payload: Record<string, unknown>;
}

export interface Notifier {
  notify(userId: number, event: NotificationEvent): Promise<void>;
  /**
   * Closes every socket of these (just revoked) sessions of the user, on every endpoint. Best
   * effort like `notify`: the revocation is already recorded, and the socket objects' own checks
   * close any socket this misses.
   */
  closeSessions(userId: number, sessionIds: string[]): Promise<void>;
}

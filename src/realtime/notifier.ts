/**
 * The Notifier services use (services/notifier.ts), delivering through each user's
 * NotificationFeed object (src/realtime/notification-feed.ts), which every Worker instance
 * reaches alike (docs/original-defects.md#d8-single-process-fan-out).
 *
 * Delivery is best effort by design (docs/guarantees.md#best-effort-on-purpose): the change that raised the
 * event is already committed, so a feed that cannot be reached is logged and the request still succeeds. A
 * user without an open socket simply misses the event, as in the original; the web app refetches its lists
 * when it (re)connects.
 */
import type { Env } from "../env";
import type { Logger } from "../log";
import type { NotificationEvent, Notifier } from "../services/notifier";
import { feedName } from "./names";

export function createNotifier(namespace: Env["NOTIFICATION_FEED"] | undefined, log: Logger): Notifier {
  return {
    async notify(userId: number, event: NotificationEvent) {
      if (!namespace) {
        log.error("NOTIFICATION_FEED is not bound; notification dropped", { type: event.type });
        return;
      }
      try {
        const stub = namespace.get(namespace.idFromName(feedName(userId)));
        const delivered = await stub.deliver(event);
        log.debug("notification delivered", { type: event.type, user_id: userId, sockets: delivered });
      } catch (error) {
        log.warn("notification not delivered", { type: event.type, user_id: userId, err: error });
      }
    },
    async closeSessions(userId: number, sessionIds: string[]) {
      if (!namespace || sessionIds.length === 0) return;
      try {
        const stub = namespace.get(namespace.idFromName(feedName(userId)));
        const closed = await stub.closeSessions(userId, sessionIds);
        log.debug("revoked sessions' sockets closed", { user_id: userId, sockets: closed });
      } catch (error) {
        log.warn("revoked sessions' sockets not closed", { user_id: userId, err: error });
      }
    },
  };
}

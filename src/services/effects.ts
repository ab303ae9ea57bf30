import type { Notifier } from "./notifier";
import type { Realtime } from "./realtime";

/**
 * What a service tells the rest of the system once its change is committed: users, through their
 * notification sockets, and the conversation objects, which decide access from what they remember.
 * Routes pass their request's dependencies, which carry both.
 */
export interface Effects {
  notifier: Notifier;
  realtime: Realtime;
}

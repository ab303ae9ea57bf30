/**
 * Keys that more than one part of the app reads or writes in the store.
 */

/**
 * A user is online while this key exists: their socket objects keep it alive with a TTL
 * (realtime/socket-host.ts, realtime/notification-feed.ts), GET /users/online reads it
 * (services/users.ts).
 */
export const onlineKey = (userId: number) => `online:user:${userId}`;

/** The online key outlives a missed refresh or two, and a crashed object by at most this. */
export const ONLINE_TTL_SECONDS = 60;

/**
 * Keys that more than one part of the app reads or writes in the store.
 */

/**
 * A user is online while this key exists: their socket objects keep it alive with a TTL
 * (realtime/socket-host.ts, realtime/notification-feed.ts), GET /users/online reads it
 * (services/users.ts).
 */
export const onlineKey = (userId: number) => `online:user:${userId}`;

/**
 * The conversations where a user holds sockets (a set of object names, realtime/names.ts): each
 * conversation object adds itself on the user's first socket there, and the user's notification
 * feed reads it to close a revoked session's sockets everywhere at once.
 */
export const socketRoomsKey = (userId: number) => `sockets:user:${userId}`;

/**
 * How long a socket-rooms set lives after its last addition beyond the access token's lifetime: a
 * socket closes when its token expires, so no room is left with that user's sockets by then.
 */
export const SOCKET_ROOMS_GRACE_SECONDS = 300;

/** The online key outlives a missed refresh or two, and a crashed object by at most this. */
export const ONLINE_TTL_SECONDS = 60;

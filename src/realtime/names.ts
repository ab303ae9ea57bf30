/**
 * The names of things in the realtime layer, in one place: the two kinds of conversation, the
 * names their Durable Objects are found by, the tags sockets carry, the keep-alive frames.
 * Everything here is plain, so routes and objects share it without importing an object's module.
 * (The online key, which services read too, is the store's: store/keys.ts.)
 *
 * One vocabulary: a *conversation* is a channel or a direct-message thread; its *kind* is
 * "channel" or "dm". (The socket endpoints keep the original's paths, /ws/chat and /ws/dm, which the web app
 * calls.)
 */

import type { ConversationKind } from "../services/realtime";

export type { ConversationKind };

/** The name a conversation's object is found by (`idFromName`); also what its logs call it. */
export const conversationName = (kind: ConversationKind, id: number) => `${kind}:${id}`;

/** The name of a user's notification feed object. */
export const feedName = (userId: number) => `user:${userId}`;

/** The ApiHost object's name (one per deployment, see hosting/api-host.ts). */
export const API_HOST_NAME = "api";

/** The tag of a user's sockets in an object, so an object can find them without reading every attachment. */
export const userTag = (userId: number) => `u:${userId}`;

/** The exact frame the web app sends as its keep-alive on chat and DM sockets, and the runtime's answer. */
export const PING_FRAME = '{"type":"ping"}';
export const PONG_FRAME = '{"type":"pong","payload":{}}';

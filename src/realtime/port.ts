/**
 * The realtime port services use (services/realtime.ts), reaching the conversation objects: a
 * few calls at a time, each failure logged and ignored (see the port's comment for why that is
 * safe).
 */
import type { Env } from "../env";
import type { Logger } from "../log";
import type { Realtime } from "../services/realtime";
import { type ConversationKind, conversationName } from "./names";

const CALLS_AT_ONCE = 16;

/** The object of a conversation, for RPC. */
export function conversationStub(
  env: Pick<Env, "CHANNEL_ROOM" | "DM_THREAD">,
  kind: ConversationKind,
  id: number,
) {
  const namespace = kind === "dm" ? env.DM_THREAD : env.CHANNEL_ROOM;
  return namespace.get(namespace.idFromName(conversationName(kind, id)));
}

export function createRealtime(env: Env, log: Logger): Realtime {
  async function eachObject(
    kind: ConversationKind,
    ids: readonly number[],
    what: string,
    call: (stub: ReturnType<typeof conversationStub>) => Promise<unknown>,
  ) {
    for (let i = 0; i < ids.length; i += CALLS_AT_ONCE) {
      await Promise.all(
        ids.slice(i, i + CALLS_AT_ONCE).map(async (id) => {
          try {
            await call(conversationStub(env, kind, id));
          } catch (error) {
            log.warn(`could not tell a conversation that ${what}`, {
              conversation: conversationName(kind, id),
              err: error,
            });
          }
        }),
      );
    }
  }
  return {
    accessChanged: (kind, ids, userIds) =>
      eachObject(kind, ids, "access changed", (stub) =>
        stub.accessChanged(userIds ? [...userIds] : undefined),
      ),
    conversationsDeleted: (kind, ids) =>
      eachObject(kind, ids, "it was deleted", (stub) => stub.conversationDeleted()),
  };
}

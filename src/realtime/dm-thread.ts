/**
 * DmThread: one Durable Object per direct-message thread (named `dm:{id}`), holding its
 * `/ws/dm/{thread_id}` sockets and writing its messages and read receipts. Everything it does is
 * the conversation room's (conversation-room.ts); what is the thread's own is its descriptor
 * (kinds/dm.ts). The class exists under this name because the runtime binds objects by class.
 */
import type { Env } from "../env";
import { ConversationRoom } from "./conversation-room";
import { dmRules, type ThreadConversation } from "./kinds/dm";

export class DmThread extends ConversationRoom<ThreadConversation> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, dmRules);
  }
}

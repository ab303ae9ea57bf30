/**
 * ChannelRoom: one Durable Object per channel (named `channel:{id}`), holding its
 * `/ws/chat/{workspace_id}/{channel_id}` sockets and writing its messages. Everything it does is
 * the conversation room's (conversation-room.ts); what is the channel's own is its descriptor
 * (kinds/channel.ts). The class exists under this name because the runtime binds objects by class.
 */
import type { Env } from "../env";
import { ConversationRoom } from "./conversation-room";
import { type ChannelConversation, channelRules } from "./kinds/channel";

export class ChannelRoom extends ConversationRoom<ChannelConversation> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, channelRules);
  }
}

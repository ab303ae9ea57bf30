/**
 * Worker entry point. The same module serves Cloudflare (`wrangler deploy`) and standalone
 * workerd (self-hosting): everything environment-specific comes in through bindings.
 */
import { createApp } from "./app";
import type { Env } from "./env";

export { ChannelRoom } from "./realtime/channel-room";
export { DmThread } from "./realtime/dm-thread";
export { NotificationFeed } from "./realtime/notification-feed";

const app = createApp();

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;

/**
 * Worker entry point. The same module serves Cloudflare (`wrangler deploy`) and standalone
 * workerd (self-hosting): everything environment-specific comes in through bindings.
 *
 * With pooled database connections (the default) the Worker hands each REST request to the
 * ApiHost object, which keeps the connections (src/hosting/api-host.ts); socket upgrades, and
 * everything when connections are per request, are served here.
 */
import { createApp } from "./app";
import type { Env } from "./env";
import { apiHostFor } from "./hosting/api-host";

export { ApiHost } from "./hosting/api-host";
export { ChannelRoom } from "./realtime/channel-room";
export { DmThread } from "./realtime/dm-thread";
export { NotificationFeed } from "./realtime/notification-feed";

const app = createApp();

export default {
  fetch: (request, env, ctx) => apiHostFor(request, env)?.fetch(request) ?? app.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;

/**
 * The Worker's bindings. Settings arrive as plain variables and secrets; config.ts is the
 * only reader of them (see .dev.vars.example for each one).
 */
import type { ApiHost } from "./hosting/api-host";
import type { ChannelRoom } from "./realtime/channel-room";
import type { DmThread } from "./realtime/dm-thread";
import type { NotificationFeed } from "./realtime/notification-feed";

export interface Env {
  [setting: string]: unknown;
  /**
   * The object that serves REST requests with a pool of database connections (wrangler.toml).
   * Optional: without it every request is served by the Worker with a connection of its own.
   */
  API_HOST?: DurableObjectNamespace<ApiHost>;
  /** One object per user's notification sockets (wrangler.toml). */
  NOTIFICATION_FEED: DurableObjectNamespace<NotificationFeed>;
  /** One object per channel: its chat sockets, and the single writer of its messages (wrangler.toml). */
  CHANNEL_ROOM: DurableObjectNamespace<ChannelRoom>;
  /** One object per direct-message thread: its sockets, and the single writer of its messages (wrangler.toml). */
  DM_THREAD: DurableObjectNamespace<DmThread>;
  /**
   * Optional, Cloudflare only: a Hyperdrive configuration in front of PostgreSQL (wrangler.toml,
   * `[[hyperdrive]]`). When bound, its connection string is used instead of DATABASE_URL.
   */
  HYPERDRIVE?: Hyperdrive;
}

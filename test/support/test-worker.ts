/**
 * The entry the test suite bundles instead of src/index.ts (test/support/bundle.ts): the very
 * Worker and objects that are deployed, plus what only tests need: the routes of test-routes.ts,
 * in the Worker and in the ApiHost alike, and a probe on the conversation objects. None of it is
 * in the deployed bundle or in the typed client's AppType.
 */
import { type AppOptions, createApp } from "../../src/app";
import type { Env } from "../../src/env";
import { apiHostFor, ApiHost as DeployedApiHost } from "../../src/hosting/api-host";
import {
  ChannelRoom as DeployedChannelRoom,
  DmThread as DeployedDmThread,
  NotificationFeed,
} from "../../src/index";
import { mountTestRoutes } from "./test-routes";

export { NotificationFeed };

/** What the probe tells: which instance of the object answers (eviction tests), and its sockets. */
export interface ProbedRoom {
  testProbe(): Promise<{ instanceId: string; sockets: number }>;
}

export class ApiHost extends DeployedApiHost {
  protected override createApp(options: AppOptions) {
    return createApp({ ...options, extend: mountTestRoutes });
  }
}

export class ChannelRoom extends DeployedChannelRoom {
  private readonly instanceId = crypto.randomUUID();
  testProbe() {
    return { instanceId: this.instanceId, sockets: this.openSocketCount() };
  }
}

export class DmThread extends DeployedDmThread {
  private readonly instanceId = crypto.randomUUID();
  testProbe() {
    return { instanceId: this.instanceId, sockets: this.openSocketCount() };
  }
}

const app = createApp({ extend: mountTestRoutes });

export default {
  fetch: (request, env, ctx) => apiHostFor(request, env)?.fetch(request) ?? app.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;

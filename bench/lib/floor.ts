/**
 * workerd's own floor: a Durable Object that does nothing but accept hibernatable sockets (and
 * answer the web app's ping without waking, as ours do), served by standalone workerd with the
 * compatibility date and flags of deploy/workerd.capnp. Whatever our objects cost above it is
 * ours to cut; the floor is the runtime's.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadWorkerdConfig } from "../../test/selfhost/files";
import { ManagedProcess, waitFor } from "../../test/selfhost/processes";
import { workerdBinary } from "../../test/selfhost/stack";
import { freePort } from "../../test/support/store";

const WORKER = `
import { DurableObject } from "cloudflare:workers";
export class Room extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong","payload":{}}'));
  }
  async fetch() {
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1]);
    pair[1].serializeAttachment({ userId: 1, sessionId: "0123456789abcdef", expiresAt: Date.now() + 9e5, lastSeenAt: Date.now() });
    return new Response(null, { status: 101, webSocket: pair[0] });
  }
  webSocketMessage() {}
}
export default {
  fetch(request, env) {
    const path = new URL(request.url).pathname;
    if (path === "/health") return new Response("ok");
    if (path === "/plain") {
      const pair = new WebSocketPair();
      pair[1].accept();
      return new Response(null, { status: 101, webSocket: pair[0] });
    }
    return env.ROOM.get(env.ROOM.idFromName("room")).fetch(request);
  },
};
`;

export interface FloorWorkerd {
  /** ws://127.0.0.1:port */
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startFloorWorkerd(options: { inspectorAddress?: string } = {}): Promise<FloorWorkerd> {
  const deployed = loadWorkerdConfig();
  const dir = mkdtempSync(join(tmpdir(), "bench-floor-"));
  const port = await freePort();
  writeFileSync(join(dir, "worker.js"), WORKER);
  writeFileSync(
    join(dir, "floor.capnp"),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .floor),
    (name = "storage", disk = (path = "${join(dir, "storage")}", writable = true)),
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const floor :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "worker.js")],
  compatibilityDate = "${deployed.compatibilityDate}",
  compatibilityFlags = [${deployed.compatibilityFlags.map((f) => `"${f}"`).join(", ")}],
  bindings = [(name = "ROOM", durableObjectNamespace = "Room")],
  durableObjectNamespaces = [(className = "Room", uniqueKey = "bench-floor-room", enableSql = true)],
  durableObjectStorage = (localDisk = "storage"),
);
`,
  );
  mkdirSync(join(dir, "storage"));
  const workerd = new ManagedProcess(
    "floor workerd",
    workerdBinary(),
    [
      "serve",
      join(dir, "floor.capnp"),
      ...(options.inspectorAddress ? [`--inspector-addr=${options.inspectorAddress}`] : []),
    ],
    {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    },
  );
  const stop = async () => {
    await workerd.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      "the floor workerd",
      async () => ((await fetch(`http://127.0.0.1:${port}/health`)).ok ? true : undefined),
      { process: workerd },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `ws://127.0.0.1:${port}`, pid: workerd.pid as number, stop };
}

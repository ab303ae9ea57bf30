/**
 * A TCP proxy in front of the Worker whose connections a test can cut, as a mobile network or a
 * sleeping laptop does: `cut()` drops every connection at once; `cutAfterNextFrame()` lets the
 * client's next WebSocket frame through to the server and then drops the connection before any
 * answer comes back (the echo of a stored message is lost); `hold()` refuses new connections until
 * `release()`, so a client stays away while the test changes things.
 */
import { connect, createServer, type Socket } from "node:net";

export interface CuttableProxy {
  /** `http://127.0.0.1:<port>`, for the client's baseUrl. */
  url: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  cut(): void;
  cutAfterNextFrame(): void;
  hold(): void;
  release(): void;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket;
  /** The server answered the handshake: what the client sends now are frames. */
  upgraded: boolean;
  /** Cut after a frame: the upstream side is ending on its own, its last frame still to go. */
  ending: boolean;
}

export async function startCuttableProxy(target: string): Promise<CuttableProxy> {
  const { hostname, port } = new URL(target);
  const pairs = new Set<Pair>();
  let accepted = 0;
  let armed = false;
  let held = false;

  const drop = (pair: Pair) => {
    pairs.delete(pair);
    pair.client.destroy();
    if (!pair.ending) pair.upstream.destroy();
  };

  const server = createServer((client) => {
    if (held) {
      client.destroy();
      return;
    }
    accepted += 1;
    const upstream = connect(Number(port), hostname);
    const pair: Pair = { client, upstream, upgraded: false, ending: false };
    pairs.add(pair);
    client.on("data", (chunk) => {
      upstream.write(chunk);
      if (armed && pair.upgraded) {
        armed = false;
        // The frame reaches the server (end() sends it before closing); nothing comes back.
        pair.ending = true;
        upstream.removeAllListeners("data");
        upstream.end();
        drop(pair);
      }
    });
    upstream.on("data", (chunk) => {
      pair.upgraded = true;
      client.write(chunk);
    });
    for (const socket of [client, upstream]) {
      socket.on("error", () => drop(pair));
      socket.on("close", () => drop(pair));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as { port: number };

  return {
    url: `http://127.0.0.1:${address.port}`,
    get accepted() {
      return accepted;
    },
    cut() {
      for (const pair of [...pairs]) drop(pair);
    },
    cutAfterNextFrame() {
      armed = true;
    },
    hold() {
      held = true;
    },
    release() {
      held = false;
    },
    async close() {
      for (const pair of [...pairs]) drop(pair);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

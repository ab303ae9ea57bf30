/**
 * An HTTP proxy for a test browser that records every request the browser sends and forwards only
 * those to the origins the test allows, each to a local server (so a page can be visited under a
 * real-looking host name: the proxy is the browser's only resolver); any other request is answered
 * 502 (or its CONNECT refused) without a connection being opened. Chromium started with `--proxy-server` and
 * `--proxy-bypass-list=<-loopback>` sends everything through it, loopback included, and including
 * what no page event reports (the favicon, the browser's own traffic): the network-level ground
 * truth of "no request left the deployment".
 */
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { type AddressInfo, connect, type Socket } from "node:net";

export interface RecordingProxy {
  /** http://127.0.0.1:<port>, for --proxy-server. */
  url: string;
  /** Every request since the last reset: `GET http://host:port/path`, `CONNECT host:443`. */
  readonly requests: string[];
  /** Requests that went to anything but an allowed origin (none of them was let through). */
  readonly refused: string[];
  /**
   * Forget what was recorded; from now on let through requests to these origins only, each to its
   * local server: `{ "http://docs.example.test:8787": "http://127.0.0.1:8787" }` (an https://
   * origin is tunnelled to the server's port).
   */
  reset(routes: Record<string, string>): void;
  close(): Promise<void>;
}

export async function startRecordingProxy(): Promise<RecordingProxy> {
  const requests: string[] = [];
  const refused: string[] = [];
  let routes = new Map<string, URL>();
  /** CONNECT tunnels leave the HTTP server's bookkeeping: closed by hand. */
  const tunnels = new Set<Socket>();

  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const target = new URL(req.url ?? "/");
    requests.push(`${req.method} ${target.href}`);
    const upstreamBase = routes.get(target.origin);
    if (!upstreamBase) {
      refused.push(`${req.method} ${target.href}`);
      res.writeHead(502, { "Content-Type": "text/plain" }).end("refused by the test proxy");
      return;
    }
    const headers = { ...req.headers };
    delete headers["proxy-connection"];
    const upstream = httpRequest(
      {
        host: upstreamBase.hostname,
        port: upstreamBase.port,
        method: req.method,
        path: target.pathname + target.search,
        headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", (error) => res.destroy(error));
    req.pipe(upstream);
  };

  const server: Server = createServer(forward);
  // HTTPS goes through CONNECT: tunnelled to the local server of an allowed https:// origin (the
  // browser speaks TLS to it end to end), recorded and refused for anything else.
  server.on("connect", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    requests.push(`CONNECT ${req.url}`);
    const upstreamBase = routes.get(`https://${req.url}`);
    if (!upstreamBase) {
      refused.push(`CONNECT ${req.url}`);
      socket.end("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    const upstream = connect(Number(upstreamBase.port), upstreamBase.hostname, () => {
      socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(socket).pipe(upstream);
    });
    tunnels.add(upstream).add(socket);
    const drop = () => {
      upstream.destroy();
      socket.destroy();
    };
    upstream.on("error", drop);
    socket.on("error", drop);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));

  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    refused,
    reset(allowed) {
      requests.length = 0;
      refused.length = 0;
      routes = new Map(Object.entries(allowed).map(([origin, upstream]) => [origin, new URL(upstream)]));
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const tunnel of tunnels) tunnel.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

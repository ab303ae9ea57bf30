/**
 * Clients that talk to nginx as a browser would talk to the deployed host: HTTPS and WSS with the
 * server name (SNI and Host) of the domain, trusting only the stack's own certificate; plain HTTP
 * for the redirect.
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect as tlsConnect } from "node:tls";
import WebSocket from "ws";

export interface Endpoint {
  /** The public name: SNI, Host header, certificate. */
  domain: string;
  httpPort: number;
  httpsPort: number;
  /** PEM of the certificate to trust. */
  ca: string;
}

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: any;
}

export interface RequestOptions {
  token?: string;
  json?: unknown;
  form?: Record<string, string>;
  headers?: Record<string, string>;
  /** Plain HTTP on the HTTP port instead of HTTPS. */
  plain?: boolean;
}

export function call(endpoint: Endpoint, method: string, path: string, options: RequestOptions = {}) {
  const headers: Record<string, string> = { Host: endpoint.domain, ...options.headers };
  let body: string | undefined;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers["Content-Type"] = "application/json";
  } else if (options.form) {
    body = new URLSearchParams(options.form).toString();
    headers["Content-Type"] = "application/x-www-form-urlencoded";
  }
  if (body !== undefined) headers["Content-Length"] = String(Buffer.byteLength(body));
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  return new Promise<Response>((resolve, reject) => {
    const common = { host: "127.0.0.1", method, path, headers, timeout: 15_000 };
    const req = options.plain
      ? httpRequest({ ...common, port: endpoint.httpPort })
      : httpsRequest({ ...common, port: endpoint.httpsPort, servername: endpoint.domain, ca: endpoint.ca });
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        text += chunk;
      });
      res.on("end", () => {
        const json = String(res.headers["content-type"] ?? "").includes("json") && text !== "";
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text,
          body: json ? JSON.parse(text) : text,
        });
      });
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** The SHA-256 fingerprint of the certificate nginx presents for the domain right now. */
export function servedCertificate(endpoint: Endpoint): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: "127.0.0.1",
      port: endpoint.httpsPort,
      servername: endpoint.domain,
      // Which certificate is served is the question here, not whether it is trusted.
      rejectUnauthorized: false,
    });
    socket.once("secureConnect", () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fingerprint);
    });
    socket.once("error", reject);
  });
}

export interface Frame {
  type: string;
  payload?: any;
  [key: string]: unknown;
}

export interface ChatSocket {
  next(type: string, timeoutMs?: number): Promise<Frame>;
  /** Frames received and not yet taken. */
  pending(): Frame[];
  send(frame: unknown): void;
  closed: Promise<{ code: number; reason: string }>;
  close(): Promise<{ code: number; reason: string }>;
}

/** A WebSocket over TLS through nginx, e.g. `/ws/chat/1/2?token=...`. */
export function openSocket(endpoint: Endpoint, path: string): Promise<ChatSocket> {
  return new Promise((resolve, reject) => {
    // `servername` (SNI, and the name the certificate is checked against) reaches tls.connect;
    // ws's types do not list it.
    const options = {
      ca: endpoint.ca,
      servername: endpoint.domain,
      headers: { Host: endpoint.domain },
      handshakeTimeout: 10_000,
    } as WebSocket.ClientOptions;
    const socket = new WebSocket(`wss://127.0.0.1:${endpoint.httpsPort}${path}`, options);
    const frames: Frame[] = [];
    const waiters: { type: string; resolve(frame: Frame): void }[] = [];
    const closed = new Promise<{ code: number; reason: string }>((done) => {
      socket.on("close", (code, reason) => done({ code, reason: reason.toString() }));
    });
    socket.on("message", (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      const index = waiters.findIndex((w) => w.type === frame.type);
      if (index >= 0) waiters.splice(index, 1)[0]?.resolve(frame);
      else frames.push(frame);
    });
    socket.once("unexpected-response", (_req, res) =>
      reject(new Error(`handshake of ${path.split("?")[0]} refused with HTTP ${res.statusCode}`)),
    );
    socket.once("error", reject);
    socket.once("open", () =>
      resolve({
        pending: () => [...frames],
        next(type, timeoutMs = 10_000) {
          const index = frames.findIndex((f) => f.type === type);
          if (index >= 0) return Promise.resolve(frames.splice(index, 1)[0] as Frame);
          return new Promise((res, rej) => {
            const waiter = { type, resolve: res };
            waiters.push(waiter);
            setTimeout(() => {
              const i = waiters.indexOf(waiter);
              if (i < 0) return;
              waiters.splice(i, 1);
              rej(new Error(`no "${type}" frame within ${timeoutMs} ms`));
            }, timeoutMs);
          });
        },
        send: (frame) => socket.send(JSON.stringify(frame)),
        closed,
        close() {
          if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING)
            socket.close(1000);
          return closed;
        },
      }),
    );
  });
}

/**
 * A real WebSocket client for tests (the `ws` package, which offers permessage-deflate as
 * browsers do), with a queue so a test can await the next frame of a given type.
 */
import { randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import WebSocket from "ws";

export interface SocketFrame {
  type: string;
  payload?: unknown;
  [key: string]: unknown;
}

export interface TestSocket {
  socket: WebSocket;
  /** Resolves with the next JSON frame (optionally of one type); rejects after `timeoutMs`. */
  next(type?: string, timeoutMs?: number): Promise<SocketFrame>;
  /** Frames received and not yet taken by next(). */
  pending(): SocketFrame[];
  send(frame: unknown): void;
  sendText(text: string): void;
  close(code?: number): Promise<{ code: number; reason: string }>;
  closed: Promise<{ code: number; reason: string }>;
}

export interface ConnectOptions {
  protocols?: string[];
  headers?: Record<string, string>;
  perMessageDeflate?: boolean;
  timeoutMs?: number;
}

/** Connects, or rejects with the HTTP status of a refused handshake (`error.status`). */
export function connectSocket(url: string, options: ConnectOptions = {}): Promise<TestSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, options.protocols ?? [], {
      headers: options.headers,
      perMessageDeflate: options.perMessageDeflate ?? true,
      handshakeTimeout: options.timeoutMs ?? 10_000,
    });
    const frames: SocketFrame[] = [];
    const waiters: { type?: string; resolve(f: SocketFrame): void }[] = [];
    const closed = new Promise<{ code: number; reason: string }>((done) => {
      socket.on("close", (code, reason) => done({ code, reason: reason.toString() }));
    });

    socket.on("message", (data) => {
      let frame: SocketFrame;
      try {
        frame = JSON.parse(data.toString());
      } catch {
        frame = { type: "__text__", payload: data.toString() };
      }
      const index = waiters.findIndex((w) => w.type === undefined || w.type === frame.type);
      if (index >= 0) waiters.splice(index, 1)[0]?.resolve(frame);
      else frames.push(frame);
    });
    socket.once("unexpected-response", (_req, res) => {
      const error = Object.assign(new Error(`handshake refused with HTTP ${res.statusCode}`), {
        status: res.statusCode,
      });
      reject(error);
    });
    socket.once("error", reject);
    socket.once("open", () => {
      resolve({
        socket,
        pending: () => [...frames],
        next(type, timeoutMs = 5_000) {
          const index = frames.findIndex((f) => type === undefined || f.type === type);
          if (index >= 0) return Promise.resolve(frames.splice(index, 1)[0] as SocketFrame);
          return new Promise((res, rej) => {
            const waiter = { type, resolve: res };
            waiters.push(waiter);
            setTimeout(() => {
              const i = waiters.indexOf(waiter);
              if (i >= 0) {
                waiters.splice(i, 1);
                rej(new Error(`no ${type ?? "frame"} within ${timeoutMs} ms`));
              }
            }, timeoutMs);
          });
        },
        send: (frame) => socket.send(JSON.stringify(frame)),
        sendText: (text) => socket.send(text),
        close(code = 1000) {
          socket.close(code);
          return closed;
        },
        closed,
      });
    });
  });
}

/** A handshake sent by hand, to read the status and body of a refusal (WebSocket clients hide it). */
export function rawHandshake(
  baseUrl: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${baseUrl}${path}`, {
      headers: {
        ...headers,
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
      },
    });
    req.on("upgrade", (_res, socket) => {
      socket.destroy();
      reject(new Error("the handshake was accepted"));
    });
    req.on("response", (res) => {
      let text = "";
      res.on("data", (chunk: Buffer) => {
        text += chunk.toString("utf8");
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on("error", reject);
    req.end();
  });
}

/**
 * A REST message as its socket events carry it: events leave out `reactions`, whose `me` differs
 * per reader (src/presenters/threads.ts).
 */
export function withoutReactions<T extends { reactions?: unknown }>(message: T): Omit<T, "reactions"> {
  const { reactions: _perReader, ...shared } = message;
  return shared;
}

/**
 * The body limit on a keep-alive connection (issue 13.8), with a raw HTTP/1.1 client on one TCP
 * connection: after a 413 the next request on the same connection gets its answer, whether the
 * oversized body came with a Content-Length or chunked; a body beyond what the Worker reads to keep
 * the connection (1 MiB) is answered at once without being read, and the connection then ends.
 * (The runtime drops a Worker's `Connection: close`, so that close cannot be announced.)
 */
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";

let app: TestApp;

beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => {
  await app?.close();
});

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One keep-alive connection that reads HTTP/1.1 responses with a Content-Length, in order. */
class Connection {
  private buffer = Buffer.alloc(0);
  private waiting: (() => void) | null = null;
  ended = false;
  error: Error | null = null;
  readonly socket: Socket;

  private constructor(port: number) {
    this.socket = connect(port, "127.0.0.1");
    this.socket.on("data", (chunk) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.waiting?.();
    });
    this.socket.on("end", () => {
      this.ended = true;
      this.waiting?.();
    });
    this.socket.on("error", (error) => {
      this.error = error;
      this.waiting?.();
    });
  }

  static open(app: TestApp): Promise<Connection> {
    const connection = new Connection(Number(new URL(app.url).port));
    return new Promise((resolve, reject) => {
      connection.socket.once("connect", () => resolve(connection));
      connection.socket.once("error", reject);
    });
  }

  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve) => this.socket.write(data, () => resolve()));
  }

  private async more(timeoutMs: number): Promise<void> {
    if (this.ended || this.error) throw this.error ?? new Error("the connection ended");
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no data in time")), timeoutMs);
      this.waiting = () => {
        clearTimeout(timer);
        this.waiting = null;
        resolve();
      };
    });
  }

  async response(timeoutMs = 10_000): Promise<RawResponse> {
    let end = this.buffer.indexOf("\r\n\r\n");
    while (end < 0) {
      await this.more(timeoutMs);
      end = this.buffer.indexOf("\r\n\r\n");
    }
    const [statusLine = "", ...lines] = this.buffer.subarray(0, end).toString("latin1").split("\r\n");
    const headers = Object.fromEntries(
      lines.map((line) => [
        line.slice(0, line.indexOf(":")).toLowerCase(),
        line.slice(line.indexOf(":") + 1).trim(),
      ]),
    );
    const length = Number(headers["content-length"] ?? 0);
    while (this.buffer.length < end + 4 + length) await this.more(timeoutMs);
    const body = this.buffer.subarray(end + 4, end + 4 + length).toString("utf8");
    this.buffer = this.buffer.subarray(end + 4 + length);
    return { status: Number(statusLine.split(" ")[1]), headers, body };
  }

  /** Resolves once the server ended the connection; rejects on a reset. */
  async closed(timeoutMs = 10_000): Promise<void> {
    while (!this.ended) {
      if (this.error) throw this.error;
      await this.more(timeoutMs).catch((error) => {
        if (!this.ended) throw error;
      });
    }
    if (this.error) throw this.error;
  }

  destroy() {
    this.socket.destroy();
  }
}

const KiB = 1024;
const health = "GET /health HTTP/1.1\r\nHost: api.test\r\n\r\n";
const post = (headers: string) =>
  `POST /auth/register HTTP/1.1\r\nHost: api.test\r\nContent-Type: application/json\r\n${headers}\r\n`;
const chunk = (data: string) => `${data.length.toString(16)}\r\n${data}\r\n`;

function expectTooLarge(response: RawResponse) {
  expect(response.status).toBe(413);
  expect(JSON.parse(response.body)).toEqual({ detail: "Request body too large" });
}

describe("a 413 on a keep-alive connection", () => {
  it("leaves the connection usable after an oversized body with a Content-Length", async () => {
    const connection = await Connection.open(app);
    try {
      const body = "x".repeat(300 * KiB);
      await connection.write(`${post(`Content-Length: ${body.length}\r\n`)}${body}`);
      expectTooLarge(await connection.response());
      await connection.write(health);
      const next = await connection.response();
      expect(next.status).toBe(200);
      expect(JSON.parse(next.body)).toEqual({ status: "ok" });
    } finally {
      connection.destroy();
    }
  });

  it("leaves the connection usable after an oversized chunked body", async () => {
    const connection = await Connection.open(app);
    try {
      await connection.write(post("Transfer-Encoding: chunked\r\n"));
      for (let i = 0; i < 20; i++) await connection.write(chunk("y".repeat(32 * KiB)));
      await connection.write("0\r\n\r\n");
      expectTooLarge(await connection.response());
      await connection.write(health);
      expect((await connection.response()).status).toBe(200);
    } finally {
      connection.destroy();
    }
  });

  it("answers a body declared beyond the drain budget at once, without reading it, then ends the connection", async () => {
    const connection = await Connection.open(app);
    try {
      // Only the head is sent: the 413 comes without the body being waited for. (A client that
      // kept sending would be reset once the runtime closes with its bytes unread: beyond 1 MiB
      // that is the answer, as the module comment of src/http/body-limit.ts says.)
      await connection.write(post(`Content-Length: ${8 * 1024 * KiB}\r\n`));
      expectTooLarge(await connection.response());
      await connection.closed();
    } finally {
      connection.destroy();
    }
    // The server itself is fine: a new connection is served.
    const fresh = await Connection.open(app);
    try {
      await fresh.write(health);
      expect((await fresh.response()).status).toBe(200);
    } finally {
      fresh.destroy();
    }
  });

  it("still takes a body just under the limit", async () => {
    const connection = await Connection.open(app);
    try {
      const body = JSON.stringify({ email: "x", password: "y".repeat(255 * KiB), display_name: "z" });
      await connection.write(`${post(`Content-Length: ${Buffer.byteLength(body)}\r\n`)}${body}`);
      const response = await connection.response();
      expect(response.status).toBe(422);
      await connection.write(health);
      expect((await connection.response()).status).toBe(200);
    } finally {
      connection.destroy();
    }
  });
});

/**
 * Socket handshakes as a closed loop: `connections` clients each open a channel socket with the
 * token in the `bearer` subprotocol (as the web app does), close it as soon as it is open, wait
 * for the server's close frame, and start over, for a while. One "request" is a whole
 * open + close.
 *
 * The client speaks the protocol by hand over a TCP socket (a fixed key, one masked close frame,
 * just enough frame parsing to find the server's close): the `ws` package goes through Node's
 * HTTP client and cost about 1 ms of CPU per handshake, as much as the server's share.
 */
import { connect } from "node:net";
import { closedLoop } from "./closed-loop";
import type { LoadOptions, LoadResult } from "./load";

export interface HandshakeTarget {
  /** ws://host:port/ws/chat/{workspace}/{channel} */
  url: string;
  tokens: string[];
  /** Offer permessage-deflate as browsers do (the server declines it). */
  offerDeflate?: boolean;
}

// RFC 6455's example key and the accept value it must produce.
const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
/** A client close frame, code 1000, masked with a zero key (the mask bit is what is required). */
const CLOSE_FRAME = Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);

/** Whether `frames` (server frames, unmasked) hold a complete close frame. */
function holdsClose(frames: Buffer): boolean {
  let i = 0;
  while (i + 2 <= frames.length) {
    const opcode = (frames[i] as number) & 0x0f;
    let length = (frames[i + 1] as number) & 0x7f;
    let header = 2;
    if (length === 126) {
      if (i + 4 > frames.length) return false;
      length = frames.readUInt16BE(i + 2);
      header = 4;
    } else if (length === 127) {
      if (i + 10 > frames.length) return false;
      length = Number(frames.readBigUInt64BE(i + 2));
      header = 10;
    }
    if (i + header + length > frames.length) return false;
    if (opcode === 0x8) return true;
    i += header + length;
  }
  return false;
}

function openAndClose(url: URL, offerDeflate: boolean, token: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname);
    let received: Buffer = Buffer.alloc(0);
    let upgraded = false;
    let ok = false;
    const timer = setTimeout(() => socket.destroy(), 10_000);
    socket.setNoDelay(true);
    socket.once("connect", () => {
      socket.write(
        `GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: bearer, ${token}\r\n` +
          (offerDeflate ? "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" : "") +
          "\r\n",
      );
    });
    socket.on("data", (chunk: Buffer) => {
      received = received.length ? Buffer.concat([received, chunk]) : chunk;
      if (!upgraded) {
        const end = received.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = received.subarray(0, end).toString("latin1").toLowerCase();
        const accepted =
          head.startsWith("http/1.1 101") &&
          head.includes(`sec-websocket-accept: ${ACCEPT.toLowerCase()}`) &&
          /\r\nsec-websocket-protocol: bearer\r?$/m.test(head);
        if (!accepted) {
          socket.destroy();
          return;
        }
        upgraded = true;
        received = received.subarray(end + 4);
        socket.write(CLOSE_FRAME);
      }
      if (holdsClose(received)) {
        ok = true;
        socket.end();
      }
    });
    socket.once("error", () => {});
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(ok);
    });
  });
}

export function handshakeLoad(target: HandshakeTarget, options: LoadOptions): Promise<LoadResult> {
  const url = new URL(target.url);
  return closedLoop("raw WebSocket client", options, async (n) => {
    const token = target.tokens[n % target.tokens.length] as string;
    return (await openAndClose(url, target.offerDeflate ?? true, token)) ? "ok" : "refused";
  });
}

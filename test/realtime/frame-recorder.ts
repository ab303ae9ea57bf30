/**
 * Records every frame a test's sockets send and receive, and how they close, so the frames can be
 * checked against the AsyncAPI document afterwards (protocol-frames.test.ts). Wraps the rig's
 * socket (test/support/ws.ts) without changing it.
 */
import type { TestSocket } from "../support/ws";

/** The document's channel a socket belongs to. */
export type SocketKey = "chat" | "dm" | "notifications";

/**
 * What a frame a client sent is: `valid` (a frame of the protocol, though a write it asks for may
 * still be refused: a rate limit, an archived channel), `invalid` (the parser answers it with an
 * `error` event), `oversized` (over the size limit: the socket is closed with 1009).
 */
export type Verdict = "valid" | "invalid" | "oversized";

export interface RecordedFrame {
  socket: SocketKey;
  direction: "sent" | "received";
  /** The text of the frame; null for a binary frame. */
  text: string | null;
  verdict?: Verdict;
}

export interface RecordedClose {
  socket: SocketKey;
  code: number;
  reason: string;
  /** The client closed first (the server only answered). */
  byClient: boolean;
}

export interface RecordedSocket extends TestSocket {
  /** Sends a JSON frame (or text, or bytes) and records what the server is expected to do with it. */
  sendAs(verdict: Verdict, frame: unknown): void;
}

export class FrameRecorder {
  readonly frames: RecordedFrame[] = [];
  private readonly sockets: { key: SocketKey; socket: TestSocket; closedByClient: () => boolean }[] = [];

  /**
   * How the sockets closed so far: the close frame each received (ws keeps its code and reason
   * from the moment it arrives; its `close` event waits for the TCP connection to end).
   */
  get closes(): RecordedClose[] {
    return this.sockets.flatMap(({ key, socket, closedByClient }) => {
      const ws = socket.socket as unknown as {
        readyState: number;
        _closeCode: number;
        _closeMessage: Buffer;
      };
      if (ws.readyState < socket.socket.CLOSING) return [];
      const reason = ws._closeMessage.toString("utf8");
      return [{ socket: key, code: ws._closeCode, reason, byClient: closedByClient() }];
    });
  }

  attach(key: SocketKey, socket: TestSocket): RecordedSocket {
    let closing = false;
    this.sockets.push({ key, socket, closedByClient: () => closing });
    socket.socket.on("message", (data, isBinary) => {
      this.frames.push({ socket: key, direction: "received", text: isBinary ? null : data.toString() });
    });
    const record = (verdict: Verdict, frame: unknown) => {
      if (frame instanceof Uint8Array) {
        this.frames.push({ socket: key, direction: "sent", text: null, verdict });
        socket.socket.send(frame);
        return;
      }
      const text = typeof frame === "string" ? frame : JSON.stringify(frame);
      this.frames.push({ socket: key, direction: "sent", text, verdict });
      socket.sendText(text);
    };
    return {
      ...socket,
      send: (frame) => record("valid", frame),
      sendText: (text) => record("valid", text),
      sendAs: record,
      close(code) {
        closing = true;
        return socket.close(code);
      },
    };
  }

  count(socket: SocketKey, direction: RecordedFrame["direction"]): number {
    return this.frames.filter((f) => f.socket === socket && f.direction === direction).length;
  }
}

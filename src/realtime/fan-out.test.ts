/**
 * The fan-out rules every socket object follows (fan-out.ts; docs/original-defects.md#d4-unencodable-events):
 * an event is encoded once, an unencodable one is refused before any socket is touched, and a socket whose
 * send throws does not keep the frame from the others.
 */
import { describe, expect, it } from "vitest";
import { encodeFrame, sendToAll } from "./fan-out";

class Sink {
  frames: string[] = [];
  constructor(private readonly fails = false) {}
  send(frame: string) {
    if (this.fails) throw new Error("socket is gone");
    this.frames.push(frame);
  }
}

describe("encodeFrame", () => {
  it("encodes {type, payload} once, with an empty payload when none is given", () => {
    expect(encodeFrame({ type: "friend.requested", payload: { id: 3 } })).toBe(
      '{"type":"friend.requested","payload":{"id":3}}',
    );
    expect(encodeFrame({ type: "x", payload: undefined })).toBe('{"type":"x","payload":{}}');
  });

  it("refuses what JSON cannot encode instead of throwing", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(encodeFrame({ type: "x", payload: cyclic })).toBeNull();
    expect(encodeFrame({ type: "x", payload: { n: 1n } })).toBeNull();
  });
});

describe("sendToAll", () => {
  it("delivers to every socket after and before one that fails, and reports the failure", () => {
    const first = new Sink();
    const broken = new Sink(true);
    const last = new Sink();
    const result = sendToAll([first, broken, last], "frame");
    expect(first.frames).toEqual(["frame"]);
    expect(last.frames).toEqual(["frame"]);
    expect(result.delivered).toBe(2);
    expect(result.failed).toHaveLength(1);
    expect(result.failed[0]?.socket).toBe(broken);
    expect(String(result.failed[0]?.error)).toContain("socket is gone");
  });

  it("reports nothing delivered for no sockets", () => {
    expect(sendToAll([], "frame")).toEqual({ delivered: 0, failed: [] });
  });
});

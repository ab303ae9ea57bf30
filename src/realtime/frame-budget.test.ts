import { describe, expect, it } from "vitest";
import {
  FRAME_BURST,
  FRAME_DEBT_TO_CLOSE,
  FRAME_RATE_PER_SECOND,
  newBucket,
  nextTyping,
  spendFrame,
} from "./frame-budget";

describe("the frame budget", () => {
  it("accepts a burst, then drops, telling the socket once a second", () => {
    const bucket = newBucket(0);
    for (let i = 0; i < FRAME_BURST; i++) expect(spendFrame(bucket, 0)).toBe("accept");
    expect(spendFrame(bucket, 0)).toBe("drop-and-tell");
    expect(spendFrame(bucket, 10)).toBe("drop");
    expect(spendFrame(bucket, 50)).toBe("drop");
  });

  it("refills at the sustained rate", () => {
    const bucket = newBucket(0);
    for (let i = 0; i < FRAME_BURST; i++) spendFrame(bucket, 0);
    const oneFrame = 1000 / FRAME_RATE_PER_SECOND;
    expect(spendFrame(bucket, oneFrame)).toBe("accept");
    expect(spendFrame(bucket, oneFrame)).toBe("drop-and-tell");
    // A client that keeps to the rate is never refused.
    for (let t = 2 * oneFrame; t < 60_000; t += oneFrame) expect(spendFrame(bucket, t)).toBe("accept");
  });

  it("closes a socket that keeps flooding", () => {
    const bucket = newBucket(0);
    const verdicts = Array.from({ length: FRAME_BURST + FRAME_DEBT_TO_CLOSE }, () => spendFrame(bucket, 0));
    expect(verdicts.at(-1)).toBe("close");
    expect(verdicts.filter((v) => v === "close")).toHaveLength(1);
  });
});

describe("typing", () => {
  it("repeats a state at most once a second per user, lets a change through at once, and caps changes", () => {
    let state = nextTyping(undefined, true, 0);
    expect(state).not.toBeNull();
    expect(nextTyping(state ?? undefined, true, 500)).toBeNull();
    state = nextTyping(state ?? undefined, false, 500);
    expect(state).toMatchObject({ isTyping: false, count: 2 });
    state = nextTyping(state ?? undefined, true, 600);
    expect(state).toMatchObject({ isTyping: true, count: 3 });
    // A fourth broadcast in the same second is refused, even for a change.
    expect(nextTyping(state ?? undefined, false, 700)).toBeNull();
    expect(nextTyping(state ?? undefined, false, 1000)).toMatchObject({ count: 1, windowStart: 1000 });
    expect(nextTyping(state ?? undefined, true, 1600)).toMatchObject({ isTyping: true });
  });
});

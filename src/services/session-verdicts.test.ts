import { describe, expect, it } from "vitest";
import { knownVerdict, rememberActive, rememberRevoked } from "./session-verdicts";

const id = (name: string) => `${name}-${Math.random()}`;

describe("session verdicts", () => {
  it("knows nothing of a session it never saw", () => {
    expect(knownVerdict(id("unseen"), Date.now(), 15_000)).toBeUndefined();
  });

  it("trusts an active verdict only while it is younger than the cache period", () => {
    const sid = id("active");
    rememberActive(sid, 7, 1_000);
    expect(knownVerdict(sid, 15_999, 15_000)).toMatchObject({ userId: 7, revoked: false });
    expect(knownVerdict(sid, 16_000, 15_000)).toBeUndefined();
  });

  it("keeps a revocation for good, whatever its age", () => {
    const sid = id("revoked");
    rememberRevoked(sid, 7, 1_000);
    expect(knownVerdict(sid, 10_000_000, 15_000)).toMatchObject({ revoked: true });
  });

  it("never lets an answer read before a revocation undo it", () => {
    const sid = id("race");
    rememberRevoked(sid, 7, 2_000);
    rememberActive(sid, 7, 3_000);
    expect(knownVerdict(sid, 3_000, 15_000)).toMatchObject({ revoked: true });
  });
});

/**
 * The realtime client's pure rules: what it does after each close the server documents, and what
 * it reads of a token. Its behaviour against the real server is test/realtime/client.test.ts's.
 */
import { describe, expect, it } from "vitest";
import { CLOSE_REASONS, closeAdvice, closeCases } from "../realtime/protocol/close-codes";
import { tokenClaims } from "./connection";

describe("closeAdvice", () => {
  it.each([
    [1000, "", "reconnect"],
    [1001, CLOSE_REASONS.idleTimeout, "reconnect"],
    [1006, "", "reconnect"],
    [1008, CLOSE_REASONS.tokenExpired, "refresh_token"],
    [1008, CLOSE_REASONS.sessionRevoked, "signed_out"],
    [1008, CLOSE_REASONS.tooManyFrames, "reconnect"],
    [1008, CLOSE_REASONS.accessRevoked, "lost_access"],
    [1008, CLOSE_REASONS.channelDeleted, "lost_access"],
    [1008, "Thread is read-only: its participants share no workspace and are not friends", "lost_access"],
    [1009, "Frames are limited to 16384 characters", "reconnect"],
    [1011, CLOSE_REASONS.sendFailed, "reconnect"],
  ] as const)("%i %s: %s", (code, reason, advice) => {
    expect(closeAdvice(code, reason)).toBe(advice);
  });

  it("has an answer for every documented case", () => {
    for (const { code, reason } of closeCases(16384)) expect(closeAdvice(code, reason)).toBeTruthy();
  });
});

describe("tokenClaims", () => {
  const jwt = (claims: object) =>
    `header.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.signature`;

  it("reads exp (in ms) and sub of a JWT", () => {
    expect(tokenClaims(jwt({ sub: "42", exp: 1_700_000_000 }))).toEqual({ exp: 1_700_000_000_000, sub: 42 });
  });

  it("reads nothing of anything else", () => {
    expect(tokenClaims("opaque")).toEqual({ exp: null, sub: null });
    expect(tokenClaims(jwt({ sub: "someone" }))).toEqual({ exp: null, sub: null });
  });
});

/**
 * log.ts on its own: every line it writes passes through redaction, whatever fields a caller
 * hands it (the Worker-level test, logs.test.ts, reads real lines of the running Worker).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { createLogger, REDACTED, redactText } from "../../src/log";

const JWT =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0MiIsInNpZCI6InMifQ.c2lnbmF0dXJlLW9mLWEtdG9rZW4tMTIzNDU2";

afterEach(() => {
  vi.restoreAllMocks();
});

function captured(write: () => void): Record<string, unknown> {
  const spy = vi.spyOn(console, "log").mockImplementation(() => {});
  const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
  const error = vi.spyOn(console, "error").mockImplementation(() => {});
  write();
  const text = [...spy.mock.calls, ...warn.mock.calls, ...error.mock.calls]
    .map((c) => String(c[0]))
    .join("\n");
  expect(text).not.toContain(JWT);
  expect(text).not.toContain("hunter2");
  return JSON.parse(text);
}

describe("log redaction", () => {
  it("replaces fields named like secrets, at any depth", () => {
    const line = captured(() =>
      createLogger("info").info("x", {
        password: "hunter2",
        nested: { Authorization: `Bearer ${JWT}`, refresh_token: JWT, list: [{ api_key: "hunter2" }] },
        count: 3,
      }),
    );
    expect(line).toMatchObject({
      password: REDACTED,
      nested: { Authorization: REDACTED, refresh_token: REDACTED, list: [{ api_key: REDACTED }] },
      count: 3,
    });
  });

  it("masks credentials inside any string: query parameters, Bearer values, JWTs, error messages and stacks", () => {
    const line = captured(() =>
      createLogger("info").error(`failed for /ws/chat/1/2?since=5&token=${JWT}`, {
        detail: `header was Bearer ${JWT}`,
        err: new Error(`upstream said ${JWT} password=hunter2`),
      }),
    );
    expect(line.msg).toBe(`failed for /ws/chat/1/2?since=5&token=${REDACTED}`);
    expect(line.detail).toBe(`header was Bearer ${REDACTED}`);
    expect(line.error).toBe(`upstream said ${REDACTED} password=${REDACTED}`);
    expect(String(line.stack)).toContain("upstream said");
  });

  it("leaves ordinary text alone", () => {
    expect(redactText("/channels/7/messages?limit=50&before_id=9")).toBe(
      "/channels/7/messages?limit=50&before_id=9",
    );
  });
});

/**
 * GET /metrics (docs/original-defects.md#d6-metrics) through the real Worker: the Prometheus text format,
 * parsed strictly; requests by route template and status; the latency histogram; the socket, message and
 * rate-limit series; METRICS_TOKEN and METRICS_ENABLED.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type TestApp } from "../support/app";
import { api } from "../support/http";
import { joinChat } from "../support/sockets";
import { buildRoom, post } from "../support/worlds";
import { checkHistogram, parsePrometheusText, sampleValue } from "./prometheus";

let app: TestApp;

beforeAll(async () => {
  app = await startApp({ env: { RATE_LIMIT_HTTP_PER_MINUTE: "3" } });
});
afterAll(async () => {
  await app?.close();
});

async function scrape(target: TestApp = app, token?: string) {
  const res = await api(target, { token }).get("/metrics");
  expect(res.status, res.text).toBe(200);
  expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  return parsePrometheusText(res.text);
}

const ip = (n: number) => ({ "CF-Connecting-IP": `192.0.2.${n}` });

describe("GET /metrics", () => {
  it("counts requests by method, route template and status, with a latency histogram", async () => {
    const before = await scrape();
    const base = {
      health:
        sampleValue(before, "http_requests_total", { method: "GET", path: "/health", status: "200" }) ?? 0,
      messages:
        sampleValue(before, "http_requests_total", {
          method: "GET",
          path: "/channels/{channel_id}/messages",
          status: "401",
        }) ?? 0,
    };
    await api(app).get("/health", { headers: ip(1) });
    await api(app).get("/health", { headers: ip(1) });
    await api(app).get("/channels/123/messages", { headers: ip(1) });
    await api(app).get("/channels/456/messages", { headers: ip(1) });
    await api(app).get("/no/such/path", { headers: ip(1) });
    await api(app).delete("/health", { headers: ip(2) });

    const after = await scrape();
    expect(sampleValue(after, "http_requests_total", { method: "GET", path: "/health", status: "200" })).toBe(
      base.health + 2,
    );
    expect(
      sampleValue(after, "http_requests_total", {
        method: "GET",
        path: "/channels/{channel_id}/messages",
        status: "401",
      }),
    ).toBe(base.messages + 2);
    expect(
      sampleValue(after, "http_requests_total", { method: "GET", path: "__unmatched__", status: "404" }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sampleValue(after, "http_requests_total", { method: "DELETE", path: "__unmatched__", status: "405" }),
    ).toBeGreaterThanOrEqual(1);

    const requests = after.get("http_requests_total");
    expect(requests?.type).toBe("counter");
    // Templates only: no ids, no query strings; and /metrics is not counted.
    for (const sample of requests?.samples ?? []) {
      expect(sample.labels.path).not.toMatch(/\/\d+(\/|$)|\?/);
      expect(sample.labels.path).not.toBe("/metrics");
    }

    const durations = after.get("http_request_duration_seconds");
    expect(durations?.type).toBe("histogram");
    if (!durations) throw new Error("no histogram");
    checkHistogram(durations);
    expect(
      sampleValue(after, "http_request_duration_seconds_count", { method: "GET", path: "/health" }),
    ).toBe(base.health + 2);
  });

  it("reports open sockets, stored messages and rate-limit rejections", async () => {
    const before = await scrape();
    const rejected = sampleValue(before, "rate_limit_rejections_total", { rule: "http" }) ?? 0;
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await api(app).get("/heath", { headers: ip(9) })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    // /metrics itself is exempt from the limits.
    const after = await scrape();
    expect(sampleValue(after, "rate_limit_rejections_total", { rule: "http" })).toBe(rejected + 1);
    for (const rule of [
      "ws-connect",
      "login",
      "login-user",
      "login-account",
      "refresh",
      "register",
      "channel-message",
      "dm-message",
    ]) {
      expect(sampleValue(after, "rate_limit_rejections_total", { rule }), rule).toBeTypeOf("number");
    }
    expect(after.get("rate_limit_rejections_total")?.type).toBe("counter");
    expect(after.get("websocket_connections_open")?.type).toBe("gauge");
    for (const endpoint of ["chat", "notifications", "dm"]) {
      expect(sampleValue(after, "websocket_connections_open", { endpoint })).toBeGreaterThanOrEqual(0);
    }
    expect(after.get("messages_stored_total")?.type).toBe("counter");
    expect(sampleValue(after, "messages_stored_total", { kind: "channel" })).toBeGreaterThanOrEqual(0);
    expect(after.get("rate_limiter_unavailable_total")?.type).toBe("counter");
  });
});

describe("socket and message series", () => {
  it("follow real sockets opening and closing and messages being stored", async () => {
    const live = await startApp({ database: app.database });
    try {
      const room = await buildRoom(live);
      const open = async () =>
        sampleValue(await scrape(live), "websocket_connections_open", { endpoint: "chat" }) ?? 0;
      const stored = async () =>
        sampleValue(await scrape(live), "messages_stored_total", { kind: "channel" }) ?? 0;
      const [openBefore, storedBefore] = [await open(), await stored()];
      const first = await joinChat(live, room, room.owner);
      const second = await joinChat(live, room, room.member);
      expect(await open()).toBe(openBefore + 2);
      await post(live, room.owner, room.channelId, "counted");
      second.send({ type: "message", content: "counted too" });
      await first.next("message");
      await first.next("message");
      expect(await stored()).toBe(storedBefore + 2);
      await second.close();
      await expect.poll(open, { timeout: 10_000 }).toBe(openBefore + 1);
      await first.close();
      await expect.poll(open, { timeout: 10_000 }).toBe(openBefore);
    } finally {
      await live.close();
    }
  }, 30_000);
});

describe("access", () => {
  it("requires the bearer token when METRICS_TOKEN is set", async () => {
    const guarded = await startApp({ database: app.database, env: { METRICS_TOKEN: "scrape-me-please" } });
    try {
      const none = await api(guarded).get("/metrics");
      expect(none.status).toBe(401);
      expect(none.headers.get("www-authenticate")).toBe("Bearer");
      expect((await api(guarded, { token: "scrape-me-not" }).get("/metrics")).status).toBe(401);
      await scrape(guarded, "scrape-me-please");
    } finally {
      await guarded.close();
    }
  });

  it("is not served when METRICS_ENABLED is false", async () => {
    const off = await startApp({ database: app.database, env: { METRICS_ENABLED: "false" } });
    try {
      const res = await api(off).get("/metrics");
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ detail: "Not Found" });
    } finally {
      await off.close();
    }
  });
});

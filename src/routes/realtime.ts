/**
 * WebSocket endpoints (contract 3): the Worker authenticates the handshake and refuses it with
 * HTTP 403 before any upgrade (3.1, D7; see realtime/handshake.ts); the socket itself lives in
 * a Durable Object (realtime/notification-feed.ts).
 */
import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../context";
import { notFound } from "../errors";
import { jsonBody, validate, zInt } from "../http/validation";
import {
  authenticateHandshake,
  isUpgrade,
  presentedToken,
  refuseForeignOrigin,
  upgradeRequired,
} from "../realtime/handshake";
import { feedName, openFeedSocket } from "../realtime/notification-feed";

const testEvent = z.object({
  type: z.string().min(1).max(64),
  payload: z.record(z.string(), z.unknown()).default({}),
  /** Adds a value JSON cannot encode, to exercise the feed's handling of a bad event (D4). */
  unencodable: z.boolean().default(false),
});

export const realtimeRoutes = new Hono<AppEnv>()
  .get("/ws/notifications", async (c) => {
    if (!isUpgrade(c)) return upgradeRequired(c);
    refuseForeignOrigin(c);
    const presented = presentedToken(c);
    const caller = await authenticateHandshake(c, presented.token);
    // For the request log line (user_id). The connect limit ran before this (http/rate-limit.ts).
    c.set("caller", caller);
    return openFeedSocket(c.env.NOTIFICATION_FEED, {
      userId: caller.userId,
      sessionId: caller.sessionId ?? null,
      expiresAtSeconds: caller.expiresAtSeconds,
      protocol: presented.protocol,
    });
  })

  // ENV=test only: delivers an arbitrary event to a user's feed, so the suite can exercise
  // event types and failures that no product route produces.
  .post(
    "/__test__/notifications/:user_id",
    async (c, next) => {
      if (c.var.config?.env !== "test") throw notFound();
      await next();
    },
    validate("param", z.object({ user_id: zInt() })),
    jsonBody(testEvent),
    async (c) => {
      const body = c.req.valid("json");
      const payload: Record<string, unknown> = body.unencodable
        ? { ...body.payload, unencodable: 1n }
        : body.payload;
      const namespace = c.env.NOTIFICATION_FEED;
      const stub = namespace.get(namespace.idFromName(feedName(c.req.valid("param").user_id)));
      const delivered = await stub.deliver({ type: body.type, payload });
      return c.json({ delivered });
    },
  );

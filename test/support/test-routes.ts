/**
 * Routes only the test entry has (test-worker.ts), never the deployed Worker: an unhandled crash
 * and a validating echo (the error layer before, and independently of, the product routes), the
 * app's registered routes (compared with /openapi.json), an arbitrary event for a user's feed, and
 * a probe of a conversation's object (which instance answers, and how many sockets it holds).
 */
import { type Hono, Hono as HonoApp } from "hono";
import { z } from "zod";
import type { AppEnv } from "../../src/context";
import { jsonBody, validate, zInt } from "../../src/http/validation";
import { feedName } from "../../src/realtime/names";
import { conversationStub } from "../../src/realtime/port";
import type { ProbedRoom } from "./test-worker";

const echoBody = z.object({
  name: z.string().min(2).max(32),
  count: z.number().int(),
  email: z.email().optional(),
});

const testEvent = z.object({
  type: z.string().min(1).max(64),
  payload: z.record(z.string(), z.unknown()).default({}),
  /** Adds a value JSON cannot encode, to exercise the feed's handling of a bad event. */
  unencodable: z.boolean().default(false),
});

const roomParam = z.object({ id: zInt() });

export function mountTestRoutes(app: Hono<AppEnv>) {
  const routes = new HonoApp<AppEnv>()
    .get("/__test__/crash", () => {
      throw new Error("deliberate crash for the error-layer test");
    })
    .post(
      "/__test__/echo/:item_id",
      validate("param", z.object({ item_id: zInt() })),
      validate("query", z.object({ limit: zInt().optional() })),
      jsonBody(echoBody),
      (c) =>
        c.json({
          item_id: c.req.valid("param").item_id,
          query: c.req.valid("query"),
          body: c.req.valid("json"),
        }),
    )
    .get("/__test__/routes", (c) =>
      c.json(
        app.routes
          .filter((r) => !r.path.startsWith("/__test__"))
          .map(({ method, path }) => ({ method, path })),
      ),
    )
    .post("/__test__/notifications/:id", validate("param", roomParam), jsonBody(testEvent), async (c) => {
      const body = c.req.valid("json");
      const payload: Record<string, unknown> = body.unencodable
        ? { ...body.payload, unencodable: 1n }
        : body.payload;
      const namespace = c.env.NOTIFICATION_FEED;
      const stub = namespace.get(namespace.idFromName(feedName(c.req.valid("param").id)));
      return c.json({ delivered: await stub.deliver({ type: body.type, payload }) });
    })
    .get("/__test__/channel-rooms/:id", validate("param", roomParam), async (c) => {
      const stub = conversationStub(c.env, "channel", c.req.valid("param").id) as unknown as ProbedRoom;
      return c.json(await stub.testProbe());
    })
    .get("/__test__/dm-threads/:id", validate("param", roomParam), async (c) => {
      const stub = conversationStub(c.env, "dm", c.req.valid("param").id) as unknown as ProbedRoom;
      return c.json(await stub.testProbe());
    });
  app.route("/", routes);
}

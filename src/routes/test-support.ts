/**
 * Routes that exist only when ENV=test (404 otherwise), so the suite can exercise the error
 * layer before, and independently of, the product routes: an unhandled crash, and an echo
 * that validates a body, a query string and a path parameter.
 */
import { type Context, Hono, type Next } from "hono";
import { z } from "zod";
import type { AppEnv } from "../context";
import { notFound } from "../errors";
import { jsonBody, validate, zInt } from "../http/validation";

const onlyInTests = async (c: Context<AppEnv>, next: Next) => {
  if (c.var.config?.env !== "test") throw notFound();
  await next();
};

const echoBody = z.object({
  name: z.string().min(2).max(32),
  count: z.number().int(),
  email: z.email().optional(),
});

export const testSupportRoutes = new Hono<AppEnv>()
  .use("/__test__/*", onlyInTests)
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
  );

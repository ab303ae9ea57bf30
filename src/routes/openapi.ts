/**
 * The API's own documentation: the OpenAPI 3.1 document (src/openapi/document.ts) at
 * /openapi.json and Swagger UI reading it at /docs.
 */
import { swaggerUI } from "@hono/swagger-ui";
import { Hono } from "hono";
import type { AppEnv } from "../context";
import { openApiJson } from "../openapi/document";

/** Swagger UI's assets come from jsDelivr; the major version is pinned. */
const SWAGGER_UI_VERSION = "5";

export function openApiRoutes() {
  return new Hono<AppEnv>()
    .get("/openapi.json", (c) =>
      c.body(openApiJson(), 200, { "Content-Type": "application/json; charset=UTF-8" }),
    )
    .get("/docs", swaggerUI({ url: "/openapi.json", title: "Braumchat API", version: SWAGGER_UI_VERSION }));
}

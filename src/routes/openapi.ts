/**
 * The API's own documentation: the OpenAPI 3.1 document (src/openapi/document.ts) at
 * /openapi.json and Swagger UI reading it at /docs, its browser files served by the Worker too
 * (src/openapi/viewer/assets.ts), under a Content-Security-Policy that allows this origin only.
 */
import { type Context, Hono } from "hono";
import type { AppEnv } from "../context";
import { notFound } from "../errors";
import { openApiJson } from "../openapi/document";
import {
  DOCS_ASSETS_PREFIX,
  DOCS_CONTENT_SECURITY_POLICY,
  type DocsFile,
  docsAsset,
  docsPage,
} from "../openapi/viewer/assets";
import { matchesEtag } from "../openapi/viewer/http-cache";

function serveDocsFile(c: Context<AppEnv>, file: DocsFile) {
  const headers = {
    "Cache-Control": file.cacheControl,
    ETag: file.etag,
    "Content-Security-Policy": DOCS_CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
  };
  if (matchesEtag(c.req.header("If-None-Match"), file.etag)) return c.body(null, 304, headers);
  return c.body(file.body, 200, { ...headers, "Content-Type": file.contentType });
}

export function openApiRoutes() {
  return new Hono<AppEnv>()
    .get("/openapi.json", (c) =>
      c.body(openApiJson(), 200, { "Content-Type": "application/json; charset=UTF-8" }),
    )
    .get("/docs", async (c) => serveDocsFile(c, await docsPage()))
    .get(`${DOCS_ASSETS_PREFIX}:file`, async (c) => {
      const file = await docsAsset(c.req.param("file"));
      if (!file) throw notFound();
      return serveDocsFile(c, file);
    });
}

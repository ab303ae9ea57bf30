/**
 * The API's own documentation: the OpenAPI 3.1 document (src/openapi/document.ts) at
 * /openapi.json and Swagger UI reading it at /docs, its browser files served by the Worker too
 * (src/openapi/viewer/assets.ts), under a Content-Security-Policy that allows this origin only;
 * the sockets' AsyncAPI 3.0 document (src/openapi/asyncapi/) at /asyncapi.json, rendered for
 * people at /docs/sockets under the same policy.
 */
import { type Context, Hono } from "hono";
import type { AppEnv } from "../context";
import { notFound } from "../errors";
import {
  type AsyncApiDocument,
  asyncApi,
  protocolSettings,
  type ServerAddress,
} from "../openapi/asyncapi/document";
import { socketsPageHtml } from "../openapi/asyncapi/page";
import { openApiJson } from "../openapi/document";
import {
  DOCS_ASSETS_PREFIX,
  DOCS_CONTENT_SECURITY_POLICY,
  type DocsFile,
  docsAsset,
  docsAssetUrl,
  docsPage,
  htmlPage,
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

/** Where clients reach this deployment's sockets, as the request shows it (nginx says `https`). */
function serverAddress(c: Context<AppEnv>): ServerAddress {
  const url = new URL(c.req.url);
  const secure = url.protocol === "https:" || c.req.header("X-Forwarded-Proto") === "https";
  return { host: c.req.header("Host") ?? url.host, protocol: secure ? "wss" : "ws" };
}

const socketsDocument = (c: Context<AppEnv>) => asyncApi(protocolSettings(c.var.config), serverAddress(c));

/** The page of each document built (one while the settings and address stay the same). */
const socketsPages = new WeakMap<AsyncApiDocument, Promise<DocsFile>>();

function socketsPage(document: AsyncApiDocument): Promise<DocsFile> {
  let page = socketsPages.get(document);
  if (!page) {
    page = docsAssetUrl("sockets.css").then((css) => htmlPage(socketsPageHtml(document, css)));
    socketsPages.set(document, page);
    page.catch(() => socketsPages.delete(document)); // the next request tries again
  }
  return page;
}

export function openApiRoutes() {
  return new Hono<AppEnv>()
    .get("/openapi.json", (c) =>
      c.body(openApiJson(), 200, { "Content-Type": "application/json; charset=UTF-8" }),
    )
    .get("/asyncapi.json", (c) =>
      c.body(socketsDocument(c).json, 200, { "Content-Type": "application/json; charset=UTF-8" }),
    )
    .get("/docs", async (c) => serveDocsFile(c, await docsPage()))
    .get("/docs/sockets", async (c) => serveDocsFile(c, await socketsPage(socketsDocument(c).document)))
    .get(`${DOCS_ASSETS_PREFIX}:file`, async (c) => {
      const file = await docsAsset(c.req.param("file"));
      if (!file) throw notFound();
      return serveDocsFile(c, file);
    });
}

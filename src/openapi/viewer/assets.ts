/**
 * GET /docs served by the Worker itself: Swagger UI from the swagger-ui-dist package (its exact
 * version pinned in package.json), so the page needs nothing outside the deployment — no CDN, and
 * it works behind a closed network or a strict Content-Security-Policy.
 *
 * The browser files are Text modules of the bundle (wrangler.toml [[rules]]; deploy/workerd.capnp
 * lists them too). Each is served under a name carrying a hash of its content
 * (/docs/assets/swagger-ui-bundle.<hash>.js), so browsers may keep it for a year: a new version is
 * a new URL. The page itself is revalidated on every visit (ETag).
 */

import swaggerUiCss from "swagger-ui-dist/swagger-ui.css";
import swaggerUiBundle from "swagger-ui-dist/swagger-ui-bundle.js";
import { SOCKETS_PAGE_CSS } from "../asyncapi/page-style";
import docsInit from "./docs-init.js";
import { hashedName } from "./http-cache";

export const DOCS_ASSETS_PREFIX = "/docs/assets/";

/**
 * Only this origin's scripts, styles, images (and the data: images swagger-ui.css embeds) and
 * fetches (/openapi.json, "Try it out"); no inline script or style, no plugins, no framing, no
 * form posts or <base> elsewhere.
 */
export const DOCS_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** A response body and how to serve it. */
export interface DocsFile {
  body: string;
  contentType: string;
  cacheControl: string;
  /** A strong ETag (quoted) of the body. */
  etag: string;
}

const JS = "text/javascript; charset=utf-8";
const IMMUTABLE = "public, max-age=31536000, immutable";

const CSS = "text/css; charset=utf-8";

/**
 * Name (before the hash goes in), content, type. The order is the page's loading order; the last
 * is /docs/sockets' style sheet (asyncapi/page.ts).
 */
const SOURCES = [
  { name: "swagger-ui.css", body: swaggerUiCss, contentType: CSS },
  { name: "swagger-ui-bundle.js", body: swaggerUiBundle, contentType: JS },
  { name: "docs-init.js", body: docsInit, contentType: JS },
  { name: "sockets.css", body: SOCKETS_PAGE_CSS, contentType: CSS },
] as const;

type SourceName = (typeof SOURCES)[number]["name"];

interface Catalogue {
  page: DocsFile;
  /** The hashed URL of each file, by its plain name. */
  urls: Map<string, string>;
  /** By hashed file name, e.g. `swagger-ui-bundle.0123456789abcdef.js`. */
  assets: Map<string, DocsFile>;
}

/** The first 16 hex digits of the body's SHA-256: 64 bits name a version well enough. */
async function contentHash(body: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body));
  return [...new Uint8Array(digest, 0, 8)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

function pageHtml(url: (name: SourceName) => string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Braumchat API</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${url("swagger-ui.css")}">
</head>
<body>
<div id="swagger-ui"><noscript>This documentation needs JavaScript; the document itself is at <a href="/openapi.json">/openapi.json</a>.</noscript></div>
<script src="${url("swagger-ui-bundle.js")}"></script>
<script src="${url("docs-init.js")}"></script>
</body>
</html>
`;
}

async function buildCatalogue(): Promise<Catalogue> {
  const assets = new Map<string, DocsFile>();
  const urls = new Map<string, string>();
  for (const source of SOURCES) {
    const hash = await contentHash(source.body);
    const file = hashedName(source.name, hash);
    urls.set(source.name, `${DOCS_ASSETS_PREFIX}${file}`);
    assets.set(file, {
      body: source.body,
      contentType: source.contentType,
      cacheControl: IMMUTABLE,
      etag: `"${hash}"`,
    });
  }
  const page = await htmlPage(pageHtml((name) => urls.get(name) as string));
  return { page, assets, urls };
}

/** An HTML page of the documentation: revalidated on every visit (ETag). */
export async function htmlPage(html: string): Promise<DocsFile> {
  return {
    body: html,
    contentType: "text/html; charset=utf-8",
    cacheControl: "no-cache",
    etag: `"${await contentHash(html)}"`,
  };
}

let catalogue: Promise<Catalogue> | undefined;

/** Hashed once per isolate, on the first request for the documentation. */
function loadCatalogue(): Promise<Catalogue> {
  catalogue ??= buildCatalogue().catch((error: unknown) => {
    catalogue = undefined; // the next request tries again
    throw error;
  });
  return catalogue;
}

export async function docsPage(): Promise<DocsFile> {
  return (await loadCatalogue()).page;
}

/** Where a file is served: `/docs/assets/<name with its hash>`. */
export async function docsAssetUrl(name: SourceName): Promise<string> {
  return (await loadCatalogue()).urls.get(name) as string;
}

/** The asset of that hashed file name; undefined for any other name (an old hash included). */
export async function docsAsset(file: string): Promise<DocsFile | undefined> {
  return (await loadCatalogue()).assets.get(file);
}

/**
 * GET /docs in a real headless Chromium (issue 15, item 2): the page renders every operation of
 * /openapi.json with nothing but this Worker's own files — no request to another host, no
 * Content-Security-Policy violation, no script error. Likewise /docs/sockets (issue 15, item 3),
 * linked from /docs, shows every socket and message of /asyncapi.json with its style sheet. The browser visits the Worker under a host
 * name, as people do (Swagger UI behaves differently on localhost and 127.0.0.1).
 *
 * Requests are watched twice: by the page (the DevTools protocol's request events, and the page's
 * own CSP violation reports) and on the network (every request of the browser goes through a
 * recording proxy that lets only the Worker's origin through). Two controls show the watch
 * catches what it must: a load from another host tried on /docs (blocked by the policy), and a
 * page that loads Swagger UI from a CDN, as /docs once did (the requests fail here, and are
 * counted all the same).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OpenApiDocument } from "../openapi/support";
import { startApp, type TestApp } from "../support/app";
import {
  chromiumAvailable,
  collectCspViolations,
  misbehaviour,
  openWatchedPage,
  refusedPageRequests,
  startChromium,
  type WatchedPage,
  WELL_BEHAVED,
} from "../support/browser";
import type { RecordingProxy } from "../support/recording-proxy";
import { documentOperations, openDocsPage, renderedOperations } from "./swagger-ui";

/** Each wait of a test; a test as a whole is bounded by TEST_TIMEOUT_MS (the rig's default is 30 s). */
const LOAD_TIMEOUT_MS = 20_000;
const TEST_TIMEOUT_MS = 60_000;
const CDN = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5";

const hasBrowser = chromiumAvailable();

let app: TestApp;
/** Where the browser sees the Worker: http://docs.braumchat.test:<port>, routed by the proxy. */
let origin: string;
let browser: Browser;
let proxy: RecordingProxy;
let opened: WatchedPage | undefined;

beforeAll(async () => {
  if (!hasBrowser) return;
  const [started, chromium] = await Promise.all([startApp(), startChromium()]);
  app = started;
  origin = `http://docs.braumchat.test:${new URL(app.url).port}`;
  ({ browser, proxy } = chromium);
});
afterAll(async () => {
  await opened?.context.close();
  await browser?.close();
  await proxy?.close();
  await app?.close();
});

/** A new watched page (the previous one closed) that may reach `allowedOrigin` only. */
async function openWatched(allowedOrigin: string, server: string): Promise<WatchedPage> {
  await opened?.context.close();
  opened = await openWatchedPage(browser, proxy, allowedOrigin, server);
  return opened;
}

/** `GET http://…/docs/assets/swagger-ui-bundle.<hash>.js` → `GET /docs/assets/swagger-ui-bundle.js` */
const withoutHash = (request: string) => request.replace(origin, "").replace(/\.[0-9a-f]{16}\./, ".");

describe.skipIf(!hasBrowser)("/docs in headless Chromium", () => {
  it(
    "renders every operation of /openapi.json and runs one, with no request leaving the Worker's origin",
    async () => {
      const doc = (await (await app.fetch("/openapi.json")).json()) as OpenApiDocument;
      const expected = documentOperations(doc);
      expect(expected.length).toBeGreaterThan(70);
      const watched = await openWatched(origin, app.url);

      // Swagger UI fetches /openapi.json, then renders one block per operation.
      const response = await openDocsPage(watched.page, `${origin}/docs`, expected.length, LOAD_TIMEOUT_MS);
      expect(response.status()).toBe(200);
      const policy = response.headers()["content-security-policy"] ?? "";
      expect(policy).toContain("script-src 'self'");
      expect(policy).not.toMatch(/unsafe-inline|unsafe-eval/);
      expect(await watched.page.locator(".info .title").first().textContent()).toContain("Braumchat API");
      expect((await renderedOperations(watched.page)).sort()).toEqual([...expected].sort());

      // "Try it out" calls the API from the page (the policy's connect-src).
      const health = watched.page.locator("#operations-health-get_health");
      await health.locator(".opblock-summary").click();
      await health.getByRole("button", { name: "Try it out" }).click();
      await health.getByRole("button", { name: "Execute" }).click();
      const status = health.locator(".live-responses-table .response .response-col_status").first();
      await status.waitFor({ timeout: LOAD_TIMEOUT_MS });
      expect((await status.textContent())?.trim()).toBe("200");

      expect(await misbehaviour(proxy, watched)).toEqual(WELL_BEHAVED);
      // All the page fetched: itself, Swagger UI's style and script, the start script, the document,
      // and the call it was asked to make.
      const fetched = proxy.requests.filter((request) => request.startsWith(`GET ${origin}/`));
      expect(fetched.map(withoutHash).sort()).toEqual(
        [
          "GET /docs",
          "GET /docs/assets/swagger-ui.css",
          "GET /docs/assets/swagger-ui-bundle.js",
          "GET /docs/assets/docs-init.js",
          "GET /openapi.json",
          "GET /health",
        ].sort(),
      );
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "links /docs/sockets, which shows every socket and message of /asyncapi.json under the same policy",
    async () => {
      const openapi = (await (await app.fetch("/openapi.json")).json()) as OpenApiDocument;
      const asyncapi = (await (await app.fetch("/asyncapi.json")).json()) as {
        channels: Record<string, { address: string }>;
        components: { messages: Record<string, unknown> };
      };
      const watched = await openWatched(origin, app.url);
      const { page } = watched;
      await openDocsPage(page, `${origin}/docs`, documentOperations(openapi).length, LOAD_TIMEOUT_MS);
      // Swagger UI renders the document's description, which links the sockets' page.
      expect(await page.locator('.info a[href="/docs/sockets"]').count()).toBeGreaterThan(0);

      const response = await page.goto(`${origin}/docs/sockets`, {
        waitUntil: "load",
        timeout: LOAD_TIMEOUT_MS,
      });
      expect(response?.status()).toBe(200);
      expect(response?.headers()["content-security-policy"]).toContain("default-src 'none'");
      const addresses = await page.$$eval("h2.channel code", (codes) =>
        codes.map((code) => code.textContent),
      );
      expect(addresses).toEqual(Object.values(asyncapi.channels).map((channel) => channel.address));
      const messages = await page.$$eval("article.message[id^='message-']", (articles) =>
        articles.map((article) => article.id.replace("message-", "")),
      );
      expect(new Set(messages)).toEqual(new Set(Object.keys(asyncapi.components.messages)));
      // The style sheet applied: a file of this origin, allowed by the policy.
      const collapse = await page.$eval("table", (table) => getComputedStyle(table).borderCollapse);
      expect(collapse).toBe("collapse");

      expect(await misbehaviour(proxy, watched)).toEqual(WELL_BEHAVED);
      const fetched = proxy.requests.filter((request) => request.startsWith(`GET ${origin}/docs/s`));
      expect(fetched.map(withoutHash)).toEqual(["GET /docs/sockets"]);
      expect(proxy.requests.map(withoutHash)).toContain("GET /docs/assets/sockets.css");
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "blocks a load from another host tried on /docs, and the watch sees the attempt",
    async () => {
      const { page, watch } = await openWatched(origin, app.url);
      await page.goto(`${origin}/docs`, { waitUntil: "load", timeout: LOAD_TIMEOUT_MS });
      await page.evaluate((url) => {
        const image = new Image();
        image.src = url;
        document.body.append(image);
      }, `${CDN}/favicon-32x32.png`);
      await page.waitForFunction(() => (window.__cspViolations ?? []).length > 0, undefined, {
        timeout: 10_000,
      });
      await collectCspViolations(page, watch);
      expect(watch.cspViolations).toContain(`img-src ${CDN}/favicon-32x32.png`);
      // The policy stopped it in the browser: nothing reached the network.
      expect(refusedPageRequests(proxy)).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "catches a CDN-loading page (the old /docs) although its requests fail",
    async () => {
      // No policy, served from another local origin; jsDelivr is unreachable here (the proxy
      // refuses it), so the requests fail, and must be counted all the same.
      const cdnPage = `<!doctype html><html><head><title>CDN</title>
<link rel="stylesheet" href="${CDN}/swagger-ui.css">
</head><body><div id="swagger-ui"></div>
<script src="${CDN}/swagger-ui-bundle.js"></script>
</body></html>`;
      const server: Server = createServer((_, res) => {
        res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(cdnPage);
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      try {
        const port = (server.address() as AddressInfo).port;
        const local = `http://cdn-page.braumchat.test:${port}`;
        const { page, watch } = await openWatched(local, `http://127.0.0.1:${port}`);
        await page.goto(`${local}/`, { waitUntil: "load", timeout: LOAD_TIMEOUT_MS });
        expect(watch.offOrigin).toEqual(
          expect.arrayContaining([`${CDN}/swagger-ui.css`, `${CDN}/swagger-ui-bundle.js`]),
        );
        expect(refusedPageRequests(proxy)).toContain("CONNECT cdn.jsdelivr.net:443");
        expect(await page.locator(".opblock").count()).toBe(0);
      } finally {
        server.close();
      }
    },
    TEST_TIMEOUT_MS,
  );
});

/**
 * Reading a Swagger UI page in the browser: which operations it rendered, compared with the
 * operations of the OpenAPI document it was given. Shared by the browser test of /docs
 * (docs.browser.test.ts) and the self-hosted stack's (test/selfhost/smoke.selfhost.ts).
 */
import type { Page, Response } from "playwright-core";

const METHODS = ["get", "post", "put", "patch", "delete"];

/** `GET /channels/{channel_id}` for each operation of the document. */
export function documentOperations(doc: { paths: Record<string, Record<string, unknown>> }): string[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((method) => METHODS.includes(method))
      .map((method) => `${method.toUpperCase()} ${path}`),
  );
}

/** The operations Swagger UI rendered: one `.opblock` each, its method and path as shown. */
export function renderedOperations(page: Page): Promise<string[]> {
  return page.$$eval(".opblock", (blocks) =>
    blocks.map((block) => {
      const method = block.querySelector(".opblock-summary-method")?.textContent?.trim() ?? "?";
      const path = block.querySelector(".opblock-summary-path")?.getAttribute("data-path") ?? "?";
      return `${method.toUpperCase()} ${path}`;
    }),
  );
}

/**
 * Opens the page and waits until Swagger UI has fetched the document and rendered `count`
 * operation blocks (or `timeoutMs` passed: then it throws, naming how many it saw).
 */
export async function openDocsPage(
  page: Page,
  url: string,
  count: number,
  timeoutMs: number,
): Promise<Response> {
  const response = await page.goto(url, { waitUntil: "load", timeout: timeoutMs });
  if (!response) throw new Error(`${url}: no response`);
  try {
    await page.waitForFunction((n) => document.querySelectorAll(".opblock").length >= n, count, {
      timeout: timeoutMs,
    });
  } catch (error) {
    const seen = await page.locator(".opblock").count();
    throw new Error(`${url}: ${seen} of ${count} operations rendered (${(error as Error).message})`);
  }
  return response;
}

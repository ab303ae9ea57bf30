/**
 * A real headless Chromium for tests that must see what a person's browser sees: Debian's
 * chromium package (/usr/bin/chromium, or CHROMIUM_PATH), driven over the DevTools protocol by
 * playwright-core, which downloads no browser of its own. `bash .ci/run` installs the package as
 * root when it is missing; with CI=true a missing browser fails the test run, elsewhere the
 * browser tests are skipped with a message that says how to install it.
 */
import { existsSync } from "node:fs";
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type Page,
} from "playwright-core";
import { type RecordingProxy, startRecordingProxy } from "./recording-proxy";

const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

const INSTALL_HINT =
  "install Debian's chromium package (as root: apt-get install -y chromium) or set CHROMIUM_PATH";

/** Whether the browser is there; with CI=true its absence is an error, never a reason to skip. */
export function chromiumAvailable(): boolean {
  if (existsSync(executablePath)) return true;
  if (process.env.CI === "true")
    throw new Error(`CI=true and no Chromium at ${executablePath}: ${INSTALL_HINT}`);
  console.warn(`browser tests skipped: no Chromium at ${executablePath}; ${INSTALL_HINT}`);
  return false;
}

/**
 * Chromium as this machine needs it: headless, no sandbox (tests run as root), no GPU, and none
 * of its own background traffic (updates, sync, field trials, QUIC). Every request it sends goes
 * through the recording proxy (./recording-proxy.ts), loopback included, so the test sees all of
 * them. playwright-core gives each launch a new empty profile (--user-data-dir).
 */
export async function startChromium(): Promise<{ browser: Browser; proxy: RecordingProxy }> {
  const proxy = await startRecordingProxy();
  try {
    const browser = await chromium.launch({
      executablePath,
      headless: true,
      timeout: 30_000,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        `--proxy-server=${proxy.url}`,
        "--proxy-bypass-list=<-loopback>",
      ],
    });
    return { browser, proxy };
  } catch (error) {
    await proxy.close();
    throw error;
  }
}

/**
 * Chromium's own services, which it calls at start whatever the page, flags or not (seen with
 * Debian's Chromium 156: Google account checks and an on-demand component update check). The
 * proxy refuses them like any other host; they are left out when judging a page. A page's own
 * request to one of them would still show in the page's request events (PageWatch.offOrigin).
 */
const CHROMIUM_SERVICE_HOSTS = new Set([
  "accounts.google.com",
  "update.googleapis.com",
  "clients2.google.com",
]);

function isChromiumService(request: string): boolean {
  const target = request.split(" ")[1] ?? "";
  // `CONNECT host:443`, or `GET http://host/path`
  const host = request.startsWith("CONNECT ") ? target.replace(/:\d+$/, "") : new URL(target).hostname;
  return CHROMIUM_SERVICE_HOSTS.has(host);
}

/** The requests to another host that the proxy refused, Chromium's own services left out. */
export function refusedPageRequests(proxy: RecordingProxy): string[] {
  return proxy.refused.filter((request) => !isChromiumService(request));
}

/** What a page did that a self-contained page must not do. */
export interface PageWatch {
  /** Every URL the page asked for, in order (whether or not it was answered). */
  requests: string[];
  /** Requests to anything but the allowed origin (data: and blob: URLs never leave the browser). */
  offOrigin: string[];
  /** Content-Security-Policy violations the page reported: `<directive> <blocked URI>`. */
  cspViolations: string[];
  /** Uncaught exceptions and console errors. */
  errors: string[];
}

declare global {
  interface Window {
    __cspViolations?: string[];
  }
}

/**
 * Records every request of every page of the context from its very first one (the DevTools
 * protocol reports a request when the page issues it, so one to a host that refuses the
 * connection is recorded like any other), and the page's CSP violations and errors.
 */
export async function watchContext(context: BrowserContext, allowedOrigin: string): Promise<PageWatch> {
  const watch: PageWatch = { requests: [], offOrigin: [], cspViolations: [], errors: [] };
  context.on("request", (request) => {
    const url = request.url();
    watch.requests.push(url);
    const { protocol, origin } = new URL(url);
    if (protocol !== "data:" && protocol !== "blob:" && origin !== allowedOrigin) watch.offOrigin.push(url);
  });
  // Runs in the page before its own scripts; a blocked load never becomes a request, so the
  // page's own report is how such an attempt shows.
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (event) => {
      window.__cspViolations?.push(`${event.effectiveDirective} ${event.blockedURI}`);
    });
  });
  context.on("page", (page) => watchPageErrors(page, watch));
  return watch;
}

function watchPageErrors(page: Page, watch: PageWatch) {
  page.on("pageerror", (error) => watch.errors.push(`uncaught: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error")
      watch.errors.push(`console: ${message.text()} (${message.location().url})`);
  });
}

/** Copies the page's CSP violation reports into the watch (call before judging it). */
export async function collectCspViolations(page: Page, watch: PageWatch): Promise<void> {
  watch.cspViolations.push(...((await page.evaluate(() => window.__cspViolations ?? [])) as string[]));
}

export interface WatchedPage {
  context: BrowserContext;
  page: Page;
  watch: PageWatch;
}

/**
 * A new context (own cookies and cache) with one page, whose requests may reach `origin` only,
 * served by `server` (the proxy routes the name there): everything else is recorded and refused.
 */
export async function openWatchedPage(
  browser: Browser,
  proxy: RecordingProxy,
  origin: string,
  server: string,
  options: BrowserContextOptions = {},
): Promise<WatchedPage> {
  proxy.reset({ [origin]: server });
  const context = await browser.newContext(options);
  const watch = await watchContext(context, origin);
  return { context, watch, page: await context.newPage() };
}

/** Everything a self-contained page must not have done, each list empty when it behaved. */
export async function misbehaviour(proxy: RecordingProxy, { page, watch }: WatchedPage) {
  await collectCspViolations(page, watch);
  return {
    "requests to another host, on the network": refusedPageRequests(proxy),
    "requests to another host, seen by the page": watch.offOrigin,
    "Content-Security-Policy violations": watch.cspViolations,
    "script errors": watch.errors,
  };
}

export const WELL_BEHAVED = {
  "requests to another host, on the network": [],
  "requests to another host, seen by the page": [],
  "Content-Security-Policy violations": [],
  "script errors": [],
};

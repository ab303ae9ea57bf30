/**
 * The client's address (contract 6.1, with its spoofing defect fixed).
 *
 * On Cloudflare the runtime sets CF-Connecting-IP itself (a client cannot forge it there).
 * Self-hosted behind our nginx, the peer is the proxy, so with TRUST_PROXY_HEADERS the
 * address is the right-most X-Forwarded-For entry — the one our proxy appended — rather than
 * the left-most, which any client can write. The nginx config clears CF-Connecting-IP.
 */
import type { Context } from "hono";
import type { AppEnv } from "../context";

const MAX_LENGTH = 128;

export function clientIp(c: Context<AppEnv>): string | null {
  if (c.var.config?.trustProxyHeaders) {
    const forwarded = c.req.header("X-Forwarded-For");
    const last = forwarded?.split(",").at(-1)?.trim();
    if (last) return last.slice(0, MAX_LENGTH);
    const real = c.req.header("X-Real-IP")?.trim();
    if (real) return real.slice(0, MAX_LENGTH);
  }
  return c.req.header("CF-Connecting-IP")?.trim().slice(0, MAX_LENGTH) || null;
}

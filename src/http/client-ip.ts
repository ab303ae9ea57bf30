/**
 * The client's address (with the original's spoofing defect fixed:
 * docs/original-defects.md#h1-client-address), for rate limits and the sessions list.
 *
 * An address header is trusted only where CLIENT_IP_SOURCE says a proxy the deployment runs sets
 * it: any client can write any header, so trusting one that no proxy overwrites lets a client
 * pick its own rate-limit key (and every client that sends none share one).
 *
 * - auto (the default): the peer address when the runtime gives one (standalone workerd puts the
 *   connection's `ip:port` in `request.cf.clientIp`), else `CF-Connecting-IP` when `request.cf`
 *   shows Cloudflare in front (`cf.colo`: Cloudflare's edge, or wrangler dev's emulation of it,
 *   both of which set the header themselves), else none. A client's `CF-Connecting-IP` sent
 *   straight to workerd is never read.
 * - cf-connecting-ip: always `CF-Connecting-IP` (a proxy of yours sets it).
 * - x-forwarded-for: the right-most `X-Forwarded-For` entry, the one the proxy in front of the
 *   Worker appended (entries a client wrote are on its left). The compose stack's nginx.
 * - x-real-ip: `X-Real-IP`, which the proxy sets to the peer it saw (nginx does too).
 * - peer: the connection's address only (standalone workerd reached directly).
 * - none: no address; rules counted per address are then skipped (http/rate-limit.ts).
 */
import type { Context } from "hono";
import type { ClientIpSource } from "../config";
import type { AppEnv } from "../context";

/** An address as a header or the runtime gives it: IPv4, IPv6 (maybe bracketed, with a zone). */
const ADDRESS = /^[0-9A-Za-z.:%[\]_-]{1,128}$/;

const usable = (value: string | undefined | null): string | null => {
  const address = value?.trim();
  return address && ADDRESS.test(address) ? address : null;
};

interface RuntimeCf {
  clientIp?: unknown;
  colo?: unknown;
}

const cfOf = (request: Request): RuntimeCf | undefined => (request as { cf?: RuntimeCf }).cf;

/** The connection's address without its port: "203.0.113.9:51234", "[2001:db8::1]:51234". */
export function peerAddress(request: Request): string | null {
  const raw = cfOf(request)?.clientIp;
  if (typeof raw !== "string") return null;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(raw);
  if (bracketed) return usable(bracketed[1]);
  const v4 = /^([^:]+):\d+$/.exec(raw);
  return usable(v4 ? v4[1] : raw);
}

export function addressFrom(source: ClientIpSource, request: Request): string | null {
  const header = (name: string) => request.headers.get(name) ?? undefined;
  switch (source) {
    case "auto":
      if (typeof cfOf(request)?.clientIp === "string") return peerAddress(request);
      return typeof cfOf(request)?.colo === "string" ? usable(header("CF-Connecting-IP")) : null;
    case "cf-connecting-ip":
      return usable(header("CF-Connecting-IP"));
    case "x-forwarded-for":
      return usable(header("X-Forwarded-For")?.split(",").at(-1));
    case "x-real-ip":
      return usable(header("X-Real-IP"));
    case "peer":
      return peerAddress(request);
    case "none":
      return null;
  }
}

/** The client's address as CLIENT_IP_SOURCE says to read it, or null when it is not known. */
export function clientIp(c: Context<AppEnv>): string | null {
  return addressFrom(c.var.config?.clientIpSource ?? "auto", c.req.raw);
}

/**
 * The Worker's half of every WebSocket handshake: where the token comes from, the same checks
 * REST applies to it, and the refusals, all before any upgrade, so a refused client sees an HTTP
 * status (403, or 426 for a plain GET) and never an open socket. The socket's object then makes
 * its own checks (a conversation's access, realtime/conversation-room.ts) and answers the 101.
 *
 * `socketRoute` is the one shape of the three socket routes (routes/sockets.ts).
 *
 * A browser's handshake must come from one of the web app's origins (`refuseForeignOrigin`).
 *
 * The token comes from `?token=` (what the web app sends) or from the subprotocol list
 * `["bearer", <token>]`, which keeps it out of URLs and therefore out of access logs; the
 * server then answers with the subprotocol "bearer", as browsers require. The token is never
 * logged: the request log line names the route, not the URL.
 */
import type { Context, Handler } from "hono";
import { decodeJwt } from "jose";
import type { AppEnv } from "../context";
import { AppError, notAuthenticated, validationFailed } from "../errors";
import { handOffSocket } from "../realtime/socket-host";
import { authenticateAccessToken, type Caller } from "./auth";

export const BEARER_PROTOCOL = "bearer";
/** Longer than any token we issue; a bigger one is refused without being parsed. */
export const MAX_TOKEN_LENGTH = 4096;

export interface PresentedToken {
  token: string | null;
  /** The subprotocol to echo, when the client offered ours. */
  protocol: string | null;
}

/**
 * The token of a handshake: from the subprotocol list `bearer, <token>` when the client
 * offered "bearer", else from `?token=`.
 */
export function presentedToken(c: Context<AppEnv>): PresentedToken {
  const offered = (c.req.header("Sec-WebSocket-Protocol") ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
  const index = offered.findIndex((p) => p.toLowerCase() === BEARER_PROTOCOL);
  if (index >= 0) return { token: offered[index + 1] ?? null, protocol: offered[index] ?? null };
  return { token: c.req.query("token") ?? null, protocol: null };
}

export interface HandshakeCaller extends Caller {
  /** The token's `exp`, in seconds since the epoch: the socket is closed then. */
  expiresAtSeconds: number;
}

/** A refusal before the upgrade: 403 with a detail naming the reason (docs/socket-protocol.md#handshake). */
export const handshakeRefused = (detail = "Forbidden") => new AppError(403, detail);

/**
 * Turns an AppError of a REST check into the handshake's refusal (every refusal is a 403
 * before the upgrade), keeping its detail; anything else (a database or store outage) stays a 5xx.
 */
export function asHandshakeRefusal(error: unknown): unknown {
  if (error instanceof AppError && (error.status === 401 || error.status === 403 || error.status === 404)) {
    return handshakeRefused(typeof error.detail === "string" ? error.detail : "Forbidden");
  }
  return error;
}

/** Runs the REST checks on a handshake token (revoked sessions and refresh tokens included). */
export async function authenticateHandshake(
  c: Context<AppEnv>,
  token: string | null,
): Promise<HandshakeCaller> {
  try {
    if (!token || token.length > MAX_TOKEN_LENGTH) throw notAuthenticated();
    const caller = await authenticateAccessToken(c, token);
    const { exp } = decodeJwt(token);
    return { ...caller, expiresAtSeconds: typeof exp === "number" ? exp : 0 };
  } catch (error) {
    throw asHandshakeRefusal(error);
  }
}

/**
 * A browser always sends the page's Origin with a handshake, and cookies or not, a socket opened
 * from a foreign page would act with whatever token that page got hold of (cross-site WebSocket
 * hijacking). So a handshake that carries an Origin must carry one of CORS_ORIGINS, the web app's
 * origins; one without (servers, mobile apps, the `ws` package) is not a browser and stays allowed.
 * `Origin: null` (sandboxed frames, files) is refused like any other foreign origin.
 */
export function refuseForeignOrigin(c: Context<AppEnv>): void {
  const origin = c.req.header("Origin");
  if (origin !== undefined && !c.var.config.corsOrigins.includes(origin)) {
    throw handshakeRefused("Origin not allowed");
  }
}

export const isUpgrade = (c: Context<AppEnv>) => c.req.header("Upgrade")?.toLowerCase() === "websocket";

/** The answer to a plain HTTP request on a socket endpoint. */
export const upgradeRequired = (c: Context<AppEnv>) =>
  c.json({ detail: "This endpoint only accepts WebSocket upgrades" }, 426, { Upgrade: "websocket" });

const MAX_ID = 2_147_483_647;

/** A path id of a socket URL, or null when it cannot name any row (the caller refuses with 403). */
export function socketPathId(raw: string | undefined): number | null {
  if (!raw || !/^\d{1,10}$/.test(raw)) return null;
  const id = Number(raw);
  return id >= 1 && id <= MAX_ID ? id : null;
}

/** `?since=`: absent or empty means no catch-up; anything but a non-negative integer is a 422. */
export function sinceParam(raw: string | undefined): number | null {
  if (raw === undefined || raw.trim() === "") return null;
  if (/^\s*\d{1,10}\s*$/.test(raw) && Number(raw) <= MAX_ID) return Number(raw);
  throw validationFailed([
    { loc: ["query", "since"], msg: "value is not a valid integer", type: "type_error.integer" },
  ]);
}

/** Where an authenticated handshake goes, and what the object is told beside the caller. */
export interface SocketTarget {
  stub: Parameters<typeof handOffSocket>[0];
  fields: Record<string, unknown>;
}

/**
 * A socket endpoint: a plain GET gets 426; a handshake from a browser on another origin gets 403;
 * a handshake is authenticated (403 before any upgrade for a missing, bad, expired, refresh or
 * revoked token), then `target` names the object (and may
 * refuse with handshakeRefused), which decides and answers.
 */
export function socketRoute(
  target: (c: Context<AppEnv>, caller: HandshakeCaller) => SocketTarget,
): Handler<AppEnv> {
  return async (c) => {
    if (!isUpgrade(c)) return upgradeRequired(c);
    refuseForeignOrigin(c);
    const presented = presentedToken(c);
    const caller = await authenticateHandshake(c, presented.token);
    // For the request log line (user_id). The connect limit ran before this (http/rate-limit.ts).
    c.set("caller", caller);
    const { stub, fields } = target(c, caller);
    return handOffSocket(stub, {
      userId: caller.userId,
      sessionId: caller.sessionId ?? null,
      expiresAtSeconds: caller.expiresAtSeconds,
      protocol: presented.protocol,
      fields,
    });
  };
}

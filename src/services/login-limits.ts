/**
 * The per-account login limit (issue 13.7): failed logins counted per account, across every
 * address, so that credential stuffing spread over many addresses is slowed where the per-address
 * rules cannot see it, and so that the protection holds where no address is known.
 *
 * - An account is the normalised e-mail (services/accounts.ts `normaliseEmail`), registered or
 *   not: unknown addresses are counted alike, so answers do not tell which are registered. Store
 *   keys carry a hash of it, not the address itself.
 * - A failure is a password check that failed (401). Its count lives in a fixed window of 15
 *   minutes aligned to the clock (`rl:auth:login-fail:<hash>:<window>`).
 * - Once RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT_PER_15_MINUTES failures (default 20) are counted,
 *   further attempts at that account get 429 before the password is checked, until the window
 *   ends: at most 15 minutes.
 * - Except from an address that logged in to that account successfully within the last 30 days
 *   (remembered at each successful login, `auth:login-ok:<hash>:<address>`): the owner of the
 *   account, at home or at the office, is not locked out by an attacker elsewhere, while the
 *   attacker's addresses, which never logged in, are. The trade-off: during an attack, the owner
 *   logging in from a new address (or from anywhere when the deployment knows no addresses) waits
 *   for the window to end, at most 15 minutes. A success does not reset the count.
 *
 * When the store cannot answer, RATE_LIMIT_FAIL_OPEN decides, as for every rule.
 */
import type { Config } from "../config";
import type { Logger } from "../log";
import { metrics } from "../observability/metrics";
import type { KeyValueStore } from "../store/store";
import { type RateDecision, ruleSpec, unavailableDecision } from "./rate-limits";

export interface LoginLimitContext {
  store: KeyValueStore;
  config: Config;
  log?: Logger;
}

/** How long an address that logged in to an account stays exempt from that account's lockout. */
export const KNOWN_ADDRESS_DAYS = 30;

async function accountKey(account: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(account));
  return [...new Uint8Array(digest).subarray(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function window(config: Config, now = Date.now()) {
  const spec = ruleSpec(config, "login-account");
  const number = Math.floor(now / spec.windowMs);
  return { spec, number, resetAt: (number + 1) * spec.windowMs };
}

const failuresKey = async (config: Config, account: string) =>
  `${ruleSpec(config, "login-account").prefix}:${await accountKey(account)}:${window(config).number}`;

const knownAddressKey = async (account: string, address: string) =>
  `auth:login-ok:${await accountKey(account)}:${address}`;

/**
 * Whether an attempt at `account` from `address` (null: unknown) may check its password. Counts
 * nothing: only failures count (`recordFailedLogin`).
 */
export async function accountLoginDecision(
  ctx: LoginLimitContext,
  account: string,
  address: string | null,
): Promise<RateDecision> {
  const { spec, resetAt } = window(ctx.config);
  const rule = "login-account" as const;
  if (!ctx.config.rateLimits.enabled) {
    return { rule, outcome: "disabled", allowed: true, limit: spec.limit, remaining: spec.limit, resetAt: 0 };
  }
  try {
    const failures = Number((await ctx.store.get(await failuresKey(ctx.config, account))) ?? 0);
    const remaining = Math.max(0, spec.limit - failures);
    if (failures < spec.limit)
      return { rule, outcome: "allowed", allowed: true, limit: spec.limit, remaining, resetAt };
    if (address !== null && (await ctx.store.get(await knownAddressKey(account, address))) !== null) {
      return { rule, outcome: "allowed", allowed: true, limit: spec.limit, remaining, resetAt };
    }
    metrics.rateLimited(rule);
    return { rule, outcome: "limited", allowed: false, limit: spec.limit, remaining: 0, resetAt };
  } catch (error) {
    return unavailableDecision(ctx, rule, error);
  }
}

/** Counts a failed password check against `account`. A store failure is logged, never thrown. */
export async function recordFailedLogin(ctx: LoginLimitContext, account: string): Promise<void> {
  if (!ctx.config.rateLimits.enabled) return;
  const { spec } = window(ctx.config);
  try {
    await ctx.store.increment(await failuresKey(ctx.config, account), {
      ttlSeconds: Math.max(1, Math.ceil(spec.windowMs / 1000)),
    });
  } catch (error) {
    unavailableDecision(ctx, "login-account", error);
  }
}

/** Remembers that `address` logged in to `account` (see the module comment). */
export async function rememberLoginAddress(
  ctx: LoginLimitContext,
  account: string,
  address: string | null,
): Promise<void> {
  if (!ctx.config.rateLimits.enabled || address === null) return;
  try {
    await ctx.store.set(await knownAddressKey(account, address), "1", {
      ttlSeconds: KNOWN_ADDRESS_DAYS * 86_400,
    });
  } catch (error) {
    ctx.log?.warn("could not remember a login address", { err: error });
  }
}

/**
 * Password hashing: scrypt (@noble/hashes) in the PHC string format, so the cost parameters
 * travel with each hash and can be raised later without invalidating old ones.
 *
 * Hashes made by the original service (passlib bcrypt, `$2b$12$…`) still verify, and the
 * caller re-hashes them with scrypt after the next successful login (`needsRehash`).
 */
import { scrypt } from "@noble/hashes/scrypt.js";
import bcrypt from "bcryptjs";

/** About 86 ms of CPU per hash inside workerd (PLATFORM.md): slow for guessing, fine for a login. */
export const SCRYPT_COST = { logN: 14, r: 8, p: 1 } as const;
const KEY_BYTES = 32;
const SALT_BYTES = 16;

/** Accepted lengths, in characters. The web app asks for at least 6; the upper bound keeps a
 *  hostile caller from sending megabytes into the key derivation. */
export const PASSWORD_MIN_LENGTH = 6;
export const PASSWORD_MAX_LENGTH = 128;

const encoder = new TextEncoder();

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/=+$/, "");
}

function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** Compares without an early exit, so the time taken does not reveal where two hashes differ. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

function derive(
  password: string,
  salt: Uint8Array,
  cost: { logN: number; r: number; p: number },
): Uint8Array {
  return scrypt(encoder.encode(password.normalize("NFKC")), salt, {
    N: 2 ** cost.logN,
    r: cost.r,
    p: cost.p,
    dkLen: KEY_BYTES,
  });
}

export function hashPassword(password: string): string {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const key = derive(password, salt, SCRYPT_COST);
  const { logN, r, p } = SCRYPT_COST;
  return `$scrypt$ln=${logN},r=${r},p=${p}$${toBase64(salt)}$${toBase64(key)}`;
}

interface ParsedScrypt {
  logN: number;
  r: number;
  p: number;
  salt: Uint8Array;
  key: Uint8Array;
}

const SCRYPT_PHC = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

function parseScrypt(stored: string): ParsedScrypt | null {
  const m = SCRYPT_PHC.exec(stored);
  if (!m) return null;
  const [logN, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // Refuse parameters no hash of ours would have: a tampered row must not become a CPU bomb.
  if (logN < 10 || logN > 20 || r < 1 || r > 16 || p < 1 || p > 4) return null;
  return { logN, r, p, salt: fromBase64(m[4] as string), key: fromBase64(m[5] as string) };
}

const isBcrypt = (stored: string) => /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/.test(stored);

export interface PasswordCheck {
  ok: boolean;
  /** The hash is valid but weaker than today's (bcrypt, or a lower scrypt cost): store a new one. */
  needsRehash: boolean;
}

// Verified against when there is no usable hash, so an unknown e-mail costs what a wrong
// password costs and response times do not reveal which accounts exist.
let decoy: ParsedScrypt | undefined;

export function verifyPassword(password: string, stored: string | null | undefined): PasswordCheck {
  const scryptHash = stored ? parseScrypt(stored) : null;
  if (scryptHash) {
    const key = derive(password, scryptHash.salt, scryptHash);
    const ok = constantTimeEqual(key, scryptHash.key);
    const weaker = scryptHash.logN < SCRYPT_COST.logN || scryptHash.r < SCRYPT_COST.r;
    return { ok, needsRehash: ok && weaker };
  }
  if (stored && isBcrypt(stored)) {
    // bcryptjs compares in constant time and, like passlib, uses the first 72 bytes.
    const ok = bcrypt.compareSync(password, stored);
    return { ok, needsRehash: ok };
  }
  decoy ??= parseScrypt(hashPassword("decoy password")) as ParsedScrypt;
  constantTimeEqual(derive(password, decoy.salt, decoy), decoy.key);
  return { ok: false, needsRehash: false };
}

/**
 * A stand-in for Google's sign-in keys: RS256 key pairs made by the test, a key set served from
 * a local HTTP server (the Worker fetches it like https://www.googleapis.com/oauth2/v3/certs),
 * and ID tokens signed with those keys. Nothing leaves the machine.
 */
import { randomInt, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";

export const GOOGLE_TEST_CLIENT_ID = "test-client.apps.googleusercontent.com";
export const GOOGLE_TEST_ISSUER = "https://accounts.google.com";

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function createSigningKey(kid = `test-${randomUUID()}`): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" };
  return { kid, privateKey, publicJwk };
}

export interface KeyServer {
  /** The URL to give the app as GOOGLE_JWKS_URL. */
  jwksUrl: string;
  /** How many times the key set was fetched. */
  requests: number;
  close(): Promise<void>;
}

/** Serves `{"keys": [...]}` with the public halves of `keys` on 127.0.0.1, on a free port. */
export async function startKeyServer(keys: SigningKey[]): Promise<KeyServer> {
  const body = JSON.stringify({ keys: keys.map((k) => k.publicJwk) });
  const state = { requests: 0 };
  const server: Server = createServer((req, res) => {
    if (req.method === "GET" && req.url === "/certs") {
      state.requests += 1;
      res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "public, max-age=3600" });
      res.end(body);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    jwksUrl: `http://127.0.0.1:${port}/certs`,
    get requests() {
      return state.requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The settings that point the app at a key server. */
export function googleEnv(keyServer: Pick<KeyServer, "jwksUrl">): Record<string, string> {
  return {
    GOOGLE_CLIENT_ID: GOOGLE_TEST_CLIENT_ID,
    GOOGLE_JWKS_URL: keyServer.jwksUrl,
    GOOGLE_ISSUERS: GOOGLE_TEST_ISSUER,
  };
}

/** A Google-like subject: a long decimal string that never changes for an account. */
export const googleSubject = () => `1${String(randomInt(1e9)).padStart(9, "0")}${randomInt(1e9)}`;

/**
 * Claims of a valid ID token for `email`, as Google issues them; pass `undefined` for a claim
 * to leave it out.
 */
export function idTokenClaims(
  email: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    iss: GOOGLE_TEST_ISSUER,
    aud: GOOGLE_TEST_CLIENT_ID,
    sub: googleSubject(),
    email,
    email_verified: true,
    name: "Test User",
    iat: now,
    exp: now + 3600,
    ...overrides,
  };
  return Object.fromEntries(Object.entries(claims).filter(([, value]) => value !== undefined));
}

/** Signs `claims` as-is with RS256 under `key` (header kid = key.kid unless `kid` says otherwise). */
export async function signIdToken(
  key: SigningKey,
  claims: Record<string, unknown>,
  options: { kid?: string } = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: options.kid ?? key.kid })
    .sign(key.privateKey);
}

/**
 * Verifying Google ID tokens with jose against Google's published keys. The key-set URL and
 * the accepted issuers are settings, so tests (and other OpenID providers' test doubles) can
 * serve their own keys.
 */
import { createRemoteJWKSet, errors, jwtVerify } from "jose";
import { unauthorized } from "../errors";

export interface GoogleSettings {
  clientId: string;
  jwksUrl: string;
  issuers: string[];
}

export interface GoogleIdentity {
  subject: string;
  email: string;
  name: string | undefined;
}

// One key set per URL and isolate: jose caches the keys and refetches on an unknown `kid`.
const keySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

function keySet(url: string) {
  let set = keySets.get(url);
  if (!set) {
    set = createRemoteJWKSet(new URL(url), { timeoutDuration: 5_000, cooldownDuration: 30_000 });
    keySets.set(url, set);
  }
  return set;
}

export async function verifyGoogleIdToken(
  idToken: string,
  settings: GoogleSettings,
): Promise<GoogleIdentity> {
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(idToken, keySet(settings.jwksUrl), {
      audience: settings.clientId,
      issuer: settings.issuers,
      algorithms: ["RS256"],
      requiredClaims: ["exp", "sub", "email"],
    }));
  } catch (error) {
    if (error instanceof errors.JOSEError || error instanceof TypeError) {
      throw unauthorized("Invalid Google ID token");
    }
    throw error;
  }
  if (payload.email_verified !== true && payload.email_verified !== "true") {
    throw unauthorized("Google account e-mail is not verified");
  }
  if (typeof payload.email !== "string" || typeof payload.sub !== "string") {
    throw unauthorized("Invalid Google ID token");
  }
  return {
    subject: payload.sub,
    email: payload.email,
    name: typeof payload.name === "string" ? payload.name : undefined,
  };
}

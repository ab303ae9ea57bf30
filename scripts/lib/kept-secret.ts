/**
 * Secrets `npm run dev` makes once and keeps under the data folder (mode 600), so that tokens and the
 * embedded database's password survive restarts.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, readFileSync, statSync, writeFileSync } from "node:fs";

/** The secret kept in `file`, made (48 random bytes, base64url) when the file is missing or empty. */
export function keptSecret(file: string): { value: string; generated: boolean } {
  try {
    const existing = readFileSync(file, "utf8").trim();
    if (existing) {
      if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
      return { value: existing, generated: false };
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new Error(`cannot read ${file}: ${(error as Error).message}`);
    }
  }
  const value = randomBytes(48).toString("base64url");
  writeFileSync(file, `${value}\n`, { mode: 0o600 });
  chmodSync(file, 0o600); // also when an empty file was there already
  return { value, generated: true };
}

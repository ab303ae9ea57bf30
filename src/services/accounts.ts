/**
 * Accounts: registration with "#dddd" handles, password login, password change, and the user
 * side of Google sign-in (docs/http-api.md#accounts-and-sessions; docs/original-defects.md#d11-e-mail-case,
 * and the race of two registrations taking the same handle fixed).
 */
import { asc, desc, eq, inArray, sql } from "drizzle-orm";
import { baseNameProblem, formatHandle, freeDiscriminators, pickRandom } from "../auth/handles";
import { hashPassword, verifyPassword } from "../auth/passwords";
import type { Database } from "../db/client";
import { escapeLike, uniqueViolation } from "../db/errors";
import { type User, users } from "../db/schema";
import { badRequest, conflict, unauthorized } from "../errors";

/**
 * One normal form for e-mail addresses, used at registration, login and sign-in alike
 * (docs/original-defects.md#d11-e-mail-case): surrounding blanks and a `Name <addr>` wrapper removed, the
 * whole address lower-cased. (The original lower-cased only the domain at registration and nothing at login.)
 */
export function normaliseEmail(raw: string): string {
  let email = raw.trim();
  const wrapped = /<([^<>]+)>\s*$/.exec(email);
  if (wrapped?.[1]) email = wrapped[1].trim();
  return email.toLowerCase();
}

/**
 * Users whose address matches case-insensitively, best match first. Existing rows keep
 * whatever case they were stored with; an adopted database may even hold case variants as
 * separate accounts, and then the exact spelling the caller typed wins.
 */
async function usersByEmail(db: Database, raw: string): Promise<User[]> {
  const normalised = normaliseEmail(raw);
  return db
    .select()
    .from(users)
    .where(sql`lower(${users.email}) = ${normalised}`)
    .orderBy(
      desc(sql`${users.email} = ${raw.trim()}`),
      desc(sql`${users.email} = ${normalised}`),
      asc(users.id),
    )
    .limit(5);
}

export async function findUserByEmail(db: Database, raw: string): Promise<User | undefined> {
  return (await usersByEmail(db, raw))[0];
}

export async function getUser(db: Database, id: number): Promise<User | undefined> {
  const [user] = await db.select().from(users).where(eq(users.id, id));
  return user;
}

const RANDOM_DRAWS = 8;
const INSERT_ATTEMPTS = 4;

/** A free handle for `base`: a few random draws checked at once, then the full list if needed. */
export async function allocateHandle(db: Database, base: string): Promise<string> {
  const draws = Array.from({ length: RANDOM_DRAWS }, () =>
    formatHandle(base, (crypto.getRandomValues(new Uint16Array(1))[0] as number) % 10_000),
  );
  const takenDraws = await db
    .select({ handle: users.displayName })
    .from(users)
    .where(
      inArray(
        sql`lower(${users.displayName})`,
        draws.map((d) => d.toLowerCase()),
      ),
    );
  const taken = new Set(takenDraws.map((r) => r.handle?.toLowerCase()));
  const free = draws.find((d) => !taken.has(d.toLowerCase()));
  if (free) return free;

  const all = await db
    .select({ handle: users.displayName })
    .from(users)
    .where(sql`lower(${users.displayName}) like ${`${escapeLike(base.toLowerCase())}#%`} escape '\\'`);
  const discriminator = pickRandom(
    freeDiscriminators(
      all.map((r) => r.handle ?? ""),
      base,
    ),
  );
  if (discriminator === undefined) throw conflict("Unable to allocate a unique tag for this display name.");
  return formatHandle(base, discriminator);
}

export interface Registration {
  email: string;
  displayName: string;
  password: string;
}

/** Checks in the original's order, then inserts, retrying when a concurrent registration
 *  took the same handle (the original answered that race with a 400 carrying database text). */
export async function register(db: Database, input: Registration): Promise<User> {
  const email = normaliseEmail(input.email);
  if (await findUserByEmail(db, email)) throw badRequest("Email already registered");

  const base = input.displayName.trim();
  if (base.includes("#")) {
    const [existing] = await db
      .select({ id: users.id })
      .from(users)
      .where(sql`lower(${users.displayName}) = ${base.toLowerCase()}`);
    if (existing) throw badRequest("Display name already taken");
  }
  const problem = baseNameProblem(base);
  if (problem) throw badRequest(problem);

  const hashedPassword = hashPassword(input.password);
  for (let attempt = 1; ; attempt++) {
    const displayName = await allocateHandle(db, base);
    try {
      const [user] = await db.insert(users).values({ email, displayName, hashedPassword }).returning();
      return user as User;
    } catch (error) {
      const constraint = uniqueViolation(error);
      if (constraint === "ix_users_email") throw badRequest("Email already registered");
      if (constraint === "uq_users_display_name_lower" && attempt < INSERT_ATTEMPTS) continue;
      if (constraint === "uq_users_display_name_lower") {
        throw conflict("Unable to allocate a unique tag for this display name.");
      }
      throw error;
    }
  }
}

const incorrectCredentials = () => unauthorized("Incorrect credentials");

/**
 * Password login. A missing account costs the same scrypt run as a wrong password, so
 * timing does not reveal which addresses are registered. A hash weaker than today's (the
 * original's bcrypt) is replaced after the password proved right.
 */
export async function authenticate(db: Database, email: string, password: string): Promise<User> {
  const candidates = await usersByEmail(db, email);
  if (candidates.length === 0) {
    verifyPassword(password, null);
    throw incorrectCredentials();
  }
  for (const user of candidates) {
    const check = verifyPassword(password, user.hashedPassword);
    if (!check.ok) continue;
    if (check.needsRehash) {
      await db
        .update(users)
        .set({ hashedPassword: hashPassword(password) })
        .where(eq(users.id, user.id));
    }
    return user;
  }
  throw incorrectCredentials();
}

export async function changePassword(
  db: Database,
  userId: number,
  current: string,
  next: string,
): Promise<void> {
  const user = await getUser(db, userId);
  if (!user || !verifyPassword(current, user.hashedPassword).ok) throw badRequest("Incorrect password");
  await db
    .update(users)
    .set({ hashedPassword: hashPassword(next) })
    .where(eq(users.id, userId));
}

/** A handle base from whatever a sign-in provider tells us (the legacy backfill rule, 4.3). */
export function baseNameFrom(name: string | undefined, email: string): string {
  const candidates = [name ?? "", email.split("@")[0] ?? ""];
  for (const candidate of candidates) {
    const base = [...candidate.replaceAll("#", "").trim()].slice(0, 32).join("").trim();
    if (!baseNameProblem(base)) return base;
  }
  return "user";
}

/** The account for a verified external e-mail: the existing one, or a new password-less one. */
export async function findOrCreateExternalUser(db: Database, email: string, name: string | undefined) {
  const existing = await findUserByEmail(db, email);
  if (existing) return existing;
  const normalised = normaliseEmail(email);
  const base = baseNameFrom(name, normalised);
  for (let attempt = 1; ; attempt++) {
    const displayName = await allocateHandle(db, base);
    try {
      const [user] = await db
        .insert(users)
        .values({ email: normalised, displayName, hashedPassword: null })
        .returning();
      return user as User;
    } catch (error) {
      const constraint = uniqueViolation(error);
      // Two first sign-ins at once: the other one created the account.
      if (constraint === "ix_users_email") {
        const created = await findUserByEmail(db, normalised);
        if (created) return created;
      }
      if (constraint === "uq_users_display_name_lower" && attempt < INSERT_ATTEMPTS) continue;
      throw error;
    }
  }
}

/**
 * Display-name handles (docs/http-api.md#shapes): a base name of 2–32 characters, without '#', followed by
 * '#' and four digits. Lengths are Unicode code points, as the original (Python) counts them;
 * JavaScript's `length` counts UTF-16 units and would refuse "😀" names the original accepts.
 */

export const BASE_MIN = 2;
export const BASE_MAX = 32;
/** The handle check of the database (ck_users_display_name_handle), for code-point strings. */
export const HANDLE_PATTERN = /^.{2,32}#\d{4}$/u;

export const codePointLength = (text: string) => [...text].length;

export const isHandle = (text: string) => HANDLE_PATTERN.test(text);

/** The rule a chosen base name breaks, as the original worded it, or null when it is fine. */
export function baseNameProblem(base: string): string | null {
  if (base.includes("#")) return "Display name must not include '#'.";
  const length = codePointLength(base);
  if (length < BASE_MIN || length > BASE_MAX) return "Display name must be between 2 and 32 characters.";
  return null;
}

export const formatHandle = (base: string, discriminator: number) =>
  `${base}#${String(discriminator).padStart(4, "0")}`;

/** The four digits after '#' that are still free, given the handles that share the base. */
export function freeDiscriminators(takenHandles: Iterable<string>, base: string): number[] {
  const prefix = `${base.toLowerCase()}#`;
  const taken = new Set<number>();
  for (const handle of takenHandles) {
    const lower = handle.toLowerCase();
    if (lower.startsWith(prefix)) taken.add(Number(lower.slice(prefix.length)));
  }
  const free: number[] = [];
  for (let d = 0; d < 10_000; d++) if (!taken.has(d)) free.push(d);
  return free;
}

/** A uniformly random element (crypto-grade, so handles are not predictable in sequence). */
export function pickRandom<T>(items: readonly T[]): T | undefined {
  if (items.length === 0) return undefined;
  const [random] = crypto.getRandomValues(new Uint32Array(1));
  return items[(random as number) % items.length];
}

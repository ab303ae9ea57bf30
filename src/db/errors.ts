/**
 * Recognising database errors the app answers deliberately (rather than as a 500).
 * drizzle wraps driver errors, so the PostgreSQL fields may sit on `cause`.
 */
interface PgErrorFields {
  code?: string;
  constraint_name?: string;
}

function pgFields(error: unknown): PgErrorFields | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 3 && current && typeof current === "object"; depth++) {
    const fields = current as PgErrorFields & { cause?: unknown };
    if (typeof fields.code === "string" && /^[0-9A-Z]{5}$/.test(fields.code)) return fields;
    current = fields.cause;
  }
  return undefined;
}

/** The constraint (or unique index) a unique violation hit, or undefined for any other error. */
export function uniqueViolation(error: unknown): string | undefined {
  const fields = pgFields(error);
  return fields?.code === "23505" ? (fields.constraint_name ?? "") : undefined;
}

/** A foreign key violation (a referenced row is missing). */
export function foreignKeyViolation(error: unknown): string | undefined {
  const fields = pgFields(error);
  return fields?.code === "23503" ? (fields.constraint_name ?? "") : undefined;
}

/** Escapes LIKE wildcards so user input matches literally (with `ESCAPE '\\'`). */
export const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

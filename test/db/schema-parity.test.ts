/**
 * The baseline migration must create, catalog for catalog, the schema of the original service's last
 * revision: that is what makes adopting a database of the original (recording the baseline as applied
 * without running it) correct. Compares a freshly migrated database with one loaded from the original's
 * pg_dump.
 */

import { join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIGRATIONS_FOLDER, migrateDatabase, ORIGINAL_TABLES } from "../../scripts/lib/migrate";
import { createTestDatabase, loadSqlFile, originalFixture, type TestDatabase } from "../support/database";

/**
 * The schema objects of a database as sorted one-line descriptions, so two databases compare as lists and a
 * difference reads as a list of objects. Leaves out the system schemas, drizzle's journal and Alembic's.
 */
async function describeCatalog(url: string): Promise<string[]> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    // Same settings for both databases, so pg_get_* print names the same way.
    await sql`set search_path = public`;
    const userRelation = sql`
      n.nspname not in ('pg_catalog', 'information_schema', 'drizzle') and n.nspname not like 'pg_toast%'
      and not (n.nspname = 'public' and c.relname = 'alembic_version')`;

    const tables = await sql<{ line: string }[]>`
      select format('table %s.%s (%s)', n.nspname, c.relname, c.relkind) as line
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p', 'v', 'm', 'f') and ${userRelation}`;

    // Position counts only live columns, so a dropped column elsewhere would not shift the comparison.
    const columns = await sql<{ line: string }[]>`
      select format('column %s.%s #%s %s %s %s%s', n.nspname, c.relname,
                    row_number() over (partition by c.oid order by a.attnum), a.attname,
                    format_type(a.atttypid, a.atttypmod),
                    case when a.attnotnull then 'NOT NULL' else 'NULL' end,
                    coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')) as line
      from pg_attribute a
      join pg_class c on c.oid = a.attrelid
      join pg_namespace n on n.oid = c.relnamespace
      left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      where c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped and ${userRelation}`;

    // NOT NULL constraints (contype 'n', PostgreSQL 18+) are left out: nullability is compared per column.
    const constraints = await sql<{ line: string }[]>`
      select format('constraint %s.%s %s: %s', n.nspname, c.relname, k.conname, pg_get_constraintdef(k.oid)) as line
      from pg_constraint k
      join pg_class c on c.oid = k.conrelid
      join pg_namespace n on n.oid = c.relnamespace
      where k.contype <> 'n' and ${userRelation}`;

    const indexes = await sql<{ line: string }[]>`
      select format('index %s.%s %s: %s', n.nspname, c.relname, i.relname, pg_get_indexdef(x.indexrelid)) as line
      from pg_index x
      join pg_class c on c.oid = x.indrelid
      join pg_class i on i.oid = x.indexrelid
      join pg_namespace n on n.oid = c.relnamespace
      where ${userRelation}`;

    const sequences = await sql<{ line: string }[]>`
      select format('sequence %s.%s %s start %s increment %s min %s max %s cache %s%s owned by %s', n.nspname,
                    c.relname, format_type(s.seqtypid, null), s.seqstart, s.seqincrement, s.seqmin, s.seqmax,
                    s.seqcache, case when s.seqcycle then ' cycle' else '' end,
                    coalesce((select format('%s.%s', t.relname, a.attname)
                              from pg_depend d
                              join pg_class t on t.oid = d.refobjid
                              join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
                              where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype in ('a', 'i')),
                             '-')) as line
      from pg_sequence s
      join pg_class c on c.oid = s.seqrelid
      join pg_namespace n on n.oid = c.relnamespace
      where ${userRelation}`;

    return [...tables, ...columns, ...constraints, ...indexes, ...sequences].map((row) => row.line).sort();
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** "- " lines only in `expected`, "+ " lines only in `actual`. */
function diffLines(expected: string[], actual: string[]): string[] {
  const inActual = new Set(actual);
  const inExpected = new Set(expected);
  return [
    ...expected.filter((line) => !inActual.has(line)).map((line) => `- original only: ${line}`),
    ...actual.filter((line) => !inExpected.has(line)).map((line) => `+ migrated only: ${line}`),
  ];
}

describe("baseline migration", () => {
  let migrated: TestDatabase;
  let original: TestDatabase;

  beforeAll(async () => {
    [migrated, original] = await Promise.all([
      createTestDatabase({ migrate: false }),
      createTestDatabase({ migrate: false }),
    ]);
    // The baseline alone: later migrations change the schema on purpose.
    await loadSqlFile(migrated.url, join(MIGRATIONS_FOLDER, "0000_baseline.sql"));
    await loadSqlFile(original.url, originalFixture("original-schema.sql"));
  });

  afterAll(async () => {
    await Promise.all([migrated?.drop(), original?.drop()]);
  });

  it("creates exactly the original's schema (tables, columns, defaults, constraints, indexes, sequences)", async () => {
    const [expected, actual] = await Promise.all([
      describeCatalog(original.url),
      describeCatalog(migrated.url),
    ]);

    // Guard against comparing two empty catalogs: 12 primary keys, 6 unique, 2 checks, 21 foreign keys.
    for (const table of ORIGINAL_TABLES) expect(expected).toContain(`table public.${table} (r)`);
    expect(expected.filter((line) => line.startsWith("constraint "))).toHaveLength(12 + 6 + 2 + 21);
    expect(expected).toContain(
      "index public.users uq_users_display_name_lower: CREATE UNIQUE INDEX uq_users_display_name_lower ON public.users USING btree (lower((display_name)::text))",
    );

    // On failure, vitest prints the list: what the original has that the migration lacks, and vice versa.
    expect(diffLines(expected, actual)).toEqual([]);
  });
});

describe("all migrations", () => {
  it("give an adopted original database the same schema as a fresh one", async () => {
    const [fresh, adopted] = await Promise.all([
      createTestDatabase(),
      createTestDatabase({ migrate: false }),
    ]);
    try {
      await loadSqlFile(adopted.url, originalFixture("original-schema.sql"));
      await loadSqlFile(adopted.url, originalFixture("original-data.sql"));
      expect((await migrateDatabase(adopted.url)).adopted).toBe(true);
      const [expected, actual] = await Promise.all([
        describeCatalog(fresh.url),
        describeCatalog(adopted.url),
      ]);
      expect(diffLines(expected, actual)).toEqual([]);
    } finally {
      await Promise.all([fresh.drop(), adopted.drop()]);
    }
  });
});

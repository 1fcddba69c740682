// An installation from before Isobox had a schema of its own keeps its tables in `public` and its
// journal rows in drizzle's default `drizzle.__drizzle_migrations`, which an app using drizzle may
// share. On start, under the schema's migration lock and before drizzle's migrator runs, its
// tables (with their indexes, constraints and data: ALTER TABLE … SET SCHEMA takes them along)
// move into Isobox's schema and its journal rows are copied, in one transaction.
//
// This cannot be a drizzle migration: the migrator reads the journal in Isobox's schema, which is
// empty for such an installation, so it would run 0000 again and create empty tables before any
// later migration could move the old ones; a migration is fixed SQL while the schema's name is a
// setting; and on a fresh database there is nothing to move, while an app's own `public.jobs`
// must not be touched. Isobox's rows in the old journal are found by the hashes of its own
// migration files, and they stay there (other rows of that journal are not touched either): a
// node of an older version then finds its migrations applied and its tables gone, and fails to
// start instead of creating a second, empty installation in `public`.
import { sql } from "drizzle-orm";
import type { MigrationMeta } from "drizzle-orm/migrator";
import type { Db } from "./connect.ts";
import { JOURNAL_TABLE } from "./storage-schema.ts";

const OLD_JOURNAL = sql`"drizzle"."__drizzle_migrations"`;

interface JournalRow {
  hash: string;
  created_at: string | number;
}

/** Moves an old installation into `schema`; returns the tables it moved (none when there was none). */
export async function adoptLegacyLayout(db: Db, migrations: readonly MigrationMeta[]): Promise<string[]> {
  const { schema } = db;
  if (await journalHasRows(db, `"${schema}"."${JOURNAL_TABLE}"`)) return [];
  const rows = await isoboxRowsOfOldJournal(db, migrations);
  if (rows.length === 0) return [];
  const applied = new Set(rows.map((row) => row.hash));
  const expected = tablesCreatedBy(migrations.filter((m) => applied.has(m.hash)).flatMap((m) => m.sql));
  const present = await tablesInPublic(db, expected);
  // None there: another installation (another schema) took them, or they were dropped; start afresh.
  if (present.length === 0) return [];
  if (present.length !== expected.length) {
    const missing = expected.filter((name) => !present.includes(name));
    throw new Error(`An Isobox installation in schema public is incomplete (missing ${missing.join(", ")}); move its tables into schema ${schema} by hand`);
  }
  await db.orm.transaction(async (tx) => {
    const journal = sql`${sql.identifier(schema)}.${sql.identifier(JOURNAL_TABLE)}`;
    // The table drizzle's migrator makes (it creates it only if missing).
    await tx.execute(sql`create table if not exists ${journal} (id serial primary key, hash text not null, created_at bigint)`);
    for (const row of rows) await tx.execute(sql`insert into ${journal} (hash, created_at) values (${row.hash}, ${row.created_at})`);
    for (const table of present) await tx.execute(sql`alter table ${sql.identifier("public")}.${sql.identifier(table)} set schema ${sql.identifier(schema)}`);
  });
  return present;
}

async function journalHasRows(db: Db, qualifiedName: string): Promise<boolean> {
  const [{ present }] = await db.rows<{ present: boolean }>(sql`select to_regclass(${qualifiedName}) is not null as present`);
  if (!present) return false;
  const [{ any }] = await db.rows<{ any: boolean }>(sql`select exists (select 1 from ${sql.raw(qualifiedName)}) as any`);
  return any;
}

/** Isobox's rows of drizzle's default journal, oldest first. */
async function isoboxRowsOfOldJournal(db: Db, migrations: readonly MigrationMeta[]): Promise<JournalRow[]> {
  const [{ present }] = await db.rows<{ present: boolean }>(sql`select to_regclass('"drizzle"."__drizzle_migrations"') is not null as present`);
  if (!present || migrations.length === 0) return [];
  const hashes = sql.join(migrations.map((m) => sql`${m.hash}`), sql`, `);
  return db.rows<JournalRow>(sql`select hash, created_at from ${OLD_JOURNAL} where hash in (${hashes}) order by created_at, id`);
}

async function tablesInPublic(db: Db, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const list = sql.join(names.map((name) => sql`${name}`), sql`, `);
  const rows = await db.rows<{ name: string }>(sql`select tablename as name from pg_tables where schemaname = 'public' and tablename in (${list})`);
  const found = new Set(rows.map((row) => row.name));
  return names.filter((name) => found.has(name));
}

const TABLE_CHANGE = /\b(CREATE TABLE(?: IF NOT EXISTS)?|DROP TABLE(?: IF EXISTS)?|ALTER TABLE(?: IF EXISTS)?)\s+(?:"public"\.)?"([^"]+)"(?:\s+RENAME TO\s+"([^"]+)")?/gi;

/** The tables that exist after these statements ran in order: created, less dropped, renamed. */
export function tablesCreatedBy(statements: readonly string[]): string[] {
  const tables = new Set<string>();
  for (const statement of statements) {
    for (const [, verb, name, renamed] of statement.matchAll(TABLE_CHANGE)) {
      const kind = verb.toUpperCase();
      if (kind.startsWith("CREATE")) tables.add(name);
      else if (kind.startsWith("DROP")) tables.delete(name);
      else if (renamed && tables.delete(name)) tables.add(renamed);
    }
  }
  return [...tables];
}

// Isobox's migrations, run by drizzle's migrator inside Isobox's own schema (src/db/storage-schema.ts),
// with the journal in that schema too.
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { readMigrationFiles, type MigrationMeta } from "drizzle-orm/migrator";
import { PgDialect, type PgSession } from "drizzle-orm/pg-core";
import type { Db } from "./connect.ts";
import { adoptLegacyLayout } from "./legacy-layout.ts";
import { JOURNAL_TABLE } from "./storage-schema.ts";

const MIGRATIONS = fileURLToPath(new URL("../../schema/migrations", import.meta.url));

/**
 * The migration files with every `"public".` qualifier dropped. drizzle-kit writes it into the
 * foreign keys of unqualified tables (`REFERENCES "public"."tenants"`), and would into enum and
 * sequence names; unqualified, they resolve through the connection's search_path to Isobox's
 * schema, whatever it is named. The files stay exactly as drizzle-kit generated them, so each
 * migration's hash is the one an old installation's journal holds (src/db/legacy-layout.ts).
 * A hand-written (--custom) migration must name its tables unqualified too.
 */
export function isoboxMigrations(): MigrationMeta[] {
  return readMigrationFiles({ migrationsFolder: MIGRATIONS }).map((migration) => ({
    ...migration,
    sql: migration.sql.map((statement) => statement.replaceAll('"public".', "")),
  }));
}

/**
 * Creates the schema, moves an old installation's tables into it, then migrates. The caller holds
 * the schema's migration lock: CREATE SCHEMA IF NOT EXISTS itself is not safe against a
 * concurrent one, and the move must happen once.
 */
export async function prepareStorage(db: Db): Promise<void> {
  const migrations = isoboxMigrations();
  await db.rows(sql`create schema if not exists ${sql.identifier(db.schema)}`);
  await adoptLegacyLayout(db, migrations);
  // What drizzle's migrate() of each driver does, with the statements above instead of the files'.
  await new PgDialect().migrate(migrations, db.orm._.session as unknown as PgSession, { migrationsFolder: MIGRATIONS, migrationsSchema: db.schema, migrationsTable: JOURNAL_TABLE });
}

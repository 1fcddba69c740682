// Isobox's own Postgres schema. Every table, index and the migrations journal live in it, never in
// `public`: an app that embeds Isobox in its own database keeps its own `jobs`, `runs`, `tenants`
// and `functions`. Queries name tables unqualified and each connection's search_path is this
// schema alone, so PGlite and Postgres share one code path and the name stays a setting.
import { createHash } from "node:crypto";

export const DEFAULT_DB_SCHEMA = "isobox";

/** drizzle's default journal table name, kept in Isobox's schema. */
export const JOURNAL_TABLE = "__drizzle_migrations";

/**
 * Needs no quoting in search_path or SQL, and leaves room in Postgres' 63-byte identifiers for
 * the notification channels named after it (channelOf).
 */
const PLAIN_IDENTIFIER = /^[a-z_][a-z0-9_]{0,39}$/;

/**
 * Schemas Isobox must not take: `public` is the apps' own; `drizzle` holds drizzle's default
 * journal, which other apps share (an old installation's rows are read from it); the rest are
 * the server's.
 */
const TAKEN = /^(public|drizzle|information_schema|pg_.*)$/;

/** Why `name` cannot be Isobox's schema, or undefined when it can. */
export function schemaNameProblem(name: string): string | undefined {
  if (!PLAIN_IDENTIFIER.test(name)) return "must be a plain identifier: lowercase letters, digits and _, not starting with a digit, at most 40 characters";
  if (TAKEN.test(name)) return `must not be ${name}: public and drizzle are other apps' schemas, information_schema and pg_* the server's`;
  return undefined;
}

export function assertSchemaName(name: string): void {
  const problem = schemaNameProblem(name);
  if (problem) throw new Error(`Invalid database schema "${name}": ${problem}`);
}

/** Advisory lock class of Isobox's migrations; the object id is the schema's, so installations in other schemas do not wait. */
const MIGRATION_LOCK_CLASS = 0x150b0c;

/** The (class, object) pair of pg_advisory_lock(int4, int4) that serialises migrations of one schema. */
export function migrationLockOf(schema: string): [number, number] {
  return [MIGRATION_LOCK_CLASS, createHash("sha256").update(schema).digest().readInt32BE(0)];
}

/**
 * A notification channel of this installation: LISTEN/NOTIFY channels belong to the database,
 * not a schema, so two installations in one database must not hear each other's (a follower of
 * one's logs would see the other's lines). The default schema's are isobox_jobs, isobox_logs, ...
 */
export function channelOf(schema: string, name: string): string {
  return `${schema}_${name}`;
}

// Opens the database: embedded PGlite in the data dir by default, a Postgres server (postgres.js)
// when a URL is given. Both get the same migrations and the same drizzle queries.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import type { SQL } from "drizzle-orm";
import * as tables from "../../schema/tables.ts";

export type Database = PgDatabase<PgQueryResultHKT, typeof tables>;

export interface Db {
  readonly kind: "pglite" | "postgres";
  readonly orm: Database;
  /** Rows of a raw statement, the same shape on both drivers. */
  rows<T = Record<string, unknown>>(query: SQL): Promise<T[]>;
  /** Subscribes to NOTIFY on a channel; resolves to the unsubscribe function. */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  notify(channel: string, payload: string): Promise<void>;
  /** True when the database answers within `timeoutMs`. */
  ping(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

export interface ConnectOptions {
  databaseUrl?: string;
  dataDir: string;
  /** Connections per process (Postgres only). */
  poolSize?: number;
}

const MIGRATIONS = fileURLToPath(new URL("../../schema/migrations", import.meta.url));
/** Serialises migrations of processes starting at once against one server. */
const MIGRATION_LOCK = 0x150b0c;

export async function connect(options: ConnectOptions): Promise<Db> {
  const db = options.databaseUrl ? await connectPostgres(options.databaseUrl, options.poolSize ?? 10) : await connectPglite(options.dataDir);
  try {
    await db.migrate();
  } catch (error) {
    await db.close();
    throw error;
  }
  return db;
}

async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), ms); });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function connectPostgres(url: string, max: number): Promise<Db & { migrate(): Promise<void> }> {
  const { default: postgres } = await import("postgres");
  const { drizzle } = await import("drizzle-orm/postgres-js");
  const { migrate } = await import("drizzle-orm/postgres-js/migrator");
  const client = postgres(url, { max, onnotice: () => {}, connect_timeout: 10 });
  const pgOrm = drizzle(client, { schema: tables });
  const orm = pgOrm as unknown as Database;
  return {
    kind: "postgres",
    orm,
    rows: async <T>(query: SQL) => (await orm.execute(query)) as unknown as T[],
    async listen(channel, onPayload) {
      const { unlisten } = await client.listen(channel, onPayload, () => {});
      return unlisten;
    },
    async notify(channel, payload) {
      await client.notify(channel, payload);
    },
    ping: async (timeoutMs = 2000) => (await withTimeout(client`select 1`.then(() => true, () => false), timeoutMs)) ?? false,
    close: () => client.end({ timeout: 5 }),
    async migrate() {
      // One connection holds the lock for the whole migration; others wait, then find it done.
      const lock = await client.reserve();
      try {
        await lock`select pg_advisory_lock(${MIGRATION_LOCK})`;
        await migrate(pgOrm, { migrationsFolder: MIGRATIONS });
      } finally {
        await lock`select pg_advisory_unlock(${MIGRATION_LOCK})`.catch(() => {});
        lock.release();
      }
    },
  };
}

async function connectPglite(dataDir: string): Promise<Db & { migrate(): Promise<void> }> {
  const { PGlite } = await import("@electric-sql/pglite");
  const { drizzle } = await import("drizzle-orm/pglite");
  const { migrate } = await import("drizzle-orm/pglite/migrator");
  const dir = join(dataDir, "pgdata");
  await mkdir(dir, { recursive: true });
  const client = await PGlite.create(dir);
  const orm = drizzle(client, { schema: tables });
  return {
    kind: "pglite",
    orm: orm as unknown as Database,
    rows: async <T>(query: SQL) => ((await orm.execute(query)) as unknown as { rows: T[] }).rows,
    listen: (channel, onPayload) => client.listen(channel, onPayload),
    async notify(channel, payload) {
      await client.query("select pg_notify($1, $2)", [channel, payload]);
    },
    ping: async (timeoutMs = 2000) => (await withTimeout(client.query("select 1").then(() => true, () => false), timeoutMs)) ?? false,
    close: () => client.close(),
    migrate: () => migrate(orm, { migrationsFolder: MIGRATIONS }),
  };
}

// Opens the database: embedded PGlite in the data dir by default, a Postgres server (postgres.js)
// when a URL is given. Both get the same migrations and the same drizzle queries, all in Isobox's
// own schema (src/db/storage-schema.ts): every connection's search_path is that schema alone.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import type { SQL } from "drizzle-orm";
import * as tables from "../../schema/tables.ts";
import { prepareStorage } from "./migrations.ts";
import { assertSchemaName, channelOf, DEFAULT_DB_SCHEMA, migrationLockOf } from "./storage-schema.ts";

export type Database = PgDatabase<PgQueryResultHKT, typeof tables>;

export interface Db {
  readonly kind: "pglite" | "postgres";
  /** The Postgres schema that holds Isobox's tables. */
  readonly schema: string;
  readonly orm: Database;
  /** Rows of a raw statement, the same shape on both drivers. */
  rows<T = Record<string, unknown>>(query: SQL): Promise<T[]>;
  /** Subscribes to NOTIFY on one of this installation's channels (see `channel`); resolves to the unsubscribe function. */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  notify(channel: string, payload: string): Promise<void>;
  /** The database-wide name of this installation's channel `name`, for pg_notify in SQL. */
  channel(name: string): string;
  /** True when the database answers within `timeoutMs`. */
  ping(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

export interface ConnectOptions {
  databaseUrl?: string;
  dataDir: string;
  /** Isobox's Postgres schema; default "isobox". */
  schema?: string;
  /** Connections per process (Postgres only). */
  poolSize?: number;
}

/** A driver's Db, and how it holds a session-level advisory lock while `work` runs. */
interface Driver extends Db {
  locked<T>(key: [number, number], work: () => Promise<T>): Promise<T>;
}

export async function connect(options: ConnectOptions): Promise<Db> {
  const schema = options.schema ?? DEFAULT_DB_SCHEMA;
  assertSchemaName(schema);
  const db = options.databaseUrl ? await connectPostgres(options.databaseUrl, schema, options.poolSize ?? 10) : await connectPglite(options.dataDir, schema);
  try {
    // Serialises processes starting at once against one server; others wait, then find it done.
    await db.locked(migrationLockOf(schema), () => prepareStorage(db));
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

/**
 * Failures after which the statement surely did not run: the server terminated the connection
 * ("57P0x"), or none could be opened (CONNECT_TIMEOUT, ECONNREFUSED: nothing was sent).
 */
const NOT_SENT = new Set(["57P01", "57P02", "57P03", "CONNECT_TIMEOUT", "ECONNREFUSED"]);
/** What postgres.js rejects with when the server or the network drops a connection. */
const CONNECTION_ERRORS = new Set([...NOT_SENT, "CONNECTION_CLOSED", "CONNECTION_DESTROYED", "ECONNRESET", "EPIPE"]);

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** Whether an error is the database's connection failing (drizzle puts the driver's error in `cause`). */
export function isConnectionError(error: unknown): boolean {
  return CONNECTION_ERRORS.has(codeOf(error) ?? codeOf((error as { cause?: unknown } | null)?.cause) ?? "");
}

/**
 * postgres.js 3.4.9 keeps the "terminating connection" error (57P01) of a connection that the
 * server killed and hands it to the next query on the reconnected socket (porsager/postgres#1223):
 * after a Postgres restart, queries failed seconds after the node was ready again. That query
 * never ran, so it is sent again; so is one that found no connection to go out on. A statement
 * cut off by a network error may have committed, and is not.
 */
function retryingUnsent<C extends ((...args: never[]) => unknown) & { unsafe: Function }>(client: C): C {
  const run = async <T>(work: () => PromiseLike<T>): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        if (attempt >= 2 || !NOT_SENT.has(codeOf(error) ?? "")) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50 * 3 ** attempt));
      }
    }
  };
  const unsafe = (query: string, params?: unknown[], options?: unknown) => {
    const start = () => client.unsafe(query, params, options);
    return {
      then: (resolve: (value: unknown) => unknown, reject: (error: unknown) => unknown) => run(() => start()).then(resolve, reject),
      values: () => run(() => start().values()),
    };
  };
  return new Proxy(client, { get: (target, key, receiver) => (key === "unsafe" ? unsafe : Reflect.get(target, key, receiver)) });
}

/**
 * postgres.js 3.4.9 drops the promise of a connection's first type query (connection.js:564):
 * when the server kills the connection during it, the rejection is unhandled and would end the
 * process (porsager/postgres#1192). The connection's own close handling covers it, so connection
 * errors are only logged while a Postgres database is open; any other unhandled rejection still
 * ends the process as it would without this listener (unless the embedder has listeners of its own).
 */
function tolerateDriverRejections(): () => void {
  // One listener however many databases are open: with one per database, the "only listener"
  // check below never held and other rejections were swallowed.
  if (tolerating++ === 0) process.on("unhandledRejection", onDriverRejection);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--tolerating === 0) process.off("unhandledRejection", onDriverRejection);
  };
}

/** Postgres databases open in this process (see tolerateDriverRejections). */
let tolerating = 0;

function onDriverRejection(reason: unknown): void {
  if (CONNECTION_ERRORS.has(codeOf(reason) ?? "")) {
    console.error(`isobox: a database connection failed (${codeOf(reason)}); it is reopened on the next query`);
    return;
  }
  if (process.listenerCount("unhandledRejection") === 1) throw reason;
}

async function connectPostgres(url: string, schema: string, max: number): Promise<Driver> {
  const { default: postgres } = await import("postgres");
  const { drizzle } = await import("drizzle-orm/postgres-js");
  // JIT off: its compile time is what Isobox's short statements would pay. With the jobs table
  // analyzed mid-burst, the claim's estimated cost passes jit_above_cost, and a claim of 200
  // would spend ~28 ms compiling a plan that runs in ~3.
  // search_path as a startup parameter: every connection of the pool, the reserved and the
  // LISTEN ones included, sees Isobox's schema only (and a schema created later).
  const client = postgres(url, { max, onnotice: () => {}, connect_timeout: 10, connection: { jit: "off", search_path: schema } });
  const untolerate = tolerateDriverRejections();
  const pgOrm = drizzle(retryingUnsent(client), { schema: tables });
  const orm = pgOrm as unknown as Database;
  return {
    kind: "postgres",
    schema,
    orm,
    rows: async <T>(query: SQL) => (await orm.execute(query)) as unknown as T[],
    async listen(channel, onPayload) {
      const { unlisten } = await client.listen(channelOf(schema, channel), onPayload, () => {});
      return unlisten;
    },
    async notify(channel, payload) {
      await client.notify(channelOf(schema, channel), payload);
    },
    channel: (name) => channelOf(schema, name),
    ping: async (timeoutMs = 2000) => (await withTimeout(client`select 1`.then(() => true, () => false), timeoutMs)) ?? false,
    close: async () => {
      await client.end({ timeout: 5 });
      untolerate();
    },
    async locked(key, work) {
      // One reserved connection holds the lock while the work runs on the pool's others.
      const lock = await client.reserve();
      try {
        await lock`select pg_advisory_lock(${key[0]}::int4, ${key[1]}::int4)`;
        return await work();
      } finally {
        await lock`select pg_advisory_unlock(${key[0]}::int4, ${key[1]}::int4)`.catch(() => {});
        lock.release();
      }
    },
  };
}

async function connectPglite(dataDir: string, schema: string): Promise<Driver> {
  const { PGlite } = await import("@electric-sql/pglite");
  const { drizzle } = await import("drizzle-orm/pglite");
  const dir = join(dataDir, "pgdata");
  await mkdir(dir, { recursive: true });
  const client = await PGlite.create(dir);
  // PGlite is one session: set once, before any statement, the setting holds for all of them.
  await client.exec(`set search_path to "${schema}"`);
  const orm = drizzle(client, { schema: tables });
  return {
    kind: "pglite",
    schema,
    orm: orm as unknown as Database,
    rows: async <T>(query: SQL) => ((await orm.execute(query)) as unknown as { rows: T[] }).rows,
    listen: (channel, onPayload) => client.listen(channelOf(schema, channel), onPayload),
    async notify(channel, payload) {
      await client.query("select pg_notify($1, $2)", [channelOf(schema, channel), payload]);
    },
    channel: (name) => channelOf(schema, name),
    ping: async (timeoutMs = 2000) => (await withTimeout(client.query("select 1").then(() => true, () => false), timeoutMs)) ?? false,
    close: () => client.close(),
    async locked(key, work) {
      // One process owns a PGlite database; the lock is taken anyway, so both drivers run the same steps.
      await client.query("select pg_advisory_lock($1::int4, $2::int4)", key);
      try {
        return await work();
      } finally {
        await client.query("select pg_advisory_unlock($1::int4, $2::int4)", key).catch(() => {});
      }
    },
  };
}

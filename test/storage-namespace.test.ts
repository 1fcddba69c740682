// Isobox keeps its tables, indexes and migrations journal in a schema of its own (`isobox`, or
// ISOBOX_DB_SCHEMA), never in `public`: an app's own same-named tables stay untouched, an old
// installation (tables in public, journal in drizzle's default schema) is moved on start, and two
// installations in one database with different schema names do not see each other. Each test has
// a database of its own: a scratch Postgres database in the Postgres suite, a PGlite dir otherwise.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { SecretBox } from "../src/capabilities/secret-box.ts";
import { loadConfig } from "../src/config.ts";
import { isoboxMigrations } from "../src/db/migrations.ts";
import { tablesCreatedBy } from "../src/db/legacy-layout.ts";
import { parseManifest } from "../src/functions/manifest.ts";
import { createIsobox, type Isobox, type IsoboxOptions } from "../src/index.ts";
import { json, TEST_ADMIN_TOKEN, TEST_MASTER_KEY } from "./helpers/box.ts";
import { scratchDatabase } from "./helpers/postgres.ts";

const MIGRATIONS = fileURLToPath(new URL("../schema/migrations", import.meta.url));
/** The migrations of the last layout without a schema of its own (before the cluster identity). */
const OLD_LAYOUT_MIGRATIONS = 6;
const ENV_DUMP = "export default { fetch(request, env) { return Response.json(env); }, async job(payload) { return { echoed: payload }; } }";

type Query = (text: string) => Promise<any[]>;

interface Backend {
  /** Options that put a node on this database. */
  options: IsoboxOptions;
  /** Runs statements with a client of its own, default search_path, while no node has it open (PGlite has one client). */
  raw<T>(work: (query: Query, migrateOldWay: (folder: string) => Promise<void>) => Promise<T>): Promise<T>;
}

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

async function backend(prefix: string): Promise<Backend> {
  if (process.env.DATABASE_URL) {
    const database = await scratchDatabase(prefix);
    cleanups.push(() => database.drop());
    return {
      options: { databaseUrl: database.url },
      async raw(work) {
        const client = postgres(database.url, { max: 1, onnotice: () => {} });
        const { drizzle } = await import("drizzle-orm/postgres-js");
        const { migrate } = await import("drizzle-orm/postgres-js/migrator");
        try {
          return await work(async (text) => [...await client.unsafe(text)].map((row) => ({ ...row })), (folder) => migrate(drizzle(client), { migrationsFolder: folder }));
        } finally {
          await client.end({ timeout: 5 });
        }
      },
    };
  }
  const dir = await mkdtemp(join(tmpdir(), `isobox-${prefix}-`));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return {
    options: { dataDir: dir, databaseUrl: undefined },
    async raw(work) {
      const { PGlite } = await import("@electric-sql/pglite");
      const { drizzle } = await import("drizzle-orm/pglite");
      const { migrate } = await import("drizzle-orm/pglite/migrator");
      const client = await PGlite.create(join(dir, "pgdata"));
      try {
        return await work(async (text) => (await client.exec(text)).at(-1)?.rows ?? [], (folder) => migrate(drizzle(client), { migrationsFolder: folder }));
      } finally {
        await client.close();
      }
    },
  };
}

async function start(where: Backend, options: IsoboxOptions = {}): Promise<Isobox> {
  const dataDir = where.options.dataDir ?? await mkdtemp(join(tmpdir(), "isobox-ns-node-"));
  if (!where.options.dataDir) cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  return createIsobox({ masterKey: TEST_MASTER_KEY, adminToken: TEST_ADMIN_TOKEN, spareIsolates: 0, jobPollMs: 100, ...where.options, dataDir, ...options });
}

function api(box: Isobox, method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, ...(body === undefined ? {} : { "content-type": "application/json" }) };
  return Promise.resolve(box.app.request(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }));
}

/** Plain arrays of plain rows, whichever the driver (postgres.js answers with an Array subclass). */
async function rows<T = any>(box: Isobox, text: string): Promise<T[]> {
  return [...await box.db.rows<T>(sql.raw(text))].map((row) => ({ ...row }));
}

/** What a schema holds: its tables and its indexes, by name. */
async function contents(box: Isobox, schema: string): Promise<{ tables: string[]; indexes: string[] }> {
  const tables = await rows<{ name: string }>(box, `select table_name as name from information_schema.tables where table_schema = '${schema}' order by 1`);
  const indexes = await rows<{ name: string }>(box, `select indexname as name from pg_indexes where schemaname = '${schema}' order by 1`);
  return { tables: tables.map((r) => r.name), indexes: indexes.map((r) => r.name) };
}

async function waitForJob(box: Isobox, tenant: string, id: string): Promise<any> {
  let job: any;
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
    job = await json(await api(box, "GET", `/api/tenants/${tenant}/jobs/${id}`));
    if (["succeeded", "failed", "cancelled"].includes(job.status)) return job;
  }
  throw new Error(`job ${id} did not finish: ${JSON.stringify(job)}`);
}

const APP_TABLES = `
  create table public.tenants (tenant_id serial primary key, display_name text not null);
  create table public.functions (fn_id serial primary key, body text);
  create table public.jobs (job_id serial primary key, cron text, owner text);
  create table public.runs (run_id serial primary key, outcome text);
  insert into public.tenants (display_name) values ('the app''s tenant');
  insert into public.functions (body) values ('the app''s function');
  insert into public.jobs (cron, owner) values ('0 * * * *', 'the app');
  insert into public.runs (outcome) values ('the app''s run');`;
const APP_ROWS = `select json_build_object(
  'tenants', (select json_agg(t) from public.tenants t), 'functions', (select json_agg(f) from public.functions f),
  'jobs', (select json_agg(j) from public.jobs j), 'runs', (select json_agg(r) from public.runs r))::text as all`;

test("an app's own public.jobs, runs, tenants and functions stay untouched while Isobox serves beside them", { timeout: 120_000 }, async () => {
  const where = await backend("ns_app");
  const appRows = await where.raw(async (query) => {
    await query(APP_TABLES);
    return (await query(APP_ROWS))[0].all;
  });
  const box = await start(where);
  try {
    const before = await contents(box, "public");
    assert.deepEqual(before.tables, ["functions", "jobs", "runs", "tenants"]);
    await box.deploy("default", "hello", { code: ENV_DUMP, manifest: { routes: { auth: "public" } } });
    assert.deepEqual(await json(await box.app.request("/fn/default/hello")), {});
    const enqueued = await api(box, "POST", "/api/tenants/default/functions/hello/jobs", { payload: { n: 1 } });
    assert.equal(enqueued.status, 202, await enqueued.clone().text());
    const job = await waitForJob(box, "default", (await json(enqueued)).id);
    assert.equal(job.status, "succeeded", JSON.stringify(job));
    assert.deepEqual(job.result, { echoed: { n: 1 } });

    assert.equal((await rows(box, APP_ROWS))[0].all, appRows, "the app's rows are as they were");
    assert.deepEqual(await contents(box, "public"), before, "nothing of Isobox's in public");
    const mine = await contents(box, "isobox");
    for (const table of ["__drizzle_migrations", "cluster_identity", "functions", "jobs", "runs", "tenants"]) assert.ok(mine.tables.includes(table), table);
    for (const index of ["jobs_claim", "runs_started", "api_keys_hash"]) assert.ok(mine.indexes.includes(index), index);
    const schemas = await rows<{ name: string }>(box, "select schema_name as name from information_schema.schemata where schema_name = 'drizzle'");
    assert.equal(schemas.length, 0, "no journal in drizzle's default schema");
  } finally {
    await box.close();
  }
});

test("an old installation (tables in public, journal in drizzle) moves into isobox with its data, and serves", { timeout: 120_000 }, async () => {
  const where = await backend("ns_move");
  const folder = await mkdtemp(join(tmpdir(), "isobox-old-migrations-"));
  cleanups.push(() => rm(folder, { recursive: true, force: true }));
  await cp(MIGRATIONS, folder, { recursive: true });
  const journalFile = join(folder, "meta/_journal.json");
  const journal = JSON.parse(await readFile(journalFile, "utf8"));
  journal.entries = journal.entries.slice(0, OLD_LAYOUT_MIGRATIONS);
  await writeFile(journalFile, JSON.stringify(journal));

  const jobId = randomUUID();
  const ciphertext = SecretBox.fromText(TEST_MASTER_KEY).encrypt("an-old-secret", "legacy/OLD_SECRET");
  const manifest = JSON.stringify(parseManifest({ routes: { auth: "public" }, secrets: ["OLD_SECRET"] })).replaceAll("'", "''");
  const oldJournal = await where.raw(async (query, migrateOldWay) => {
    await migrateOldWay(folder);
    await query(`
      insert into drizzle.__drizzle_migrations (hash, created_at) values ('another-apps-migration', 1);
      insert into public.tenants (name) values ('legacy');
      insert into public.functions (tenant, name, active_version, latest_version) values ('legacy', 'old-fn', 1, 1);
      insert into public.function_versions (tenant, name, version, code, manifest) values ('legacy', 'old-fn', 1, '${ENV_DUMP.replaceAll("'", "''")}', '${manifest}');
      insert into public.secrets (tenant, name, ciphertext) values ('legacy', 'OLD_SECRET', '${ciphertext}');
      insert into public.jobs (id, tenant, function, status, attempts, max_attempts, result, trace_id, finished_at)
        values ('${jobId}', 'legacy', 'old-fn', 'succeeded', 1, 1, '{"done":true}', 'trace-of-old-job', now());`);
    const tables = await query("select count(*)::int as n from information_schema.tables where table_schema = 'public'");
    assert.ok(tables[0].n >= 11, "the old layout has its tables in public");
    return query("select id, hash, created_at::text as at from drizzle.__drizzle_migrations order by id");
  });
  assert.equal(oldJournal.length, OLD_LAYOUT_MIGRATIONS + 1);

  for (const round of ["moves", "finds it moved"]) {
    // On Postgres two nodes start at once: one moves it under the lock, the other finds it moved.
    const [box, twin] = round === "moves" && where.options.databaseUrl ? await Promise.all([start(where), start(where)]) : [await start(where)];
    try {
      for (const node of twin ? [box, twin] : [box]) {
        assert.deepEqual(await json(await node.app.request("/fn/legacy/old-fn")), { OLD_SECRET: "an-old-secret" }, round);
      }
      const job = await json(await api(box, "GET", `/api/tenants/legacy/jobs/${jobId}`));
      assert.equal(job.status, "succeeded", JSON.stringify(job));
      assert.deepEqual(job.result, { done: true });
      assert.deepEqual(await contents(box, "public"), { tables: [], indexes: [] }, `${round}: nothing left in public`);
      const moved = await contents(box, "isobox");
      for (const index of ["jobs_claim", "jobs_key", "runs_job", "webhook_events_delivery", "api_keys_hash"]) assert.ok(moved.indexes.includes(index), index);
      const fks = await rows<{ ref: string }>(box, "select distinct confrelid::regclass::text as ref from pg_constraint where contype = 'f' and connamespace = 'isobox'::regnamespace order by 1");
      assert.deepEqual(fks.map((r) => r.ref), ["jobs", "runs", "tenants"], "foreign keys point into isobox");
      const copied = await rows<{ hash: string }>(box, "select hash from isobox.__drizzle_migrations order by id");
      assert.deepEqual(copied.map((r) => r.hash), isoboxMigrations().map((m) => m.hash), "the old rows copied, the newer migrations applied");
      const left = await rows(box, "select id, hash, created_at::text as at from drizzle.__drizzle_migrations order by id");
      assert.deepEqual(left, oldJournal, "the old journal is untouched");
    } finally {
      await box.close();
      await twin?.close();
    }
  }
});

test("a custom schema name works, and two installations with different names in one database do not see each other", { timeout: 120_000 }, async () => {
  const where = await backend("ns_two");
  const tenants = async (box: Isobox) => ((await json(await api(box, "GET", "/api/tenants"))).tenants as { name: string }[]).map((t) => t.name).sort();
  const open = (schema: string) => start(where, { dbSchema: schema });
  // PGlite has one client per database: the two take turns; on Postgres both are open at once.
  const concurrent = Boolean(where.options.databaseUrl);
  const first = await open("isobox_one");
  assert.equal((await api(first, "POST", "/api/tenants", { name: "only-one" })).status, 201);
  if (!concurrent) await first.close();
  const second = await open("isobox_two");
  try {
    assert.deepEqual(await tenants(second), ["default"]);
    assert.equal((await api(second, "POST", "/api/tenants", { name: "only-two" })).status, 201);
    assert.equal(second.db.schema, "isobox_two");
    const schemas = await rows<{ schema: string }>(second, "select table_schema as schema from information_schema.tables where table_name = 'tenants' order by 1");
    assert.deepEqual(schemas.map((r) => r.schema), ["isobox_one", "isobox_two"], "no tenants table in public or isobox");
    if (concurrent) {
      // Channels belong to the database: each installation hears only its own.
      const heard: string[] = [];
      const unlisten = await second.db.listen("logs", (payload) => heard.push(payload));
      await first.db.notify("logs", "one's line");
      await second.db.notify("logs", "two's line");
      for (let i = 0; i < 100 && heard.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      await new Promise((resolve) => setTimeout(resolve, 100));
      await unlisten();
      assert.deepEqual(heard, ["two's line"]);
    }
  } finally {
    await second.close();
  }
  const again = concurrent ? first : await open("isobox_one");
  try {
    assert.deepEqual(await tenants(again), ["default", "only-one"]);
  } finally {
    await again.close();
  }
});

test("ISOBOX_DB_SCHEMA must be a plain identifier and not public", () => {
  assert.equal(loadConfig({}, {}).dbSchema, "isobox");
  assert.equal(loadConfig({}, { ISOBOX_DB_SCHEMA: "agents_runtime" }).dbSchema, "agents_runtime");
  for (const bad of ["public", "Isobox", "my-schema", "1st", "pg_isobox", "drizzle", "a".repeat(41)]) {
    assert.throws(() => loadConfig({}, { ISOBOX_DB_SCHEMA: bad }), /Invalid configuration ISOBOX_DB_SCHEMA/, bad);
  }
});

test("read for running, the migrations name no schema: drizzle-kit's \"public\". qualifiers are gone, the hashes are the files'", async () => {
  const migrations = isoboxMigrations();
  for (const migration of migrations) {
    for (const statement of migration.sql) assert.doesNotMatch(statement, /"public"\./);
  }
  const journal = JSON.parse(await readFile(join(MIGRATIONS, "meta/_journal.json"), "utf8"));
  const hashes = await Promise.all(journal.entries.map(async (e: { tag: string }) => createHash("sha256").update(await readFile(join(MIGRATIONS, `${e.tag}.sql`), "utf8")).digest("hex")));
  assert.deepEqual(migrations.map((m) => m.hash), hashes);
  assert.deepEqual(tablesCreatedBy([
    'CREATE TABLE "a" (x int);', 'CREATE TABLE IF NOT EXISTS "public"."b" (x int);', 'ALTER TABLE "a" RENAME TO "c";', 'DROP TABLE "b";', 'ALTER TABLE "c" ADD COLUMN "y" int;',
  ]), ["c"]);
});

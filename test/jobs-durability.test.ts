// Jobs survive what happens to real deployments: the whole node killed with SIGKILL in the middle
// of hundreds of jobs, Postgres dropping every connection while jobs run, and a SIGTERM that ends
// attempts before they finish. Nothing is lost, and a step that completed is not run again.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { startNode, type NodeProcess } from "./helpers/process.ts";
import { eventually } from "./helpers/wait.ts";

const DATABASE_URL = process.env.DATABASE_URL;
/** The server test 2 creates its own database on, whatever backend the suite runs on. */
const PG_ADMIN_URL = process.env.ISOBOX_TEST_PG_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const WORKERS = DATABASE_URL ? 2 : 1;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function api(node: NodeProcess, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(node.url + path, {
    method,
    headers: { authorization: `Bearer ${node.token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

async function deploy(node: NodeProcess, name: string, code: string, manifest: unknown): Promise<void> {
  const res = await api(node, "PUT", `/api/tenants/default/functions/${name}`, { code, manifest });
  assert.equal(res.status, 201, JSON.stringify(res.body));
}

/** Enqueues `n` jobs, `parallel` requests at a time; returns their ids in order. */
async function enqueueMany(node: NodeProcess, fn: string, n: number, parallel = 25): Promise<string[]> {
  const ids: string[] = new Array(n);
  for (let start = 0; start < n; start += parallel) {
    await Promise.all(Array.from({ length: Math.min(parallel, n - start) }, async (_, k) => {
      const i = start + k;
      const res = await api(node, "POST", `/api/tenants/default/functions/${fn}/jobs`, { payload: { i } });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      assert.equal(res.body.created, true);
      ids[i] = res.body.id;
    }));
  }
  return ids;
}

type Counts = Record<"queued" | "running" | "succeeded" | "failed" | "cancelled", number>;

async function counts(node: NodeProcess, fn: string): Promise<Counts> {
  const res = await api(node, "GET", `/api/tenants/default/jobs?function=${fn}&limit=1`);
  if (res.status !== 200) throw new Error(`jobs list answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body.counts;
}

/** Every item of a paginated listing (`jobs` or `runs`). */
async function listAll(node: NodeProcess, path: string, key: "jobs" | "runs"): Promise<any[]> {
  const items: any[] = [];
  let cursor: string | null = null;
  do {
    const res = await api(node, "GET", `${path}&limit=500${cursor ? `&cursor=${cursor}` : ""}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    items.push(...res.body[key]);
    cursor = res.body.nextCursor;
  } while (cursor);
  return items;
}

/**
 * GETs every job with its steps, `parallel` at a time. A 5xx is asked again (test 2 checks the
 * API's answers on its own; here only the jobs' state matters).
 */
async function jobDetails(node: NodeProcess, ids: string[], parallel = 25): Promise<Map<string, any>> {
  const jobs = new Map<string, any>();
  for (let start = 0; start < ids.length; start += parallel) {
    await Promise.all(ids.slice(start, start + parallel).map(async (id) => {
      let res = await api(node, "GET", `/api/tenants/default/jobs/${id}`);
      for (let retry = 0; res.status >= 500 && retry < 3; retry++) res = await api(node, "GET", `/api/tenants/default/jobs/${id}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      jobs.set(id, res.body);
    }));
  }
  return jobs;
}

/** Waits until all `n` of `fn`'s jobs succeeded; fails at once if one failed or was cancelled. */
async function allSucceed(node: NodeProcess, fn: string, n: number, timeoutMs = 60_000): Promise<void> {
  let last: Counts | undefined;
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(200)) {
    last = await counts(node, fn).catch(() => last);
    if (!last) continue;
    assert.equal(last.failed + last.cancelled, 0, `jobs ended badly: ${JSON.stringify(last)}`);
    if (last.succeeded === n) break;
  }
  assert.deepEqual(last, { queued: 0, running: 0, succeeded: n, failed: 0, cancelled: 0 }, `all ${n} jobs of ${fn} succeed within ${timeoutMs} ms`);
}

/**
 * Runs `work` on the node's database while no node runs: Postgres directly; PGlite on a copy of
 * the data dir, so the next node still finds the database exactly as its predecessor left it.
 */
async function inspectDatabase<T>(dataDir: string, databaseUrl: string | undefined, work: (query: (text: string, params?: unknown[]) => Promise<any[]>) => Promise<T>): Promise<T> {
  if (databaseUrl) {
    // Isobox's tables are in its own schema (src/db/storage-schema.ts).
    const sql = postgres(databaseUrl, { max: 1, onnotice: () => {}, connection: { search_path: "isobox" } });
    try {
      return await work((text, params = []) => sql.unsafe(text, params as any[]) as unknown as Promise<any[]>);
    } finally {
      await sql.end({ timeout: 5 });
    }
  }
  const copy = await mkdtemp(join(tmpdir(), "isobox-inspect-"));
  try {
    await cp(join(dataDir, "pgdata"), copy, { recursive: true });
    const { PGlite } = await import("@electric-sql/pglite");
    const db = await PGlite.create(copy);
    try {
      await db.exec("set search_path to isobox");
      return await work(async (text, params = []) => (await db.query(text, params)).rows as any[]);
    } finally {
      await db.close();
    }
  } finally {
    await rm(copy, { recursive: true, force: true });
  }
}

/** A loopback HTTP service the guests call: counts calls per path, answers after `delayMs`. */
interface Stub {
  port: number;
  calls: Map<string, number>;
  /** What GET /delay/:id answers (ms). */
  delay: number;
  close(): Promise<void>;
}

async function startStub(delayMs: number): Promise<Stub> {
  const stub: Stub = { port: 0, calls: new Map(), delay: 30_000, close: async () => {} };
  const server: Server = createServer((req, res) => {
    const path = req.url ?? "";
    const n = (stub.calls.get(path) ?? 0) + 1;
    stub.calls.set(path, n);
    setTimeout(() => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(path.startsWith("/delay/") ? stub.delay : { n }));
    }, path.startsWith("/call/") ? delayMs : 0);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  stub.port = (server.address() as AddressInfo).port;
  stub.close = () => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return stub;
}

const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString("hex")}`;

test("kill -9 of the whole node in the middle of 500 jobs: a restart finishes all, completed steps are not repeated", { timeout: 180_000 }, async () => {
  const stub = await startStub(200);
  const dataDir = await mkdtemp(join(tmpdir(), "isobox-durable-"));
  const fn = unique("dur-kill");
  const concurrency = 50;
  const env = {
    ISOBOX_JOB_LEASE_MS: "2000",
    ISOBOX_JOB_CONCURRENCY: String(concurrency),
    ISOBOX_JOB_POLL_MS: "200",
    ISOBOX_EGRESS_ALLOW_PRIVATE: `127.0.0.1:${stub.port}`,
  };
  const args = ["--workers", String(WORKERS)];
  let node: NodeProcess | undefined;
  try {
    node = await startNode(args, env, { dataDir });
    // Step 1 is the side effect (the stub counts it, and answers after 200 ms); step 2 holds the
    // job for about a second, for different times so that jobs do not move in lockstep: a kill
    // finds jobs in either step.
    await deploy(node, fn, `export default {
      async job(payload, env, ctx) {
        const n = await ctx.step.run("call", async () => {
          const response = await fetch("http://127.0.0.1:${stub.port}/call/" + ctx.job.id);
          if (!response.ok) throw new Error("the stub answered " + response.status);
          return (await response.json()).n;
        });
        await ctx.step.run("wait", () => new Promise((resolve) => setTimeout(() => resolve(true), 600 + (payload.i % 9) * 100)));
        return { i: payload.i, n };
      },
    }`, { fetch: { allow: [`127.0.0.1:${stub.port}`] }, jobs: { maxAttempts: 5 } });
    const ids = await enqueueMany(node, fn, 500);

    const first = node;
    let before: Counts | undefined;
    await eventually("some jobs finished, many run, many wait", async () => {
      before = await counts(first, fn);
      return before.succeeded >= 100 && before.running >= 20 && before.queued >= 100;
    });
    // What the API reported done must still be done after the crash.
    const reportedDone = (await listAll(node, `/api/tenants/default/jobs?function=${fn}&status=succeeded`, "jobs")).map((job) => job.id as string);
    await node.kill();
    assert.equal(node.child.signalCode, "SIGKILL");

    // The database as the kill left it.
    const atKill = await inspectDatabase(dataDir, DATABASE_URL, async (query) => ({
      jobs: await query(`select id, status, attempts from jobs where tenant = 'default' and function = $1`, [fn]),
      stored: await query(`select s.job_id as "jobId" from job_steps s join jobs j on j.id = s.job_id
        where j.tenant = 'default' and j.function = $1 and s.name = 'call' and s.status = 'succeeded'`, [fn]),
    }));
    const statusAtKill = new Map<string, string>(atKill.jobs.map((row) => [row.id, row.status]));
    const runningAtKill = new Set(atKill.jobs.filter((row) => row.status === "running").map((row) => row.id as string));
    const callStoredAtKill = new Set<string>(atKill.stored.map((row) => row.jobId));
    const byStatus = Object.groupBy(atKill.jobs, (row) => row.status as string);
    const tally = Object.fromEntries(Object.entries(byStatus).map(([status, rows]) => [status, rows!.length]));
    console.log(`# at the kill (API a moment before: ${JSON.stringify(before)}): ${JSON.stringify(tally)}; step "call" stored for ${callStoredAtKill.size} jobs`);
    assert.equal(atKill.jobs.length, 500, "every enqueued job is in the database");
    assert.deepEqual(new Set(statusAtKill.keys()), new Set(ids));
    assert.ok(runningAtKill.size > 0 && (tally.succeeded ?? 0) > 0 && (tally.queued ?? 0) > 0, `the kill came in the middle: ${JSON.stringify(tally)}`);
    assert.equal((tally.failed ?? 0) + (tally.cancelled ?? 0), 0);
    for (const id of reportedDone) assert.equal(statusAtKill.get(id), "succeeded", `job ${id} was reported succeeded before the kill`);
    assert.ok(runningAtKill.size <= concurrency * WORKERS, `at most ${concurrency} jobs per process run at once: ${runningAtKill.size} were running`);
    const runningWithStep = [...runningAtKill].filter((id) => callStoredAtKill.has(id));
    assert.ok(runningWithStep.length > 0, "some running jobs had finished step 1");

    // The same database, a new node.
    node = await startNode(args, env, { dataDir });
    await allSucceed(node, fn, 500, 90_000);

    const jobs = await jobDetails(node, ids);
    let repeated = 0;
    for (const id of ids) {
      const job = jobs.get(id);
      const calls = stub.calls.get(`/call/${id}`) ?? 0;
      const where = `job ${id} (${statusAtKill.get(id)} at the kill, ${calls} stub calls): ${JSON.stringify(job)}`;
      assert.equal(job.status, "succeeded", where);
      assert.ok(calls >= 1, `step 1 ran for ${where}`);
      if (calls > 1) repeated++;
      if (!runningAtKill.has(id)) {
        // Never interrupted: one attempt, one call.
        assert.equal(calls, 1, `only a job running at the kill may repeat step 1: ${where}`);
        assert.equal(job.attempts, 1, where);
      } else {
        // The interrupted attempt counts (the sweeper cannot tell a kill from a job that kills its worker).
        assert.equal(job.attempts, 2, where);
      }
      if (callStoredAtKill.has(id)) {
        assert.equal(calls, 1, `step 1 was stored before the kill and must not run again: ${where}`);
        assert.equal(job.result.n, 1, where);
      }
      const call = job.steps.find((s: any) => s.name === "call");
      assert.equal(call?.status, "succeeded", where);
      if (callStoredAtKill.has(id)) assert.equal(call.attempt, 1, where);
      assert.deepEqual(job.steps.map((s: any) => s.name).sort(), ["call", "wait"], where);
      assert.equal(job.result.i, ids.indexOf(id));
    }
    console.log(`# ${runningAtKill.size} jobs were running at the kill (${runningWithStep.length} past step 1); ${repeated} called the stub twice`);

    // Runs after the first attempt exist only for the jobs the kill interrupted (one each).
    const restarted = node;
    let runs: any[] = [];
    await eventually("every interrupted job's second attempt is recorded as a run", async () => {
      runs = await listAll(restarted, `/api/tenants/default/runs?trigger=job&function=${fn}`, "runs");
      const retried = new Set(runs.filter((run) => run.attempt > 1).map((run) => run.jobId));
      return [...runningAtKill].every((id) => retried.has(id));
    }, 15_000);
    for (const run of runs) {
      assert.ok(ids.includes(run.jobId), `a run of an unknown job: ${JSON.stringify(run)}`);
      if (run.attempt > 1) {
        assert.ok(runningAtKill.has(run.jobId), `attempt ${run.attempt} of a job that was ${statusAtKill.get(run.jobId)} at the kill: ${JSON.stringify(run)}`);
        assert.equal(run.attempt, 2);
        assert.equal(run.status, "succeeded");
      }
    }
  } finally {
    await node?.stop();
    await stub.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test("Postgres drops every connection while jobs run: all jobs succeed and the node serves on without a restart", { timeout: 180_000 }, async () => {
  const name = `isobox_dur_${randomBytes(6).toString("hex")}`;
  const admin = postgres(PG_ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const databaseUrl = new URL(PG_ADMIN_URL);
  databaseUrl.pathname = `/${name}`;
  const fn = unique("dur-pg");
  let node: NodeProcess | undefined;
  try {
    node = await startNode(["--workers", "2"], {
      DATABASE_URL: databaseUrl.href,
      ISOBOX_JOB_CONCURRENCY: "10",
      ISOBOX_JOB_LEASE_MS: "3000",
      ISOBOX_JOB_POLL_MS: "200",
    });
    const live = node;
    await eventually("two workers", async () => live.workerPids().length === 2);
    const workers = live.workerPids().sort();
    await deploy(node, fn, `export default {
      async job(payload, env, ctx) {
        let sum = 0;
        for (const step of ["a", "b", "c"]) sum += await ctx.step.run(step, () => new Promise((resolve) => setTimeout(() => resolve(1), 300)));
        return { i: payload.i, sum };
      },
    }`, { jobs: { maxAttempts: 5, backoff: { baseMs: 100, maxMs: 500 } } });
    const ids = await enqueueMany(node, fn, 100);
    /** `n` API reads at once, as clients keep polling their jobs; the statuses they got (0: no answer). */
    const reads = (n: number) => Promise.all(Array.from({ length: n }, (_, k) =>
      api(live, "GET", `/api/tenants/default/jobs/${ids[k % ids.length]}`).then((res) => res.status, () => 0)));

    await eventually("jobs run", async () => {
      const c = await counts(live, fn);
      return c.running > 0 && c.succeeded > 0 && c.queued > 0;
    });
    // Three times, as a restart of Postgres looks to its clients: every connection of the node's
    // database ends, some in the middle of a job's statement, some in the middle of an API read.
    const terminated: number[] = [];
    for (let i = 0; i < 3; i++) {
      await eventually("the node is connected again", async () =>
        (await admin.unsafe(`select count(*)::int as n from pg_stat_activity where datname = $1`, [name]))[0].n > 0, 60_000);
      const during = reads(40);
      await sleep(10);
      const rows = await admin.unsafe(`select pg_terminate_backend(pid) as ok from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`, [name]);
      terminated.push(rows.filter((row) => row.ok).length);
      await during;
      await sleep(500);
    }
    console.log(`# connections terminated: ${terminated.join(", ")}`);
    assert.ok(terminated.every((n) => n > 0), "each round cut live connections");

    await allSucceed(node, fn, 100, 90_000);
    await eventually("/readyz answers 200", async () => (await fetch(`${live.url}/readyz`)).status === 200, 60_000);
    // Once ready again, the node answers every request (checked last, so that the rest is known too).
    const after: number[] = [];
    for (let i = 0; i < 5; i++) {
      after.push(...await reads(40));
      await sleep(300);
    }

    const jobs = await jobDetails(node, ids);
    for (const [i, id] of ids.entries()) {
      const job = jobs.get(id);
      assert.deepEqual(job.result, { i, sum: 3 }, JSON.stringify(job));
      assert.deepEqual(job.steps.map((s: any) => [s.name, s.status]), [["a", "succeeded"], ["b", "succeeded"], ["c", "succeeded"]], JSON.stringify(job));
    }
    const attempts = Object.groupBy([...jobs.values()], (job) => String(job.attempts));
    console.log(`# attempts: ${Object.entries(attempts).map(([n, list]) => `${list!.length} jobs took ${n}`).join(", ")}`);

    // The same node, without a restart, runs new work.
    const fresh = await api(node, "POST", `/api/tenants/default/functions/${fn}/jobs`, { payload: { i: 100 } });
    assert.equal(fresh.status, 202, JSON.stringify(fresh.body));
    let job: any;
    await eventually("a job enqueued after the outage succeeds", async () => {
      job = (await api(live, "GET", `/api/tenants/default/jobs/${fresh.body.id}`)).body;
      return job.status === "succeeded";
    }, 60_000);
    assert.deepEqual(job.result, { i: 100, sum: 3 });
    assert.equal(node.child.exitCode, null);
    const output = node.output();
    const died = output.indexOf("died (");
    // What killed it: the uncaught error Node printed just before.
    const crash = output.lastIndexOf("triggerUncaughtException", died);
    assert.equal(died, -1, `no worker died; the node said:\n${output.slice(crash >= 0 ? crash - 100 : Math.max(0, died - 2000), died + 100)}`);
    assert.deepEqual(node.workerPids().sort(), workers, "no worker was replaced");

    const failed = after.filter((status) => status !== 200);
    assert.equal(failed.length, 0, `after the outage, with /readyz at 200, ${failed.length} of ${after.length} API reads failed (${failed.join(", ")}); the node said:\n${node.output().split("\n").filter((line) => /unexpected error|cause:|code:/.test(line)).slice(-6).join("\n")}`);
  } finally {
    await node?.stop();
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end({ timeout: 5 });
  }
});

test("SIGTERM ends unfinished attempts and returns their jobs to the queue; the next node runs them", { timeout: 120_000 }, async () => {
  const stub = await startStub(0);
  stub.delay = 30_000;
  const dataDir = await mkdtemp(join(tmpdir(), "isobox-durable-"));
  const fn = unique("dur-term");
  const env = {
    ISOBOX_DRAIN_MS: "500",
    ISOBOX_JOB_POLL_MS: "200",
    ISOBOX_EGRESS_ALLOW_PRIVATE: `127.0.0.1:${stub.port}`,
  };
  const args = ["--workers", String(WORKERS)];
  let node: NodeProcess | undefined;
  try {
    node = await startNode(args, env, { dataDir });
    // The stub says how long the step waits: 30 s for the first node, nothing for the next.
    await deploy(node, fn, `export default {
      async job(payload, env, ctx) {
        const ms = await (await fetch("http://127.0.0.1:${stub.port}/delay/" + ctx.job.id)).json();
        const waited = await ctx.step.run("long", () => new Promise((resolve) => setTimeout(() => resolve(ms), ms)));
        return { i: payload.i, waited, attempt: ctx.job.attempt };
      },
    }`, { fetch: { allow: [`127.0.0.1:${stub.port}`] } });
    const ids = await enqueueMany(node, fn, 10);
    const first = node;
    await eventually("all 10 jobs are inside their 30 s step", async () => {
      const c = await counts(first, fn);
      return c.running === 10 && ids.every((id) => stub.calls.get(`/delay/${id}`) === 1);
    }, 30_000);

    node.child.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([node.exited, new Promise((resolve) => { timer = setTimeout(resolve, 20_000, "still running"); })]);
    clearTimeout(timer);
    assert.deepEqual(exit, { code: 0, signal: null }, "the node exits 0 without waiting for the 30 s steps");
    assert.match(node.output(), /SIGTERM, draining/);

    const rows = await inspectDatabase(dataDir, DATABASE_URL, (query) =>
      query(`select j.id, j.status, j.attempts, j.locked_by as "lockedBy", (select count(*)::int from job_steps s where s.job_id = j.id) as steps
        from jobs j where j.tenant = 'default' and j.function = $1`, [fn]));
    assert.equal(rows.length, 10);
    for (const row of rows) {
      assert.deepEqual(row, { id: row.id, status: "queued", attempts: 0, lockedBy: null, steps: 0 }, "released: queued, the interrupted attempt not counted, no step stored");
    }

    stub.delay = 0;
    node = await startNode(args, env, { dataDir });
    await allSucceed(node, fn, 10);
    const jobs = await jobDetails(node, ids);
    for (const [i, id] of ids.entries()) {
      const job = jobs.get(id);
      assert.equal(job.attempts, 1, JSON.stringify(job));
      assert.deepEqual(job.result, { i, waited: 0, attempt: 1 });
      assert.equal(stub.calls.get(`/delay/${id}`), 2, "started on the first node, run again on the second");
    }
  } finally {
    await node?.stop();
    await stub.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

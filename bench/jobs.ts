// Jobs: no-op job throughput and enqueue-to-start latency of Isobox's job runner (on Postgres and
// on embedded PGlite) against graphile-worker on the same Postgres server, one process each.
//
// Throughput: N no-op jobs are queued first with nothing running them (Isobox: a box with
// jobRunner off, through the job API; graphile-worker: one addJobs batch), then a runner starts;
// the rate is N over the time from the first handler start to the moment a poll of the database
// finds every job finished (polls spaced at 0.5% of the time waited so far, so the end is found
// that closely). Both times are this process's Date.now(). Runner start-up is not counted.
// Latency: with an idle, warm runner, one job at a time is enqueued (API call / addJob) every
// 10–20 ms; latency = the handler's Date.now() minus Date.now() just before the enqueue call.
// Each Isobox job also stores a run record, which graphile-worker has no equivalent of.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { createIsobox, type Isobox } from "../src/index.ts";
import { median, percentile, table } from "./load.ts";
import { BENCH_DIR } from "./peers.ts";
import { scratchDatabase, SERVER } from "./postgres.ts";
import { BENCH_ADMIN_TOKEN, BENCH_MASTER_KEY } from "./cluster-keys.ts";

export interface JobsBenchOptions {
  /** No-op jobs in the throughput run. */
  jobs: number;
  /** Enqueue-to-start samples. */
  samples: number;
  /**
   * Jobs one process runs at once, each at its best: Isobox's claims take up to 200 jobs, and at
   * 400 one claim runs while the jobs of the last one do (~15% more jobs/s than at 200, 2
   * cores); graphile-worker's pool needs a connection per concurrent job (Postgres allows 100).
   */
  concurrency: { isobox: number; graphile: number };
  /** Throughput rounds (pre-fill, drain); the median is shown. */
  rounds: number;
}

interface Measured {
  jobsPerSecond: number;
  p50: number;
  p99: number;
  /** How long queueing the N jobs took (informative: API calls for Isobox, one batch for graphile). */
  enqueueMs: number;
}

/** A poll of the database every 1/POLL_SHARE of the time waited so far (at least 1 ms): the end is found within ~0.5% however long the run. */
const POLL_SHARE = 200;
/** Parallel API calls while pre-filling the Isobox queue. */
const ENQUEUE_PARALLEL = 64;
const NOOP = `export default { job(payload) { return Date.now() } }`;


/** Polls `done` until it is true; returns Date.now() when it first was. */
async function until(done: () => Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
  const since = Date.now();
  while (!(await done())) {
    if (Date.now() > since + timeoutMs) throw new Error(`bench jobs: ${what} did not finish within ${timeoutMs} ms`);
    await sleep(Math.max(1, (Date.now() - since) / POLL_SHARE));
  }
  return Date.now();
}

/** Runs `work(i)` for i < count with at most `parallel` at once. */
async function parallelly(count: number, parallel: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, async () => {
    while (next < count) await work(next++);
  }));
}

// ---------------------------------------------------------------------------------------------
// Isobox

async function isoboxBox(dataDir: string, databaseUrl: string | undefined, jobRunner: boolean, concurrency: number): Promise<Isobox> {
  // With DATABASE_URL set, an undefined databaseUrl option would fall back to it: the PGlite row
  // hides it while its box starts.
  const saved = process.env.DATABASE_URL;
  if (!databaseUrl) delete process.env.DATABASE_URL;
  try {
    return await createIsobox({ dataDir, databaseUrl, masterKey: BENCH_MASTER_KEY, adminToken: BENCH_ADMIN_TOKEN, jobRunner, jobConcurrency: concurrency });
  } finally {
    if (saved !== undefined) process.env.DATABASE_URL = saved;
  }
}

async function enqueueApi(box: Isobox, payload: unknown): Promise<string> {
  const response = await box.fetch(new Request("http://bench/api/tenants/default/functions/noop/jobs", {
    method: "POST",
    headers: { authorization: `Bearer ${BENCH_ADMIN_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ payload }),
  }));
  if (response.status !== 202) throw new Error(`bench jobs: enqueue answered ${response.status} ${await response.text()}`);
  return ((await response.json()) as { id: string }).id;
}

async function unfinished(box: Isobox): Promise<number> {
  const [row] = await box.db.rows<{ n: number | string }>(sql`select count(*) as n from jobs where status in ('queued', 'running')`);
  return Number(row?.n);
}

export async function measureIsobox(databaseUrl: string | undefined, options: JobsBenchOptions): Promise<Measured> {
  const dataDir = await mkdtemp(join(tmpdir(), "isobox-bench-jobs-"));
  const rates: number[] = [];
  const enqueueTimes: number[] = [];
  let box: Isobox | undefined;
  try {
    for (let round = 0; round < options.rounds; round++) {
      await box?.close();
      box = undefined;
      // 1. Pre-fill with no runner (after the last round's jobs are gone).
      const filler = await isoboxBox(dataDir, databaseUrl, false, options.concurrency.isobox);
      try {
        if (round === 0) await filler.deploy("default", "noop", { code: NOOP, manifest: {} });
        await filler.db.rows(sql`delete from jobs`);
        const started = performance.now();
        await parallelly(options.jobs, ENQUEUE_PARALLEL, async (i) => void (await enqueueApi(filler, { i })));
        enqueueTimes.push(performance.now() - started);
      } finally {
        await filler.close();
      }
      // 2. A box with the runner on drains the queue.
      box = await isoboxBox(dataDir, databaseUrl, true, options.concurrency.isobox);
      const end = await until(async () => (await unfinished(box!)) === 0, 300_000, "Isobox throughput run");
      const [stats] = await box.db.rows<{ first: number | string; n: number | string; failed: number | string }>(sql`
        select min((result #>> '{}')::float8) as first, count(*) as n, count(*) filter (where status <> 'succeeded') as failed from jobs`);
      if (Number(stats.failed) > 0 || Number(stats.n) !== options.jobs) throw new Error(`bench jobs: ${stats.failed} of ${stats.n} Isobox jobs did not succeed`);
      rates.push(options.jobs / ((end - Number(stats.first)) / 1000));
    }

    // 3. Latency on the now idle, warm runner.
    const sent = new Map<string, number>();
    for (let i = 0; i < options.samples; i++) {
      const at = Date.now();
      sent.set(await enqueueApi(box!, { i }), at);
      await sleep(10 + Math.random() * 10);
    }
    await until(async () => (await unfinished(box!)) === 0, 60_000, "Isobox latency run");
    const ids = JSON.stringify([...sent.keys()]);
    const rows = await box!.db.rows<{ id: string; started: number | string; status: string }>(sql`
      select id, (result #>> '{}')::float8 as started, status from jobs where id in (select jsonb_array_elements_text(${ids}::jsonb))`);
    if (rows.length !== sent.size || rows.some((r) => r.status !== "succeeded")) throw new Error("bench jobs: Isobox latency jobs did not all succeed");
    const latencies = rows.map((r) => Number(r.started) - sent.get(r.id)!);
    return { jobsPerSecond: median(rates), p50: median(latencies), p99: percentile(latencies, 99), enqueueMs: median(enqueueTimes) };
  } finally {
    await box?.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// graphile-worker, loaded from bench/node_modules (installed on first use, so not typed from its
// package: the few calls used are declared here).

interface GraphileWorkerUtils {
  migrate(): Promise<void>;
  addJob(identifier: string, payload: unknown): Promise<unknown>;
  addJobs(specs: { identifier: string; payload: unknown }[]): Promise<unknown>;
  release(): Promise<void>;
}
interface GraphileRunner {
  stop(): Promise<void>;
}
interface GraphileModule {
  Logger: new (factory: (scope: unknown) => (level: string, message: string) => void) => unknown;
  makeWorkerUtils(options: Record<string, unknown>): Promise<GraphileWorkerUtils>;
  run(options: Record<string, unknown>): Promise<GraphileRunner>;
}

/** graphile-worker's settings for the most jobs/s, as its performance page gives them. */
export function graphileSettings(concurrency: number): Record<string, unknown> {
  return {
    concurrency,
    maxPoolSize: concurrency + 2,
    noPreparedStatements: false,
    useNodeTime: true,
    preset: {
      worker: {
        // Fetch and lock jobs in batches and hand them to the workers locally.
        localQueue: { size: Math.max(500, concurrency + 1) },
        // Complete (and fail) jobs in batches.
        completeJobBatchDelay: 0,
        failJobBatchDelay: 0,
      },
    },
  };
}

export async function measureGraphile(url: string, options: JobsBenchOptions): Promise<Measured> {
  const gw = (await import(`${BENCH_DIR}node_modules/graphile-worker/dist/index.js`)) as GraphileModule;
  const logger = new gw.Logger(() => (level, message) => {
    if (level === "error") console.error(`graphile-worker: ${message}`);
  });
  const shared = { connectionString: url, logger, useNodeTime: true, noPreparedStatements: false };
  const utils = await gw.makeWorkerUtils(shared);
  const client = postgres(url, { max: 1, onnotice: () => {} });
  const left = async () => Number((await client`select count(*) as n from graphile_worker._private_jobs`)[0].n);
  let runner: GraphileRunner | undefined;
  let first = Infinity;
  const latencyStarts: number[] = [];
  const taskList = {
    noop: async () => {
      const now = Date.now();
      if (now < first) first = now;
    },
    latency: async (payload: unknown) => {
      latencyStarts[(payload as { i: number }).i] = Date.now();
    },
  };
  const start = () => gw.run({ ...shared, ...graphileSettings(options.concurrency.graphile), taskList, noHandleSignals: true, logger });
  const rates: number[] = [];
  const enqueueTimes: number[] = [];
  try {
    await utils.migrate();
    for (let round = 0; round < options.rounds; round++) {
      await runner?.stop();
      runner = undefined;
      // 1. Pre-fill in one batch with no worker running.
      const started = performance.now();
      await utils.addJobs(Array.from({ length: options.jobs }, (_, i) => ({ identifier: "noop", payload: { i } })));
      enqueueTimes.push(performance.now() - started);
      // 2. Start a worker; time from its first job to an empty queue.
      first = Infinity;
      runner = await start();
      const end = await until(async () => (await left()) === 0, 300_000, "graphile-worker throughput run");
      rates.push(options.jobs / ((end - first) / 1000));
    }

    // 3. Latency on the now idle worker.
    const sent: number[] = [];
    for (let i = 0; i < options.samples; i++) {
      sent[i] = Date.now();
      await utils.addJob("latency", { i });
      await sleep(10 + Math.random() * 10);
    }
    await until(async () => (await left()) === 0 && latencyStarts.filter((t) => t !== undefined).length === options.samples, 60_000, "graphile-worker latency run");
    const latencies = sent.map((at, i) => latencyStarts[i] - at);
    return { jobsPerSecond: median(rates), p50: median(latencies), p99: percentile(latencies, 99), enqueueMs: median(enqueueTimes) };
  } finally {
    await runner?.stop();
    await utils.release();
    await client.end();
  }
}

// ---------------------------------------------------------------------------------------------

/** The jobs table: Isobox on Postgres and on PGlite, graphile-worker, each Postgres row in a scratch database of its own. */
export async function benchJobs(options: JobsBenchOptions): Promise<string> {
  const suffix = randomBytes(4).toString("hex");
  const isoboxDb = await scratchDatabase(`isobox_bench_jobs_${suffix}`);
  const graphileDb = isoboxDb && (await scratchDatabase(`graphile_bench_${suffix}`));
  if (!graphileDb) console.error("bench jobs: only the PGlite row runs");
  const rows: (string | number)[][] = [];
  const prefill: string[] = [];
  try {
    let graphile: Measured | undefined;
    const results: [string, Measured][] = [];
    if (graphileDb) results.push(["Isobox (Postgres)", await measureIsobox(isoboxDb.url, options)]);
    results.push(["Isobox (PGlite)", await measureIsobox(undefined, options)]);
    if (graphileDb) {
      graphile = await measureGraphile(graphileDb.url, options);
      results.push(["graphile-worker (Postgres)", graphile]);
    }
    for (const [label, m] of results) {
      const r = graphile ? m.jobsPerSecond / graphile.jobsPerSecond : undefined;
      const ratio = r === undefined ? "–" : `${r >= 0.1 ? r.toFixed(2) : r.toPrecision(2)}×`;
      rows.push([label, m.jobsPerSecond, ratio, m.p50, m.p99]);
      prefill.push(`${label} ${Math.round(options.jobs / (m.enqueueMs / 1000)).toLocaleString("en-US")}/s`);
    }
  } finally {
    await isoboxDb?.drop();
    await graphileDb?.drop();
  }
  const where = graphileDb ? `Postgres ${graphileDb.version} at ${new URL(SERVER).host}` : "no Postgres server";
  return table(
    `Jobs: ${options.jobs} no-op jobs queued, then drained by one process (concurrency: Isobox ${options.concurrency.isobox}, graphile-worker ${options.concurrency.graphile}), median of ${options.rounds}; ` +
      `enqueue-to-handler-start over ${options.samples} jobs on an idle queue (${where})`,
    ["target", "jobs/s", "vs graphile", "start p50 ms", "start p99 ms"],
    rows,
  ) + `\n(pre-fill, not compared: Isobox ${ENQUEUE_PARALLEL} API calls at a time, graphile-worker one addJobs batch: ${prefill.join(", ")})`;
}

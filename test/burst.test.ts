// Acceptance: a burst of 10,000 HTTP requests is served while run recording keeps up and loses no
// job run. One real node (in-process, real HTTP, PGlite or the Postgres of DATABASE_URL) with
// httpRunSampleRate 1 gets 10,000 requests, 64 at a time over keep-alive connections: a tenth
// throw (500 ERR_FUNCTION_THREW, a failed run), one in a hundred start a job with ctx.enqueue
// (202), the rest answer 200. While the burst runs, 100 more jobs are started through the API and
// the job runner works through all 200, a third of which fail their first attempt and retry.
// Then, within a bounded wait, the runs table must hold exactly one run per request, under the
// run id that request's answer reported, with its outcome, and exactly one run per job attempt,
// with every log line; every job must have succeeded. A recorder that dropped, lost or duplicated
// runs under the burst (or a server that answered 5xx to a request that should succeed) fails it.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { Pool } from "undici";
import { startBox, type TestBox } from "./helpers/box.ts";
import { sleep } from "./helpers/http.ts";
import { parseExposition, valueOf } from "./helpers/prometheus.ts";

const REQUESTS = 10_000;
const CONCURRENCY = 64;
const API_JOBS = 100;
/** Request i throws when i % 10 === 3; it enqueues a job when i % 100 === 7; otherwise it answers 200. */
const kindOf = (i: number): "fail" | "enqueue" | "ok" => (i % 10 === 3 ? "fail" : i % 100 === 7 ? "enqueue" : "ok");
/** Job n (a request's i, or past REQUESTS for the API's) fails its first attempt when n % 3 === 0, then succeeds. */
const flaky = (n: number) => n % 3 === 0;
/** How long recording and the job runner get to catch up after the burst before the counts are asserted. */
const CATCH_UP_MS = 60_000;

const CODE = `export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const i = Number(url.searchParams.get("i"));
    if (url.searchParams.has("fail")) {
      console.log("failing " + i);
      throw new Error("burst failure " + i);
    }
    if (url.searchParams.has("enqueue")) {
      const { id } = await ctx.enqueue({ n: i, flaky: url.searchParams.has("flaky") });
      // Written after a host call, just before the result: it must still reach the run.
      console.log("enqueued " + i);
      return Response.json({ runId: ctx.runId, jobId: id }, { status: 202 });
    }
    console.log("ok " + i);
    return Response.json({ runId: ctx.runId });
  },
  async job(payload, env, ctx) {
    console.log("job " + payload.n + " attempt " + ctx.job.attempt);
    const doubled = await ctx.step.run("double", async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return payload.n * 2;
    });
    if (payload.flaky && ctx.job.attempt === 1) throw new Error("first attempt of " + payload.n + " fails");
    return { doubled };
  },
}`;

let t: TestBox;
let tenant: string;
before(async () => {
  t = await startBox({ httpRunSampleRate: 1, jobPollMs: 100 });
  ({ name: tenant } = await t.tenant());
});
after(async () => {
  await t?.close();
});

interface RunRow {
  id: string; trigger: string; status: string; http_status: number | null; code: string | null; message: string | null;
  started_at: unknown; duration_ms: number; job_id: string | null; attempt: number | null; log_count: number;
}

test("10,000 HTTP requests with jobs running: every answer as expected, every run and job attempt recorded once", async () => {
  const url = await t.deploy("burst", CODE, { routes: { auth: "public" }, jobs: { maxAttempts: 3, backoff: { baseMs: 20, maxMs: 50 } } }, tenant);
  const { origin, pathname } = new URL(url);
  const client = new Pool(origin, { connections: CONCURRENCY, pipelining: 1 });

  // The answers: status and the run id each one reports (a failure's error body carries it too).
  const statuses = new Map<number, number>();
  const unexpected: string[] = [];
  const runOfRequest = new Map<number, string>();
  const jobIds = new Set<string>();
  const jobN = new Map<string, number>();
  const expectedStatus = { fail: 500, enqueue: 202, ok: 200 };

  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < REQUESTS) {
      const i = next++;
      const kind = kindOf(i);
      const query = `?i=${i}${kind === "fail" ? "&fail=1" : kind === "enqueue" ? `&enqueue=1${flaky(i) ? "&flaky=1" : ""}` : ""}`;
      const { statusCode, body } = await client.request({ path: pathname + query, method: "GET" });
      const text = await body.text();
      statuses.set(statusCode, (statuses.get(statusCode) ?? 0) + 1);
      let parsed: any;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      if (statusCode !== expectedStatus[kind] || (kind === "fail" && parsed?.error?.code !== "ERR_FUNCTION_THREW")) {
        if (unexpected.length < 20) unexpected.push(`request ${i} (${kind}): ${statusCode} ${text.slice(0, 200)}`);
        continue;
      }
      const runId = kind === "fail" ? parsed.error.runId : parsed.runId;
      if (typeof runId === "string") runOfRequest.set(i, runId);
      if (kind === "enqueue") {
        jobIds.add(parsed.jobId);
        jobN.set(parsed.jobId, i);
      }
    }
  };

  // Jobs started through the API while the burst runs (numbered past the requests' range).
  const apiEnqueues = (async () => {
    for (let k = 0; k < API_JOBS; k++) {
      const n = REQUESTS + k;
      const { status, body } = await t.api("POST", `/api/tenants/${tenant}/functions/burst/jobs`, { payload: { n, flaky: flaky(n) } });
      assert.equal(status, 202, JSON.stringify(body));
      jobIds.add(body.id);
      jobN.set(body.id, n);
      await sleep(10);
    }
  })();

  await Promise.all([...Array.from({ length: CONCURRENCY }, worker), apiEnqueues]);
  const burstMs = performance.now() - started;
  await client.close();

  // Every request got its expected answer.
  assert.deepEqual(unexpected, [], "answers other than expected");
  const expectedCounts = { fail: 0, enqueue: 0, ok: 0 };
  for (let i = 0; i < REQUESTS; i++) expectedCounts[kindOf(i)]++;
  assert.deepEqual(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)), { 200: expectedCounts.ok, 202: expectedCounts.enqueue, 500: expectedCounts.fail });
  assert.equal(runOfRequest.size, REQUESTS, "every answer reported its run id");
  assert.equal(new Set(runOfRequest.values()).size, REQUESTS, "run ids are distinct");
  const totalJobs = expectedCounts.enqueue + API_JOBS;
  assert.equal(jobIds.size, totalJobs);
  const expectedAttempts = [...jobN.values()].reduce((sum, n) => sum + (flaky(n) ? 2 : 1), 0);
  const expectedRuns = REQUESTS + expectedAttempts;

  // Recording and the job runner catch up, within a bounded wait (the wait itself is not asserted).
  const db = t.box.db;
  let recorded = 0;
  let finished = 0;
  const deadline = Date.now() + CATCH_UP_MS;
  while (Date.now() < deadline) {
    [{ n: recorded }] = await db.rows<{ n: number }>(sql`select count(*)::int as n from runs where tenant = ${tenant}`);
    [{ n: finished }] = await db.rows<{ n: number }>(sql`select count(*)::int as n from jobs where tenant = ${tenant} and status in ('succeeded', 'failed', 'cancelled')`);
    if (recorded >= expectedRuns && finished >= totalJobs) break;
    await sleep(200);
  }
  const caughtUpMs = performance.now() - started - burstMs;
  // Until nothing is left to write, so that a duplicate or stray run written after the count was reached is seen too.
  for (let buffered = 1; buffered > 0; await sleep(50)) {
    buffered = valueOf(parseExposition(await (await fetch(`${t.url}/metrics`)).text()), "isobox_runs_buffered") ?? 0;
  }
  const runs = await db.rows<RunRow>(sql`
    select id, trigger, status, http_status, error->>'code' as code, error->>'message' as message, started_at, duration_ms, job_id, attempt, log_count
    from runs where tenant = ${tenant}`);
  const [{ n: logLines }] = await db.rows<{ n: number }>(sql`
    select count(*)::int as n from run_logs l join runs r on r.id = l.run_id where r.tenant = ${tenant}`);
  const jobRows = await db.rows<{ id: string; status: string; attempts: number }>(sql`
    select id, status, attempts, error, created_at, started_at, finished_at from jobs where tenant = ${tenant}`);

  const count = (rows: RunRow[]) => {
    const by: Record<string, number> = {};
    for (const r of rows) by[`${r.trigger} ${r.status}`] = (by[`${r.trigger} ${r.status}`] ?? 0) + 1;
    return by;
  };
  const flakyJobs = [...jobN.values()].filter(flaky).length;
  console.log(`# burst: ${REQUESTS} requests in ${Math.round(burstMs)} ms (${Math.round(REQUESTS / (burstMs / 1000))} req/s), ` +
    `statuses ${JSON.stringify(Object.fromEntries(statuses))}; runs caught up ${Math.round(caughtUpMs)} ms after the burst: ` +
    `${runs.length} runs ${JSON.stringify(count(runs))}, ${logLines} log lines, ${jobRows.length} jobs (${db.kind})`);

  const logCounts: Record<string, number> = {};
  for (const r of runs) logCounts[`${r.trigger} ${r.status} ${r.log_count}`] = (logCounts[`${r.trigger} ${r.status} ${r.log_count}`] ?? 0) + 1;
  console.log(`# log_count by trigger, status: ${JSON.stringify(logCounts)}`);

  // Every job succeeded, and each of its attempts is one run: attempt 1 failed for the flaky ones.
  assert.deepEqual(new Set(jobRows.map((j) => j.id)), jobIds, "the jobs are the ones started");
  const badJobs: string[] = [];
  for (const job of jobRows) {
    const n = jobN.get(job.id)!;
    const attempts = flaky(n) ? 2 : 1;
    const its = runs.filter((r) => r.job_id === job.id).sort((a, b) => a.attempt! - b.attempt!);
    const ok = job.status === "succeeded" && job.attempts === attempts &&
      its.length === attempts && its.every((r, k) => r.trigger === "job" && r.attempt === k + 1 && r.log_count === 1 &&
        (k + 1 < attempts ? r.status === "failed" && r.code === "ERR_FUNCTION_THREW" && r.message?.includes(`first attempt of ${n} fails`) : r.status === "succeeded"));
    if (!ok && badJobs.length < 20) badJobs.push(`job ${n} ${JSON.stringify(job)}: runs ${JSON.stringify(its)}`);
  }

  // Exactly the expected runs per trigger and status.
  assert.deepEqual(count(runs), {
    "http succeeded": expectedCounts.ok + expectedCounts.enqueue,
    "http failed": expectedCounts.fail,
    "job succeeded": totalJobs,
    "job failed": flakyJobs,
  }, `jobs whose runs are not as expected: ${badJobs.join("\n")}`);
  assert.equal(runs.length, expectedRuns);

  assert.deepEqual(badJobs, [], "jobs not succeeded or whose attempts' runs are missing or wrong");

  // Each request's run is there, under the id its answer reported, with its outcome.
  const byId = new Map(runs.map((r) => [r.id, r]));
  const wrong: string[] = [];
  for (const [i, runId] of runOfRequest) {
    const run = byId.get(runId);
    const kind = kindOf(i);
    const ok = run && run.trigger === "http" && run.log_count === 1 && (kind === "fail"
      ? run.status === "failed" && run.code === "ERR_FUNCTION_THREW"
      : run.status === "succeeded" && run.http_status === expectedStatus[kind]);
    if (!ok && wrong.length < 20) wrong.push(`request ${i} (${kind}): ${JSON.stringify(run)}`);
  }
  assert.deepEqual(wrong, [], "requests whose run is missing or wrong");

  // Every run's log lines were written with it.
  assert.equal(logLines, expectedRuns);
});

// Background jobs as a user meets them: started from an HTTP function or the API, run in the
// sandbox with durable steps and retries, polled, cancelled, retried, notified.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { sql } from "drizzle-orm";
import { startBox, type TestBox } from "./helpers/box.ts";
import { sleep } from "./helpers/http.ts";
import { scratchDatabase } from "./helpers/postgres.ts";
import { eventually, waitForJob, waitForRuns } from "./helpers/wait.ts";

interface Stub {
  port: number;
  calls: { path: string; headers: IncomingMessage["headers"]; body: string }[];
  close(): Promise<void>;
}

async function startStub(): Promise<Stub> {
  const calls: Stub["calls"] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => { body += chunk; });
    req.on("end", () => {
      calls.push({ path: req.url ?? "", headers: req.headers, body });
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ n: calls.length }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as AddressInfo).port, calls, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe("jobs", () => {
  let t: TestBox;
  let stub: Stub;
  let tenant: string;
  let apiKey: string;

  before(async () => {
    stub = await startStub();
    t = await startBox({ jobPollMs: 100, egressAllowPrivate: `127.0.0.1:${stub.port}` });
    ({ name: tenant, apiKey } = await t.tenant());
  });
  after(async () => {
    await t.close();
    await stub.close();
  });

  const jobUrl = (id: string) => `/api/tenants/${tenant}/jobs/${id}`;
  const enqueue = (fn: string, body: unknown = {}) => t.api("POST", `/api/tenants/${tenant}/functions/${fn}/jobs`, body);

  /** Polls a job until `done` holds (or fails the test after 30 s with its last state). */
  const waitFor = (id: string, done?: (job: any) => boolean) => waitForJob(t.api, tenant, id, done);

  /** The recorded run of a job's attempt (runs are written in batches, shortly after). */
  async function runOf(fn: string, jobId: string): Promise<any> {
    const runs = await waitForRuns(t.api, tenant, `trigger=job&function=${fn}`, (found) => found.some((r) => r.jobId === jobId));
    return runs.find((r) => r.jobId === jobId);
  }

  test("an HTTP function answers 202 with a job id at once; the job's result appears at the status endpoint", async () => {
    const url = await t.deploy("summarize", `export default {
      async fetch(request, env, ctx) {
        const { id } = await ctx.enqueue(await request.json());
        return Response.json({ id }, { status: 202 });
      },
      async job(payload, env, ctx) {
        console.log("summarizing", payload.text.length);
        return { summary: payload.text.slice(0, 5), attempt: ctx.job.attempt };
      },
    }`, { routes: { auth: "public" } }, tenant);
    const response = await fetch(url, { method: "POST", body: JSON.stringify({ text: "hello world" }) });
    assert.equal(response.status, 202);
    const { id } = (await response.json()) as { id: string };
    const job = await waitFor(id);
    assert.equal(job.status, "succeeded");
    assert.deepEqual(job.result, { summary: "hello", attempt: 1 });
    assert.equal(job.attempts, 1);
    assert.deepEqual(job.payload, { text: "hello world" });
    assert.equal(job.function, "summarize");
    // The attempt is a run with its logs.
    const run = await runOf("summarize", id);
    assert.ok(run, "the attempt is recorded as a run");
    assert.equal(run.attempt, 1);
    const detail = await t.api("GET", `/api/tenants/${tenant}/runs/${run.id}`);
    assert.equal(detail.body.logs[0].message, "summarizing 11");
  });

  test("step 1 calls an external stub, step 2 fails twice then succeeds: the stub is called exactly once", async () => {
    await t.deploy("pipeline", `
      let failures = 0;
      export default {
        async job(payload, env, ctx) {
          const fetched = await ctx.step.run("fetch", async () => {
            const response = await fetch("http://127.0.0.1:${stub.port}/pipeline/" + ctx.job.id);
            return { status: response.status, body: await response.json() };
          });
          const summary = await ctx.step.run("summarize", () => {
            if (failures++ < 2) throw new Error("model overloaded " + failures);
            return "ok after " + failures;
          });
          return { fetched, summary };
        },
      }`, { fetch: { allow: [`127.0.0.1:${stub.port}`] }, jobs: { maxAttempts: 5, backoff: { baseMs: 20, maxMs: 100 } } }, tenant);
    const { status, body } = await enqueue("pipeline", { payload: { topic: "x" } });
    assert.equal(status, 202);
    assert.equal(body.status, "queued");
    const job = await waitFor(body.id);
    assert.equal(job.status, "succeeded", JSON.stringify(job));
    assert.equal(job.attempts, 3);
    assert.equal(stub.calls.filter((call) => call.path === `/pipeline/${body.id}`).length, 1, "the side effect ran once");
    assert.equal(job.result.summary, "ok after 3");
    assert.equal(job.result.fetched.status, 200);
    assert.deepEqual(job.steps.map((s: any) => [s.name, s.status, s.attempt]), [["fetch", "succeeded", 1], ["summarize", "succeeded", 3]]);
    for (const step of job.steps) assert.equal(typeof step.durationMs, "number");
  });

  test("the same idempotency key gives one job, from the API and from ctx.enqueue", async () => {
    await t.deploy("once", `export default {
      async fetch(request, env, ctx) { return Response.json(await ctx.enqueue({ from: "fn" }, { key: "order-7" })); },
      job(payload) { return payload; },
    }`, { routes: { auth: "public" } }, tenant);
    const first = await enqueue("once", { payload: { a: 1 }, key: "order-42" });
    const second = await enqueue("once", { payload: { a: 2 }, key: "order-42" });
    assert.equal(first.status, 202);
    assert.equal(second.status, 202);
    assert.equal(second.body.id, first.body.id);
    assert.equal(first.body.created, true);
    assert.equal(second.body.created, false);
    const fnUrl = `${t.url}/fn/${tenant}/once`;
    const a: any = await (await fetch(fnUrl)).json();
    const b: any = await (await fetch(fnUrl)).json();
    assert.equal(a.id, b.id);
    assert.notEqual(a.id, first.body.id);
    const list = await t.api("GET", `/api/tenants/${tenant}/jobs?function=once`);
    assert.equal(list.body.jobs.length, 2);
    assert.deepEqual((await waitFor(first.body.id)).result, { a: 1 });
  });

  test("bad input gets a 4xx naming the field; unknown functions 404; nothing is enqueued", async () => {
    await t.deploy("strict", `export default { job() { return 1 } }`, {}, tenant);
    const before = (await t.api("GET", `/api/tenants/${tenant}/jobs?function=strict`)).body.counts;
    const cases: [unknown, number, string][] = [
      [{ delayMs: -5 }, 400, "body.delayMs"],
      [{ maxAttempts: 0 }, 400, "body.maxAttempts"],
      [{ key: "" }, 400, "body.key"],
      [{ notify: "ftp://example.com/x" }, 400, "body.notify"],
      [{ payload: 1, colour: "red" }, 400, "body.colour"],
      [{ payload: "x".repeat(1024 * 1024 + 10) }, 413, "body.payload"],
    ];
    for (const [body, status, field] of cases) {
      const response = await enqueue("strict", body);
      assert.equal(response.status, status, JSON.stringify(response.body));
      assert.match(response.body.error.message, new RegExp(field.replace(".", "\\.")), JSON.stringify(response.body));
    }
    const invalid = await t.api("POST", `/api/tenants/${tenant}/functions/strict/jobs`, "{not json");
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body.error.code, "ERR_BAD_REQUEST");
    const missing = await enqueue("no-such-function", { payload: 1 });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, "ERR_NOT_FOUND");
    assert.deepEqual((await t.api("GET", `/api/tenants/${tenant}/jobs?function=strict`)).body.counts, before);
    const query = await t.api("GET", `/api/tenants/${tenant}/jobs?status=sleeping`);
    assert.equal(query.status, 400);
    assert.match(query.body.error.message, /query\.status/);
  });

  test("a tenant sees only its own jobs", async () => {
    const { body } = await enqueue("strict", { payload: 1 });
    const other = await t.tenant();
    const foreign = await t.api("GET", jobUrl(body.id), undefined, other.apiKey);
    assert.equal(foreign.status, 403);
    const own = await t.api("GET", `/api/tenants/${other.name}/jobs/${body.id}`, undefined, other.apiKey);
    assert.equal(own.status, 404);
    const mine = await t.api("GET", jobUrl(body.id), undefined, apiKey);
    assert.equal(mine.status, 200);
  });

  test("the last attempt's failure is kept with the guest's stack on its own lines; NonRetriableError stops at once", async () => {
    await t.deploy("fails", `
      class NonRetriable extends Error { constructor(m) { super(m); this.name = "NonRetriableError"; } }
      function explode(kind) {
        if (kind === "final") throw new NonRetriable("bad input: no url");
        throw new Error("still broken");
      }
      export default { job(payload) { explode(payload.kind); } }`, { jobs: { maxAttempts: 3, backoff: { baseMs: 10, maxMs: 20 } } }, tenant);
    const retried = await waitFor((await enqueue("fails", { payload: { kind: "transient" } })).body.id);
    assert.equal(retried.status, "failed");
    assert.equal(retried.attempts, 3);
    assert.equal(retried.error.code, "ERR_FUNCTION_THREW");
    assert.match(retried.error.message, /still broken/);
    assert.match(retried.error.stack, /at explode \(file:\/\/\/[^/]+\/fails\.js:5:\d+\)/);
    const final = await waitFor((await enqueue("fails", { payload: { kind: "final" } })).body.id);
    assert.equal(final.status, "failed");
    assert.equal(final.attempts, 1);
    assert.equal(final.error.name, "NonRetriableError");
    assert.match(final.error.message, /bad input: no url/);
  });

  test("RetryAfterError sets when the next attempt runs", async () => {
    await t.deploy("limited", `
      class RetryAfterError extends Error { constructor(m, ms) { super(m); this.name = "RetryAfterError"; this.retryAfterMs = ms; } }
      export default { job() { throw new RetryAfterError("429 from the model API", 120000); } }`, {}, tenant);
    const { body } = await enqueue("limited", {});
    const job = await waitFor(body.id, (j) => j.attempts === 1 && j.status === "queued");
    const wait = Date.parse(job.runAt) - Date.now();
    assert.ok(wait > 100_000 && wait <= 120_000, `next attempt in ${wait} ms`);
    assert.match(job.error.message, /429/);
    const cancelled = await t.api("POST", `${jobUrl(body.id)}/cancel`);
    assert.equal(cancelled.body.status, "cancelled");
  });

  test("a function without a job handler fails its job at once with ERR_NO_HANDLER", async () => {
    await t.deploy("http-only", `export default { fetch() { return new Response("hi") } }`, {}, tenant);
    const job = await waitFor((await enqueue("http-only", {})).body.id);
    assert.equal(job.status, "failed");
    assert.equal(job.attempts, 1);
    assert.equal(job.error.code, "ERR_NO_HANDLER");
  });

  test("cancel a queued job, then retry it; cancel a running one; finished jobs answer 409", async () => {
    await t.deploy("slow", `export default {
      async job(payload, env, ctx) {
        await ctx.step.run("wait", () => new Promise((resolve) => setTimeout(resolve, payload.ms)));
        return "done";
      },
    }`, {}, tenant);
    const delayed = await enqueue("slow", { payload: { ms: 1 }, delayMs: 3_600_000 });
    const cancelled = await t.api("POST", `${jobUrl(delayed.body.id)}/cancel`);
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.body.status, "cancelled");
    const again = await t.api("POST", `${jobUrl(delayed.body.id)}/cancel`);
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, "ERR_CONFLICT");
    const retried = await t.api("POST", `${jobUrl(delayed.body.id)}/retry`);
    assert.equal(retried.status, 202);
    assert.equal(retried.body.status, "queued");
    assert.equal((await waitFor(delayed.body.id)).status, "succeeded");
    assert.equal((await t.api("POST", `${jobUrl(delayed.body.id)}/retry`)).status, 409);

    const running = await enqueue("slow", { payload: { ms: 20_000 } });
    await waitFor(running.body.id, (j) => j.status === "running");
    assert.equal((await t.api("POST", `${jobUrl(running.body.id)}/cancel`)).body.status, "cancelled");
    const job = await waitFor(running.body.id);
    assert.equal(job.status, "cancelled");
    assert.equal(job.error.code, "ERR_CANCELLED");
    // The attempt stopped: its run is recorded as cancelled, well before the 20 s step would end.
    assert.equal((await runOf("slow", running.body.id))?.error?.code, "ERR_CANCELLED");
    assert.equal((await t.api("POST", `${jobUrl("00000000-0000-0000-0000-000000000000")}/cancel`)).status, 404);
  });

  test("step.sleep ends the attempt and resumes later without repeating finished steps", async () => {
    await t.deploy("sleeper", `
      export default {
        async job(payload, env, ctx) {
          const first = await ctx.step.run("first", () => fetch("http://127.0.0.1:${stub.port}/sleeper/" + ctx.job.id).then((r) => r.json()));
          await ctx.step.sleep("nap", 400);
          const second = await ctx.step.run("second", () => "after nap");
          return { first, second, attempt: ctx.job.attempt };
        },
      }`, { fetch: { allow: [`127.0.0.1:${stub.port}`] } }, tenant);
    const { body } = await enqueue("sleeper", {});
    const sleeping = await waitFor(body.id, (j) => j.steps?.some((s: any) => s.name === "nap"));
    if (sleeping.status === "queued") assert.ok(sleeping.runAt, "a sleeping job says when it wakes");
    const job = await waitFor(body.id);
    assert.equal(job.status, "succeeded");
    assert.equal(job.result.second, "after nap");
    assert.equal(job.result.attempt, 1, "a sleep is not an attempt");
    assert.equal(stub.calls.filter((call) => call.path === `/sleeper/${body.id}`).length, 1);
    assert.deepEqual(job.steps.map((s: any) => [s.name, s.kind]), [["first", "run"], ["nap", "sleep"], ["second", "run"]]);
    const runs = (await t.api("GET", `/api/tenants/${tenant}/runs?trigger=job&function=sleeper`)).body.runs;
    assert.ok(runs.some((r: any) => r.status === "suspended"), "the attempt that slept is a suspended run");
  });

  test("step names are checked, and step results have a size limit with a clear error", async () => {
    await t.deploy("steps", `export default {
      async job(payload, env, ctx) {
        if (payload === "twice") {
          await ctx.step.run("same", () => 1);
          await ctx.step.run("same", () => 2);
        }
        if (payload === "huge") await ctx.step.run("big", () => "x".repeat(2 * 1024 * 1024));
        if (payload === "cyclic") await ctx.step.run("loop", () => { const a = {}; a.a = a; return a; });
      },
    }`, { jobs: { maxAttempts: 1 } }, tenant);
    const twice = await waitFor((await enqueue("steps", { payload: "twice" })).body.id);
    assert.match(twice.error.message, /Step "same" ran twice in one attempt/);
    const huge = await waitFor((await enqueue("steps", { payload: "huge" })).body.id);
    assert.match(huge.error.message, /Step "big" returned \d+ characters of JSON; a step result may hold at most 1048576/);
    const big = huge.steps.find((s: any) => s.name === "big");
    assert.equal(big.status, "failed");
    const cyclic = await waitFor((await enqueue("steps", { payload: "cyclic" })).body.id);
    assert.match(cyclic.error.message, /Step "loop" returned a value that is not JSON-serialisable/);
  });

  test("ctx.jobs.get serves a function's own status endpoint; other functions' jobs stay invisible", async () => {
    const url = await t.deploy("status", `export default {
      async fetch(request, env, ctx) {
        const id = new URL(request.url).searchParams.get("id");
        if (!id) return Response.json(await ctx.enqueue({ n: 1 }), { status: 202 });
        const job = await ctx.jobs.get(id);
        return job ? Response.json(job) : Response.json({ error: "unknown job" }, { status: 404 });
      },
      async job(payload, env, ctx) { return ctx.step.run("double", () => payload.n * 2); },
    }`, { routes: { auth: "public" } }, tenant);
    const { id } = (await (await fetch(url)).json()) as { id: string };
    let job: any;
    job = await eventually("the job to succeed, as ctx.jobs.get sees it", async () => {
      const found: any = await (await fetch(`${url}?id=${id}`)).json();
      return found.status === "succeeded" && found;
    });
    assert.equal(job.status, "succeeded");
    assert.equal(job.result, 2);
    assert.equal(job.steps[0].name, "double");
    const foreign = (await enqueue("strict", { payload: 1 })).body.id;
    assert.equal((await fetch(`${url}?id=${foreign}`)).status, 404);
  });

  test("a function's jobs.concurrency bounds how many of its jobs run at once", async () => {
    await t.deploy("bounded", `
      let now = 0, peak = 0;
      export default {
        async job() {
          now++; peak = Math.max(peak, now);
          await new Promise((resolve) => setTimeout(resolve, 150));
          now--;
          return peak;
        },
      }`, { jobs: { concurrency: 2 } }, tenant);
    const ids = await Promise.all(Array.from({ length: 8 }, async () => (await enqueue("bounded", {})).body.id));
    const jobs = await Promise.all(ids.map((id) => waitFor(id)));
    const peaks = jobs.map((job) => job.result);
    assert.ok(jobs.every((job) => job.status === "succeeded"));
    assert.equal(Math.max(...peaks), 2, `peaks ${peaks}`);
  });

  test("a backlog refreshes the jobs table's statistics; Postgres connections run without JIT", async () => {
    // A node whose claims come back full has a backlog the planner's statistics may predate. Its
    // own database: another node's runner must not take the jobs in claims that are never full.
    const scratch = process.env.DATABASE_URL ? await scratchDatabase("analyze") : undefined;
    const small = await startBox({ jobPollMs: 100, jobConcurrency: 2, ...(scratch ? { databaseUrl: scratch.url } : {}) });
    try {
      // ANALYZE sets reltuples to the table's row count then (exact for a small table). Two slots
      // and six jobs of 200 ms: once both slots are busy, each freed slot's claim comes back full.
      const statistics = async () => (await small.box.db.rows<{ reltuples: number | string; rows: number | string }>(sql`
        select reltuples, (select count(*) from jobs) as rows from pg_class where relname = 'jobs'`)).map((r) => ({ reltuples: Number(r.reltuples), rows: Number(r.rows) }))[0];
      let now = await statistics();
      const analyzed = () => now.reltuples >= 2 && now.reltuples <= 6;
      assert.equal(now.rows, 0);
      assert.ok(!analyzed(), `reltuples ${now.reltuples} before any job`);
      const { name } = await small.tenant();
      await small.deploy("slow", `export default { async job() { await new Promise((resolve) => setTimeout(resolve, 200)); } }`, {}, name);
      for (let i = 0; i < 6; i++) assert.equal((await small.api("POST", `/api/tenants/${name}/functions/slow/jobs`, {})).status, 202);
      for (const deadline = Date.now() + 10_000; Date.now() < deadline && !analyzed(); await sleep(50)) now = await statistics();
      assert.ok(analyzed(), `reltuples ${now.reltuples}; the table holds ${now.rows} jobs`);
      if (small.box.db.kind === "postgres") {
        // Set by Isobox's connection, not by the server's configuration.
        const [jit] = await small.box.db.rows<{ setting: string; source: string }>(sql`select setting, source from pg_settings where name = 'jit'`);
        assert.deepEqual({ ...jit }, { setting: "off", source: "client" });
      }
    } finally {
      await small.close();
      await scratch?.drop();
    }
  });

  test("a function's backlog at its concurrency does not hold up other functions' jobs", async () => {
    await t.deploy("backlogged", `export default { async job() { await new Promise((resolve) => setTimeout(resolve, 100)); } }`, { jobs: { concurrency: 1 } }, tenant);
    const backlog: string[] = [];
    // More than a claim looks at (2 × 25 candidates), so a backlog that filled the window would show.
    for (let i = 0; i < 120; i++) backlog.push((await enqueue("backlogged", {})).body.id);
    await t.deploy("unhindered", `export default { job(payload) { return payload } }`, {}, tenant);
    const other = await waitFor((await enqueue("unhindered", { payload: "behind the backlog" })).body.id);
    assert.equal(other.status, "succeeded");
    const counts = (await t.api("GET", `/api/tenants/${tenant}/jobs?function=backlogged`)).body.counts;
    assert.ok(counts.queued > 90, `the backlog is still there: ${JSON.stringify(counts)}`);
    for (const id of backlog) await t.api("POST", `${jobUrl(id)}/cancel`);
  });

  test("a notify URL gets a Standard Webhooks-signed POST when the job finishes", async () => {
    await t.deploy("notified", `export default { job(payload) { return { echoed: payload } } }`, {}, tenant);
    const { body } = await enqueue("notified", { payload: "hi", notify: `http://127.0.0.1:${stub.port}/done` });
    await waitFor(body.id);
    let call: Stub["calls"][number] | undefined;
    call = await eventually("the notify URL to be called", async () => stub.calls.find((c) => c.path === "/done" && c.body.includes(body.id))).catch(() => undefined);
    assert.ok(call, "the notify URL was called");
    const event = JSON.parse(call.body);
    assert.equal(event.type, "job.succeeded");
    assert.deepEqual(event.data.result, { echoed: "hi" });
    const { secret } = (await t.api("GET", `/api/tenants/${tenant}/jobs/notify-secret`)).body;
    assert.match(secret, /^whsec_/);
    const id = call.headers["webhook-id"] as string;
    const timestamp = call.headers["webhook-timestamp"] as string;
    const expected = createHmac("sha256", Buffer.from(secret.slice(6), "base64")).update(`${id}.${timestamp}.${call.body}`).digest("base64");
    assert.equal(call.headers["webhook-signature"], `v1,${expected}`);
    assert.ok(Math.abs(Number(timestamp) - Date.now() / 1000) < 300);
  });

  test("the job list pages with a cursor and counts by status", async () => {
    await t.deploy("many", `export default { job(p) { return p } }`, {}, tenant);
    for (let i = 0; i < 5; i++) await enqueue("many", { payload: i, delayMs: 3_600_000 });
    const first = await t.api("GET", `/api/tenants/${tenant}/jobs?function=many&limit=2`);
    assert.equal(first.body.jobs.length, 2);
    assert.equal(first.body.counts.queued, 5);
    const second = await t.api("GET", `/api/tenants/${tenant}/jobs?function=many&limit=2&cursor=${first.body.nextCursor}`);
    const third = await t.api("GET", `/api/tenants/${tenant}/jobs?function=many&limit=2&cursor=${second.body.nextCursor}`);
    const ids = [...first.body.jobs, ...second.body.jobs, ...third.body.jobs].map((j: any) => j.id);
    assert.equal(new Set(ids).size, 5);
    assert.equal(third.body.nextCursor, null);
    assert.equal((await t.api("GET", `/api/tenants/${tenant}/jobs?cursor=bogus`)).status, 400);
  });
});

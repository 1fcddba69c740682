// GET /metrics as Prometheus reads it: invocations counted per function with their outcome and
// duration, the job queue's depth and age, limit kills, and the token guard; and Metrics' sums of
// several processes' snapshots. Every scrape goes through the strict parser of helpers/prometheus.ts.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startBox, type TestBox } from "./helpers/box.ts";
import { histogramsOf, parseExposition, samples, valueOf, type Family } from "./helpers/prometheus.ts";
import { DURATION_BUCKETS, Metrics, type MetricsSnapshot } from "../src/telemetry/metrics/counters.ts";
import { scratchDatabase, type ScratchDatabase } from "./helpers/postgres.ts";
import { waitForJob } from "./helpers/wait.ts";

/**
 * On Postgres, a database of the suite's own: the queue gauges count every tenant's jobs, and the
 * runner would take other suites' leftover jobs (and their isolates and kills) into the counts.
 */
const ownDatabase = () => (process.env.DATABASE_URL ? scratchDatabase("metrics") : Promise.resolve(undefined));

describe("metrics", () => {
  let t: TestBox;
  let scratch: ScratchDatabase | undefined;
  let tenant: string;
  let text: string;
  let families: Map<string, Family>;
  let contentType: string | null;

  const enqueue = (fn: string, body: unknown = {}) => t.api("POST", `/api/tenants/${tenant}/functions/${fn}/jobs`, body);
  const waitFor = (id: string, done: (job: any) => boolean) => waitForJob(t.api, tenant, id, done, 10_000);

  before(async () => {
    scratch = await ownDatabase();
    t = await startBox({ jobPollMs: 100, drainMs: 200, ...(scratch ? { databaseUrl: scratch.url } : {}) });
    ({ name: tenant } = await t.tenant());
    const fnUrl = (name: string) => `${t.url}/fn/${tenant}/${name}`;
    const open = { routes: { auth: "public" } };
    await t.deploy("ok", `export default { fetch() { return Response.json({ ok: true }) } }`, open, tenant);
    await t.deploy("boom", `export default { fetch() { throw new Error("boom") } }`, open, tenant);
    await t.deploy("spin", `export default { fetch() { while (true) {} } }`, open, tenant);
    await t.deploy("private", `export default { fetch() { return new Response("secret") } }`, { routes: { auth: "key" } }, tenant);
    await t.deploy("later", `export default { job() { return 1 } }`, open, tenant);
    await t.deploy("quick", `export default { job() { return "done" } }`, open, tenant);
    await t.deploy("flaky", `export default { job() { throw new Error("no") } }`, open, tenant);
    // One job at a time, each holding on for a while: the second waits, due, behind the first.
    await t.deploy("slow", `export default { async job() { await new Promise((r) => setTimeout(r, 8000)) } }`, { routes: { auth: "public" }, jobs: { concurrency: 1 } }, tenant);

    const statuses: number[] = [];
    for (const [name, times] of [["ok", 3], ["boom", 2], ["spin", 1], ["private", 1], ["no-such-function", 2]] as const) {
      for (let i = 0; i < times; i++) {
        const response = await fetch(fnUrl(name));
        await response.arrayBuffer();
        statuses.push(response.status);
      }
    }
    assert.deepEqual(statuses, [200, 200, 200, 500, 500, 503, 401, 404, 404]);
    assert.equal((await fetch(`${t.url}/fn/no-such-tenant/ok`)).status, 404);

    for (let i = 0; i < 3; i++) assert.equal((await enqueue("later", { payload: i, delayMs: 3_600_000 })).status, 202);
    const quick = await enqueue("quick");
    const flaky = await enqueue("flaky", { maxAttempts: 1 });
    await waitFor(quick.body.id, (job) => job.status === "succeeded");
    await waitFor(flaky.body.id, (job) => job.status === "failed");
    const first = await enqueue("slow");
    await waitFor(first.body.id, (job) => job.status === "running");
    await enqueue("slow");
    await new Promise((resolve) => setTimeout(resolve, 400));

    const response = await fetch(`${t.url}/metrics`);
    assert.equal(response.status, 200);
    contentType = response.headers.get("content-type");
    text = await response.text();
    families = parseExposition(text);
  });
  after(async () => {
    await t?.close();
    await scratch?.drop();
  });

  test("is the text format 0.0.4, with its content type", () => {
    assert.equal(contentType, "text/plain; version=0.0.4; charset=utf-8");
    for (const [name, type] of [
      ["isobox_http_requests_total", "counter"], ["isobox_http_request_errors_total", "counter"],
      ["isobox_http_request_duration_seconds", "histogram"], ["isobox_jobs_queued", "gauge"], ["isobox_jobs_running", "gauge"],
      ["isobox_jobs_oldest_queued_age_seconds", "gauge"], ["isobox_job_attempts_total", "counter"], ["isobox_isolates_alive", "gauge"],
      ["isobox_isolates_spare", "gauge"], ["isobox_limit_kills_total", "counter"], ["process_resident_memory_bytes", "gauge"],
      ["nodejs_heap_used_bytes", "gauge"], ["process_cpu_seconds_total", "counter"], ["process_start_time_seconds", "gauge"],
      ["isobox_workers", "gauge"], ["isobox_workers_reporting", "gauge"], ["isobox_runs_recorded_total", "counter"],
      ["isobox_runs_dropped_total", "counter"], ["isobox_runs_sampled_out_total", "counter"], ["isobox_runs_buffered", "gauge"],
    ] as const) {
      assert.equal(families.get(name)?.type, type, name);
      assert.ok(families.get(name)!.help.length > 0, `${name} has HELP`);
    }
  });

  test("requests are counted per function by status class, errors by their code", () => {
    const requests = (fn: string, status: string) => valueOf(families, "isobox_http_requests_total", { tenant, function: fn, status });
    assert.equal(requests("ok", "2xx"), 3);
    assert.equal(requests("boom", "5xx"), 2);
    assert.equal(requests("spin", "5xx"), 1);
    assert.equal(requests("private", "4xx"), 1);
    assert.equal(requests("ok", "5xx"), undefined);
    assert.equal(samples(families, "isobox_http_requests_total").length, 4);

    const errors = samples(families, "isobox_http_request_errors_total").map((s) => [s.labels.function, s.labels.code, s.value]);
    assert.deepEqual(errors.sort(), [["boom", "ERR_FUNCTION_THREW", 2], ["private", "ERR_UNAUTHORIZED", 1], ["spin", "ERR_CPU_LIMIT", 1]]);
    for (const s of samples(families, "isobox_http_request_errors_total")) assert.equal(s.labels.tenant, tenant);
  });

  test("a name that resolves to no function adds no series", () => {
    const labelled = ["isobox_http_requests_total", "isobox_http_request_errors_total", "isobox_http_request_duration_seconds"]
      .flatMap((name) => samples(families, name))
      .map((s) => `${s.labels.tenant}/${s.labels.function}`);
    assert.deepEqual([...new Set(labelled)].sort(), ["boom", "ok", "private", "spin"].map((fn) => `${tenant}/${fn}`));
    assert.ok(!text.includes("no-such"), "no label carries an unknown name");
  });

  test("the duration histogram has cumulative buckets up to +Inf, its count and its sum", () => {
    const histograms = histogramsOf(families, "isobox_http_request_duration_seconds");
    assert.equal(histograms.length, 4);
    const expectedCount: Record<string, number> = { ok: 3, boom: 2, spin: 1, private: 1 };
    for (const h of histograms) {
      const fn = h.labels.function;
      assert.deepEqual(Object.keys(h.labels).sort(), ["function", "tenant"]);
      const bounds = h.buckets.map(([le]) => le);
      assert.deepEqual(bounds, [...DURATION_BUCKETS.map(String), "+Inf"], `${fn}: le in ascending order`);
      const counts = h.buckets.map(([, count]) => count);
      for (let i = 1; i < counts.length; i++) assert.ok(counts[i] >= counts[i - 1], `${fn}: buckets are cumulative`);
      assert.equal(h.count, expectedCount[fn], `${fn}: _count`);
      assert.equal(counts.at(-1), h.count, `${fn}: the +Inf bucket is _count`);
      const requests = samples(families, "isobox_http_requests_total").filter((s) => s.labels.function === fn).reduce((n, s) => n + s.value, 0);
      assert.equal(h.count, requests, `${fn}: _count is the requests counted`);
      assert.ok(h.sum > 0 && h.sum < h.count * 30, `${fn}: _sum ${h.sum}`);
    }
    // The CPU-limit kill took at least its 50 ms of CPU, so it is in no bucket below 0.05.
    const spin = histograms.find((h) => h.labels.function === "spin")!;
    assert.equal(spin.buckets.find(([le]) => le === "0.025")![1], 0);
    assert.ok(spin.sum >= 0.05, `spin took ${spin.sum} s`);
  });

  test("the job queue: queued per function, running, the oldest due job's age, attempts by outcome", () => {
    assert.equal(valueOf(families, "isobox_jobs_queued", { tenant, function: "later" }), 3);
    assert.equal(valueOf(families, "isobox_jobs_queued", { tenant, function: "slow" }), 1);
    assert.equal(samples(families, "isobox_jobs_queued").length, 2);
    assert.equal(valueOf(families, "isobox_jobs_running"), 1);
    const age = valueOf(families, "isobox_jobs_oldest_queued_age_seconds")!;
    assert.ok(age >= 0.3 && age < 10, `oldest due job waited ${age} s`);
    assert.equal(valueOf(families, "isobox_job_attempts_total", { outcome: "succeeded" }), 1);
    assert.equal(valueOf(families, "isobox_job_attempts_total", { outcome: "failed" }), 1);
    assert.equal(samples(families, "isobox_job_attempts_total").length, 2);
  });

  test("isolates and limit kills", () => {
    assert.equal(valueOf(families, "isobox_limit_kills_total", { limit: "cpu" }), 1);
    assert.equal(valueOf(families, "isobox_limit_kills_total", { limit: "memory" }), 0);
    assert.equal(valueOf(families, "isobox_limit_kills_total", { limit: "wall" }), 0);
    // ok, boom, quick, flaky, slow hold an isolate; spin's was disposed, private never ran.
    assert.equal(valueOf(families, "isobox_isolates_alive"), 5);
    const spare = valueOf(families, "isobox_isolates_spare")!;
    assert.ok(spare === 0 || spare === 1, `spares ${spare}`);
  });

  test("runs: every finished invocation is written or waiting to be, none dropped, none sampled out at rate 1", () => {
    // ok ×3, boom ×2, spin, quick and flaky's single attempt; the running slow job has no run yet.
    const recorded = valueOf(families, "isobox_runs_recorded_total")!;
    const buffered = valueOf(families, "isobox_runs_buffered")!;
    assert.equal(recorded + buffered, 8, `recorded ${recorded}, buffered ${buffered}`);
    assert.equal(valueOf(families, "isobox_runs_dropped_total"), 0);
    assert.equal(valueOf(families, "isobox_runs_sampled_out_total"), 0);
  });

  test("embedded in an app, the node is this one process", () => {
    assert.equal(valueOf(families, "isobox_workers"), 1);
    assert.equal(valueOf(families, "isobox_workers_reporting"), 1);
    assert.ok(!text.includes("# isobox:"), "no note on gathered workers");
  });

  test("process metrics", () => {
    assert.ok(valueOf(families, "process_resident_memory_bytes")! > 10_000_000);
    assert.ok(valueOf(families, "nodejs_heap_used_bytes")! > 1_000_000);
    assert.ok(valueOf(families, "process_cpu_seconds_total")! > 0);
  });

  test("counters only grow: a second scrape sees one more request", async () => {
    await (await fetch(`${t.url}/fn/${tenant}/ok`)).arrayBuffer();
    const again = parseExposition(await (await fetch(`${t.url}/metrics`)).text());
    assert.equal(valueOf(again, "isobox_http_requests_total", { tenant, function: "ok", status: "2xx" }), 4);
    const ok = histogramsOf(again, "isobox_http_request_duration_seconds").find((h) => h.labels.function === "ok")!;
    assert.equal(ok.count, 4);
    assert.equal(valueOf(again, "isobox_limit_kills_total", { limit: "cpu" }), 1);
  });
});

describe("metrics token", () => {
  const token = "metrics-token-0123456789";
  let t: TestBox;
  before(async () => { t = await startBox({ metricsToken: token, jobRunner: false, scheduler: false, spareIsolates: 0 }); });
  after(() => t.close());

  test("ISOBOX_METRICS_TOKEN makes /metrics take that bearer token and no other", async () => {
    for (const authorization of [undefined, `Bearer ${token}x`, `Bearer ${t.admin}`, token]) {
      const response = await fetch(`${t.url}/metrics`, { headers: authorization ? { authorization } : {} });
      assert.equal(response.status, 401, `with ${authorization}`);
      assert.equal((await response.json() as any).error.code, "ERR_UNAUTHORIZED");
    }
    const response = await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(response.status, 200);
    parseExposition(await response.text());
  });
});

describe("Metrics", () => {
  test("label values are escaped", async () => {
    const metrics = new Metrics();
    const odd = 'a"b\\c\nd';
    metrics.httpRequest(odd, "f", 200, 0.002);
    const families = parseExposition(await metrics.render());
    assert.equal(valueOf(families, "isobox_http_requests_total", { tenant: odd, function: "f", status: "2xx" }), 1);
  });

  test("(tenant, function) series are bounded: new ones fold into function \"_other\", then tenant \"_other\"", async () => {
    const metrics = new Metrics({}, { maxSeries: 20 });
    for (let i = 0; i < 20; i++) metrics.httpRequest("a", `f${i}`, 200, 0.01);
    metrics.httpRequest("a", "f20", 200, 0.01); // past the bound: a/_other
    metrics.httpRequest("a", "f21", 500, 0.01, "ERR_FUNCTION_THREW");
    metrics.httpRequest("b", "g", 200, 0.01); // b/_other: the second of the two maxSeries/10 allows
    metrics.httpRequest("c", "h", 200, 0.01); // past both: _other/_other
    metrics.httpRequest("d", "i", 200, 0.01);
    metrics.httpRequest("a", "f3", 200, 0.01); // an existing series keeps counting
    const families = parseExposition(await metrics.render());
    const pairs = new Set(histogramsOf(families, "isobox_http_request_duration_seconds").map((h) => `${h.labels.tenant}/${h.labels.function}`));
    assert.equal(pairs.size, 23);
    assert.ok(pairs.has("a/_other") && pairs.has("b/_other") && pairs.has("_other/_other"));
    assert.equal(valueOf(families, "isobox_http_requests_total", { tenant: "a", function: "_other", status: "2xx" }), 1);
    assert.equal(valueOf(families, "isobox_http_request_errors_total", { tenant: "a", function: "_other", code: "ERR_FUNCTION_THREW" }), 1);
    assert.equal(valueOf(families, "isobox_http_requests_total", { tenant: "_other", function: "_other", status: "2xx" }), 2);
    assert.equal(valueOf(families, "isobox_http_requests_total", { tenant: "a", function: "f3", status: "2xx" }), 2);
  });

  /** A process's snapshot as another worker's arrives: through JSON, like the cluster IPC channel. */
  const overIpc = (metrics: Metrics) => JSON.parse(JSON.stringify(metrics.snapshot())) as MetricsSnapshot;

  test("snapshots of several processes sum: counters, histograms, attempts, isolates, memory and CPU; the job queue is read once", async () => {
    let jobReads = 0;
    const jobs = async () => {
      jobReads++;
      return { queued: [{ tenant: "a", function: "j", count: 4 }], queuedOther: 0, running: 1, oldestQueuedAgeSeconds: 0 };
    };
    const isolates = () => ({ alive: 2, spare: 1, kills: { cpu: 1, memory: 0, wall: 2 }, stoppedWork: 3 });
    const [one, two] = [new Metrics({ isolates, jobs }), new Metrics({ isolates, jobs })];
    one.httpRequest("a", "f", 200, 0.002);
    one.httpRequest("a", "f", 500, 0.2, "ERR_FUNCTION_THREW");
    one.jobAttempt("succeeded");
    two.httpRequest("a", "f", 200, 0.004);
    two.httpRequest("a", "g", 404, 0.001, "ERR_NOT_FOUND");
    two.jobAttempt("succeeded");
    two.jobAttempt("failed");
    const snapshots = [overIpc(one), overIpc(two)];
    const families = parseExposition(await one.render({ snapshots, workers: 3 }));

    const requests = (fn: string, status: string) => valueOf(families, "isobox_http_requests_total", { tenant: "a", function: fn, status });
    assert.deepEqual([requests("f", "2xx"), requests("f", "5xx"), requests("g", "4xx")], [2, 1, 1]);
    assert.equal(valueOf(families, "isobox_http_request_errors_total", { function: "f", code: "ERR_FUNCTION_THREW" }), 1);
    const f = histogramsOf(families, "isobox_http_request_duration_seconds").find((h) => h.labels.function === "f")!;
    assert.deepEqual(f.buckets.filter(([le]) => ["0.0025", "0.005", "0.25"].includes(le)), [["0.0025", 1], ["0.005", 2], ["0.25", 3]]);
    assert.equal(f.count, 3);
    assert.ok(Math.abs(f.sum - 0.206) < 1e-9, `sum ${f.sum}`);
    assert.equal(valueOf(families, "isobox_job_attempts_total", { outcome: "succeeded" }), 2);
    assert.equal(valueOf(families, "isobox_job_attempts_total", { outcome: "failed" }), 1);
    assert.equal(valueOf(families, "isobox_isolates_alive"), 4);
    assert.equal(valueOf(families, "isobox_isolates_spare"), 2);
    assert.equal(valueOf(families, "isobox_limit_kills_total", { limit: "wall" }), 4);
    assert.equal(valueOf(families, "isobox_jobs_queued", { tenant: "a", function: "j" }), 4);
    assert.equal(jobReads, 1);
    const total = (pick: (s: MetricsSnapshot) => number) => pick(snapshots[0]) + pick(snapshots[1]);
    assert.equal(valueOf(families, "process_resident_memory_bytes"), total((s) => s.process.residentBytes));
    assert.equal(valueOf(families, "process_cpu_seconds_total"), total((s) => s.process.cpuSeconds));
    assert.equal(valueOf(families, "process_start_time_seconds"), Math.max(...snapshots.map((s) => s.process.startTimeSeconds)));
    assert.equal(valueOf(families, "isobox_workers"), 3);
    assert.equal(valueOf(families, "isobox_workers_reporting"), 2);
  });

  test("a sum keeps the series bound: the earliest series of any process stay, later ones fold into \"_other\"", async () => {
    const [one, two] = [new Metrics({}, { maxSeries: 20 }), new Metrics({}, { maxSeries: 20 })];
    for (let i = 0; i < 12; i++) one.httpRequest("a", `f${i}`, 200, 0.01);
    for (let i = 0; i < 12; i++) two.httpRequest("a", `g${i}`, 200, 0.01);
    two.httpRequest("a", "f0", 200, 0.01); // newer in `two`, but the node has had a/f0 since `one` began it
    const render = async (snapshots: MetricsSnapshot[]) => samples(parseExposition(await one.render({ snapshots, workers: 2 })), "isobox_http_requests_total");
    const summed = await render([overIpc(two), overIpc(one)]);
    assert.deepEqual(summed.map((s) => s.labels.function), [...Array(12).keys()].map((i) => `f${i}`).concat([...Array(8).keys()].map((i) => `g${i}`), "_other"));
    assert.equal(summed.find((s) => s.labels.function === "_other")!.value, 4);
    assert.equal(summed.find((s) => s.labels.function === "f0")!.value, 2);
    assert.deepEqual(await render([overIpc(one), overIpc(two)]), summed, "the same whichever order the snapshots came in");
  });

  test("the test's parser reads the format and refuses what it does not allow", () => {
    const families = parseExposition([
      "# HELP a_total A \\\\ and \\n.", "# TYPE a_total counter", 'a_total{x="q\\"}\\\\",y="\\n",} 1.5e3 1700000000000', "",
      "# TYPE h histogram", 'h_bucket{le="1"} 1', 'h_bucket{le="+Inf"} 2', "h_sum 3", "h_count 2", "untyped_one NaN", "",
    ].join("\n"));
    assert.equal(families.get("a_total")!.help, "A \\ and \n.");
    assert.deepEqual(families.get("a_total")!.samples, [{ name: "a_total", labels: { x: 'q"}\\', y: "\n" }, value: 1500 }]);
    assert.deepEqual(histogramsOf(families, "h"), [{ labels: {}, buckets: [["1", 1], ["+Inf", 2]], count: 2, sum: 3 }]);
    assert.ok(Number.isNaN(valueOf(families, "untyped_one")));
    for (const bad of [
      'a_total{tenant="x} 3\n', "a b c\n", "a b c d\n", 'a{x="\\q"} 1\n', 'a{x="1",,} 1\n', 'a{x="1",x="2"} 1\n', "1abc 3\n",
      "a notanumber\n", "a 1", "# TYPE a counter\n# TYPE a counter\na 1\n", "a 1\n# TYPE a counter\n", "a 1\nb 1\na 2\n",
      "a 1\na 1\n", "# TYPE h histogram\nh 1\n", '# TYPE h histogram\nh_bucket{x="1"} 1\n', "# TYPE a countr\na 1\n",
      '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n',
    ]) assert.throws(() => parseExposition(bad), assert.AssertionError, JSON.stringify(bad));
  });
});

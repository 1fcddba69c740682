// GET /metrics as Prometheus reads it: invocations counted per function with their outcome and
// duration, the job queue's depth and age, limit kills, and the token guard. Every scrape goes
// through a strict parser of the text format 0.0.4 below. (The registry's parsers were tried and
// refused: parse-prometheus-text-format 1.1.1 folds every labelled series of a histogram into one
// and accepts lines such as "a b c d"; prom2javascript 0.2.0 misreads a label value ending in an
// escaped backslash and has no NaN.)
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { startBox, type TestBox } from "./helpers/box.ts";
import { DURATION_BUCKETS, Metrics } from "../src/telemetry/metrics.ts";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface Histogram {
  labels: Record<string, string>;
  /** [le, cumulative count], in the order exposed. */
  buckets: [string, number][];
  count: number;
  sum: number;
}
interface Family {
  name: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  help: string;
  samples: Sample[];
}

// The grammar of https://prometheus.io/docs/instrumenting/exposition_formats/ (text format 0.0.4).
const BLANK = String.raw`[ \t]*`;
const LABEL_VALUE = String.raw`"(?:[^"\\\n]|\\[\\"n])*"`; // escapes: \\ \" \n, nothing else
const LABEL = `${BLANK}[a-zA-Z_][a-zA-Z0-9_]*${BLANK}=${BLANK}${LABEL_VALUE}${BLANK}`;
const VALUE = String.raw`[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?Inf|NaN`;
const SAMPLE = new RegExp(String.raw`^([a-zA-Z_:][a-zA-Z0-9_:]*)${BLANK}(?:\{((?:${LABEL}(?:,${LABEL})*,?)?${BLANK})\})?[ \t]+(${VALUE})(?:[ \t]+(-?[0-9]+))?$`);
const LABEL_PAIR = new RegExp(String.raw`${BLANK}([a-zA-Z_][a-zA-Z0-9_]*)${BLANK}=${BLANK}"((?:[^"\\\n]|\\[\\"n])*)"${BLANK}(,|$)`, "y");
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

const unescapeLabel = (text: string) => text.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
const unescapeHelp = (text: string) => text.replace(/\\(.)/g, (all, c: string) => (c === "n" ? "\n" : c === "\\" ? "\\" : all));

function parseValue(text: string): number {
  if (/^\+?Inf$/.test(text)) return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  return Number(text);
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL_PAIR.lastIndex = 0;
  while (LABEL_PAIR.lastIndex < text.length && !/^[ \t]*$/.test(text.slice(LABEL_PAIR.lastIndex))) {
    const match = LABEL_PAIR.exec(text);
    assert.ok(match, `malformed labels in: ${line}`);
    assert.ok(!(match[1] in labels), `label ${match[1]} twice in: ${line}`);
    labels[match[1]] = unescapeLabel(match[2]);
    if (match[3] === "") break;
  }
  return labels;
}

/**
 * Parses an exposition and refuses what the format does not allow: a malformed line, name,
 * label, escape or value, HELP or TYPE twice or after the family's samples, a family's samples
 * apart, a sample repeated, a histogram sample without its suffix, a bucket without le.
 */
function parseExposition(text: string): Map<string, Family> {
  assert.ok(text.endsWith("\n"), "the exposition ends with a line feed");
  const families = new Map<string, Family>();
  const family = (name: string) => {
    let found = families.get(name);
    if (!found) families.set(name, (found = { name, type: "untyped", help: "", samples: [] }));
    return found;
  };
  const typed = new Set<string>();
  const helped = new Set<string>();
  const seen = new Set<string>();
  let current: string | undefined;
  const familyOf = (name: string) => {
    for (const suffix of ["_bucket", "_sum", "_count"]) {
      const base = name.slice(0, -suffix.length);
      if (name.endsWith(suffix) && ["histogram", "summary"].includes(families.get(base)?.type ?? "") && (suffix !== "_bucket" || families.get(base)!.type === "histogram")) return base;
    }
    return name;
  };
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "") continue;
    if (line.startsWith("#")) {
      const [, keyword, name, rest = ""] = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line) ?? [];
      if (!keyword) continue; // a plain comment
      assert.match(name, METRIC_NAME, `metric name in: ${line}`);
      assert.ok(!family(name).samples.length, `${keyword} after the samples of ${name}`);
      if (keyword === "HELP") {
        assert.ok(!helped.has(name), `HELP twice for ${name}`);
        helped.add(name);
        family(name).help = unescapeHelp(rest);
      } else {
        assert.ok(TYPES.has(rest), `unknown type in: ${line}`);
        assert.ok(!typed.has(name), `TYPE twice for ${name}`);
        typed.add(name);
        family(name).type = rest as Family["type"];
      }
      continue;
    }
    const match = SAMPLE.exec(line);
    assert.ok(match, `malformed sample line: ${JSON.stringify(line)}`);
    const [, name, labelText = "", value] = match;
    const labels = parseLabels(labelText, line);
    const owner = familyOf(name);
    assert.ok(owner === current || !families.get(owner)?.samples.length, `samples of ${owner} are not together`);
    current = owner;
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    assert.ok(!seen.has(key), `sample repeated: ${line}`);
    seen.add(key);
    const type = family(owner).type;
    if (type === "histogram") {
      assert.notEqual(name, owner, `histogram sample without a suffix: ${line}`);
      if (name.endsWith("_bucket")) assert.ok("le" in labels && !Number.isNaN(parseValue(labels.le)), `bucket without a valid le: ${line}`);
    }
    family(owner).samples.push({ name, labels, value: parseValue(value) });
  }
  for (const f of families.values()) if (f.type === "histogram") histograms(f);
  return families;
}

/** A histogram family's series; checks that each one's buckets end at +Inf, equal to its _count, and has a _sum. */
function histograms(f: Family): Histogram[] {
  const series = new Map<string, Histogram>();
  for (const s of f.samples) {
    const { le, ...labels } = s.labels;
    const key = JSON.stringify(Object.entries(labels).sort());
    let h = series.get(key);
    if (!h) series.set(key, (h = { labels, buckets: [], count: NaN, sum: NaN }));
    if (s.name.endsWith("_bucket")) h.buckets.push([le, s.value]);
    else if (s.name.endsWith("_count")) h.count = s.value;
    else h.sum = s.value;
  }
  for (const h of series.values()) {
    assert.equal(h.buckets.at(-1)?.[0], "+Inf", `${f.name}: the last bucket is +Inf`);
    assert.equal(h.buckets.at(-1)?.[1], h.count, `${f.name}: the +Inf bucket equals _count`);
    assert.ok(!Number.isNaN(h.sum), `${f.name}: has _sum`);
  }
  return [...series.values()];
}

function samples(families: Map<string, Family>, name: string): Sample[] {
  const family = families.get(name);
  assert.ok(family, `family ${name} is exposed`);
  return family.samples;
}

/** The value of the one sample of `name` whose labels include `labels`; undefined when there is none. */
function valueOf(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples(families, name).filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.ok(found.length <= 1, `one sample of ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

function histogramsOf(families: Map<string, Family>, name: string): Histogram[] {
  const family = families.get(name);
  assert.ok(family, `family ${name} is exposed`);
  return histograms(family);
}

/**
 * On Postgres, a database of the suite's own: the queue gauges count every tenant's jobs, and the
 * runner would take other suites' leftover jobs (and their isolates and kills) into the counts.
 */
async function scratchDatabase(): Promise<{ url?: string; drop(): Promise<void> }> {
  if (!process.env.DATABASE_URL) return { drop: async () => {} };
  const name = `isobox_metrics_${randomBytes(4).toString("hex")}`;
  const at = (database: string) => Object.assign(new URL(process.env.DATABASE_URL!), { pathname: `/${database}` }).href;
  const admin = postgres(at("postgres"), { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  return {
    url: at(name),
    async drop() {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

describe("metrics", () => {
  let t: TestBox;
  let scratch: Awaited<ReturnType<typeof scratchDatabase>>;
  let tenant: string;
  let text: string;
  let families: Map<string, Family>;
  let contentType: string | null;

  const enqueue = (fn: string, body: unknown = {}) => t.api("POST", `/api/tenants/${tenant}/functions/${fn}/jobs`, body);
  async function waitForJob(id: string, done: (job: any) => boolean): Promise<any> {
    let job: any;
    for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
      job = (await t.api("GET", `/api/tenants/${tenant}/jobs/${id}`)).body;
      if (done(job)) return job;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    assert.fail(`job ${id} did not get there: ${JSON.stringify(job)}`);
  }

  before(async () => {
    scratch = await scratchDatabase();
    t = await startBox({ jobPollMs: 100, drainMs: 200, ...(scratch.url ? { databaseUrl: scratch.url } : {}) });
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
    await waitForJob(quick.body.id, (job) => job.status === "succeeded");
    await waitForJob(flaky.body.id, (job) => job.status === "failed");
    const first = await enqueue("slow");
    await waitForJob(first.body.id, (job) => job.status === "running");
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
      ["nodejs_heap_used_bytes", "gauge"], ["process_cpu_seconds_total", "counter"],
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

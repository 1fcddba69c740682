// What the console needs of the API, which the CLI and scripts get too: deploying source the
// server compiles, the source the editor shows, handlers read at deploy (a module without any is
// refused), one request sent to a function with the caller's rights, runs by job, and lists that
// page by cursor over 100,000 stored runs.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { bundleFunction } from "../src/cli/bundle.ts";
import { startBox, type TestBox } from "./helpers/box.ts";
import { waitForJob, waitForRun, waitForRuns } from "./helpers/wait.ts";

const TS_SOURCE = `interface Greeting { text: string }
const greeting: Greeting = { text: "typed" };
export default {
  fetch(request: Request): Response {
    console.log("greeting", greeting.text);
    return Response.json(greeting);
  },
};
`;

describe("the API the console uses", () => {
  let t: TestBox;
  let tenant: string;
  let apiKey: string;
  before(async () => {
    t = await startBox({ httpRunSampleRate: 0 });
    ({ name: tenant, apiKey } = await t.tenant());
  });
  after(async () => { await t.close(); });

  const fn = (name: string) => `/api/tenants/${tenant}/functions/${name}`;

  test("TypeScript source is compiled by the server, kept, and shown back with ?source=1", async () => {
    const deployed = await t.api("PUT", fn("typed"), { source: TS_SOURCE, language: "ts", manifest: { routes: { auth: "public" } } }, apiKey);
    assert.equal(deployed.status, 201, JSON.stringify(deployed.body));
    assert.deepEqual(await (await fetch(deployed.body.url)).json(), { text: "typed" });
    const shown = await t.api("GET", `${fn("typed")}?source=1`, undefined, apiKey);
    assert.deepEqual(shown.body.source, { text: TS_SOURCE, language: "ts", bundled: false });
    assert.deepEqual(shown.body.handlers, ["fetch"]);
    const plain = await t.api("GET", fn("typed"), undefined, apiKey);
    assert.equal(plain.body.source, undefined);
    const js = await t.api("PUT", fn("plain-js"), { source: "export default { job() { return 1 } }", language: "js" }, apiKey);
    assert.equal(js.status, 201);
    const list = await t.api("GET", `/api/tenants/${tenant}/functions`, undefined, apiKey);
    const byName = Object.fromEntries(list.body.functions.map((f: { name: string; handlers: string[] }) => [f.name, f.handlers]));
    assert.deepEqual(byName["plain-js"], ["job"]);
    assert.deepEqual(byName.typed, ["fetch"]);
  });

  test("a compile error in source is 400 ERR_COMPILE at its line and column; nothing is deployed", async () => {
    const broken = await t.api("PUT", fn("typed"), { source: "const x: number = 1;\nexport default { fetch() { return new Response(x }\n", language: "ts" }, apiKey);
    assert.equal(broken.status, 400);
    assert.equal(broken.body.error.code, "ERR_COMPILE");
    assert.equal(broken.body.error.field, "source");
    assert.equal(broken.body.error.line, 2);
    assert.ok(broken.body.error.column > 1);
    assert.match(broken.body.error.message, /typed\.ts: .* at line 2, column \d+/);
    const both = await t.api("PUT", fn("typed"), { source: "x", code: "y" }, apiKey);
    assert.equal(both.status, 400);
    assert.match(both.body.error.message, /either code .* or source/);
    const stray = await t.api("PUT", fn("typed"), { code: "export default {}", language: "ts" }, apiKey);
    assert.equal(stray.status, 400);
    assert.equal(stray.body.error.field, "language");
    assert.equal((await t.api("GET", fn("typed"), undefined, apiKey)).body.latestVersion, 1);
  });

  test("a module that would fail every call is refused at deploy, naming what is missing, at the author's line", async () => {
    const cases: [string, unknown, RegExp][] = [
      ["export const x = 1;", { code: "export const x = 1;" }, /no default export/],
      ["export default {}", { code: "export default {}" }, /none of the handlers fetch, job, scheduled, tool/],
      ["a loop", { code: "while (true) {}\nexport default { fetch() {} }" }, /top-level code ran past its CPU time/],
      ["a throw in source", { source: "type A = string;\n\nthrow new Error('not configured');\nexport default { fetch() { return new Response('x') } }", language: "ts" }, /Error: not configured at refused\.ts:3:\d+/],
    ];
    for (const [what, body, message] of cases) {
      const refused = await t.api("PUT", fn("refused"), body, apiKey);
      assert.equal(refused.status, 400, what);
      assert.equal(refused.body.error.code, "ERR_COMPILE", what);
      assert.match(refused.body.error.message, message, what);
    }
    const thrown = await t.api("PUT", fn("refused"), cases[3][1], apiKey);
    assert.equal(thrown.body.error.line, 3, "the line in the TypeScript, not in the compiled module");
    assert.equal((await t.api("GET", fn("refused"), undefined, apiKey)).status, 404);
  });

  test("a function bundled by the CLI shows its entry file from the source map", async () => {
    const dir = await mkdtemp(join(tmpdir(), "isobox-entry-"));
    try {
      await writeFile(join(dir, "helper.ts"), "export const shout = (s: string) => s.toUpperCase();\n");
      const entry = `import { shout } from "./helper.ts";\nexport default { fetch() { return new Response(shout("hi")) } };\n`;
      await writeFile(join(dir, "agent.ts"), entry);
      const bundle = await bundleFunction(join(dir, "agent.ts"));
      assert.equal((await t.api("PUT", fn("bundled"), { code: bundle.code, sourceMap: bundle.sourceMap }, apiKey)).status, 201);
      const shown = await t.api("GET", `${fn("bundled")}?source=1`, undefined, apiKey);
      assert.deepEqual(shown.body.source, { text: entry, language: "ts", file: "agent.ts", bundled: true });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("POST …/invoke sends one request with the caller's rights, whatever routes.auth, and always records its run", async () => {
    const code = `export default { async fetch(r) {
      const body = r.method === "POST" ? await r.text() : "";
      console.log("got", r.method, new URL(r.url).pathname);
      return new Response(JSON.stringify({ method: r.method, path: new URL(r.url).pathname + new URL(r.url).search, header: r.headers.get("x-probe"), body }), { status: 201, headers: { "x-answer": "yes" } });
    } }`;
    assert.equal((await t.api("PUT", fn("echo"), { code, manifest: { routes: { auth: "key" } } }, apiKey)).status, 201);
    const sent = await t.api("POST", `${fn("echo")}/invoke`, { method: "POST", path: "/items?x=1", headers: { "x-probe": "p" }, body: "hello" }, apiKey);
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    assert.equal(sent.body.status, 201);
    assert.deepEqual(JSON.parse(sent.body.body), { method: "POST", path: "/items?x=1", header: "p", body: "hello" });
    assert.ok(sent.body.headers.some(([name, value]: [string, string]) => name === "x-answer" && value === "yes"));
    assert.ok(sent.body.durationMs > 0);
    // ISOBOX_HTTP_RUN_SAMPLE_RATE is 0 on this node: a request through /fn leaves no run, this one does.
    const run = await waitForRun(t.api, tenant, "function=echo");
    assert.equal(run.id, sent.body.runId);
    assert.equal(run.logs[0].message, "got POST /items");
    const binary = `export default { fetch() { return new Response(new Uint8Array([0xff, 0xfe, 0])) } }`;
    assert.equal((await t.api("PUT", fn("binary"), { code: binary }, apiKey)).status, 201);
    assert.equal((await t.api("POST", `${fn("binary")}/invoke`, {}, apiKey)).body.bodyBase64, "//4A");

    const other = await t.tenant();
    assert.equal((await t.api("POST", `${fn("echo")}/invoke`, {}, other.apiKey)).status, 403);
    for (const [body, field] of [[{ method: "get" }, "body.method"], [{ path: "items" }, "body.path"], [{ headers: { "bad name": "x" } }, "body.headers.bad name"], [{ method: "GET", body: "x" }, "body.body"]] as const) {
      const refused = await t.api("POST", `${fn("echo")}/invoke`, body, apiKey);
      assert.equal(refused.status, 400, JSON.stringify(body));
      assert.equal(refused.body.error.field, field);
    }
    const thrower = `export default { fetch() { throw new TypeError("broken on purpose") } }`;
    assert.equal((await t.api("PUT", fn("thrower"), { code: thrower }, apiKey)).status, 201);
    const failed = await t.api("POST", `${fn("thrower")}/invoke`, {}, apiKey);
    assert.equal(failed.status, 500);
    assert.equal(failed.body.error.code, "ERR_FUNCTION_THREW");
    assert.ok(failed.body.error.runId, "the failed run is linked");
  });

  test("runs?job= lists a job's attempts", async () => {
    const code = `export default { async job(p, env, ctx) { if (ctx.job.attempt < 2) throw new Error("first fails"); return "ok" } }`;
    assert.equal((await t.api("PUT", fn("twice"), { code, manifest: { jobs: { maxAttempts: 2, backoff: { baseMs: 0 } } } }, apiKey)).status, 201);
    const job = (await t.api("POST", `${fn("twice")}/jobs`, { payload: {} }, apiKey)).body;
    const done = await waitForJob(t.api, tenant, job.id);
    assert.equal(done.status, "succeeded", JSON.stringify(done));
    const runs = await waitForRuns(t.api, tenant, `job=${job.id}`, (runs) => runs.length === 2);
    assert.deepEqual(runs.map((run) => [run.jobId, run.attempt, run.status]), [[job.id, 2, "succeeded"], [job.id, 1, "failed"]]);
    assert.deepEqual((await t.api("GET", `/api/tenants/${tenant}/runs?job=no-such-job`, undefined, apiKey)).body.runs, []);
    assert.ok(done.steps !== undefined);
  });

  test("with 100,000 runs stored, lists page by cursor through filters", async () => {
    const { name: busy } = await t.tenant();
    const started = performance.now();
    await t.box.db.rows(sql`
      insert into runs (id, tenant, function, version, trigger, status, started_at, duration_ms, cpu_ms, trace_id)
      select 'bulk-' || i, ${busy}, 'fn-' || (i % 10), 1, case when i % 7 = 0 then 'job' else 'http' end,
        case when i % 13 = 0 then 'failed' else 'succeeded' end, now() - (i || ' seconds')::interval, 1, 1, md5(i::text)
      from generate_series(1, 100000) as i`);
    const inserted = performance.now() - started;
    // What autovacuum does after a bulk load: without fresh statistics the planner sorts all 100,000.
    await t.box.db.rows(sql`analyze runs`);
    const timings: string[] = [];
    const page = async (query: string) => {
      const begin = performance.now();
      const answer = await t.api("GET", `/api/tenants/${busy}/runs?${query}`);
      timings.push(`${query || "(none)"} ${(performance.now() - begin).toFixed(1)} ms`);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      return answer.body as { runs: { id: string; function: string; status: string; startedAt: string }[]; nextCursor: string | null };
    };
    const first = await page("limit=50");
    assert.equal(first.runs.length, 50);
    assert.equal(first.runs[0].id, "bulk-1");
    const second = await page(`limit=50&cursor=${encodeURIComponent(first.nextCursor!)}`);
    assert.equal(second.runs[0].id, "bulk-51");
    const failed = await page("status=failed&function=fn-3&limit=20");
    assert.ok(failed.runs.every((run) => run.status === "failed" && run.function === "fn-3"));
    assert.equal(failed.runs.length, 20);
    const deep = await page(`function=fn-3&status=failed&limit=20&cursor=${encodeURIComponent(failed.nextCursor!)}`);
    assert.ok(new Date(deep.runs[0].startedAt) < new Date(failed.runs[19].startedAt));
    await page("trigger=job&limit=50");
    await page(`since=${encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString())}&limit=50`);
    // Figures for the reader (no thresholds: this machine's speed is not the test's business).
    console.log(`# 100,000 runs inserted in ${inserted.toFixed(0)} ms; pages: ${timings.join("; ")}`);
    await t.box.db.rows(sql`delete from runs where tenant = ${busy}`);
  });
});

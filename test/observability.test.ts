// Debugging an agent from its runs: a failing three-step job deployed with the CLI shows, through
// the API and `isobox runs show`, which step failed with the guest's stack on the author's own
// source lines, the other steps' durations, and each attempt's logs.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startBox, type TestBox } from "./helpers/box.ts";
import { cli } from "./helpers/cli.ts";
import { sql } from "drizzle-orm";
import { pruneRuns } from "../src/runs/retention.ts";
import { waitForRuns } from "./helpers/wait.ts";

const AGENT = `import type { Handler } from "isobox";

export default {
  async job(payload, env, ctx) {
    console.log("attempt", ctx.job?.attempt);
    const plan = await ctx.step.run("plan", async () => {
      await new Promise((resolve) => setTimeout(resolve, 30));
      return { queries: ["isolates"] };
    });
    const found = await ctx.step.run("search", () => \`results for \${plan.queries[0]}\`);
    return ctx.step.run("answer", () => refuse(found));
  },
} satisfies Handler;

function refuse(input: string): never {
  throw new Error(\`the model refused: \${input}\`);
}
`;
const THROW_LINE = AGENT.split("\n").findIndex((line) => line.includes("throw new Error")) + 1;

let t: TestBox;
let dir: string;
let env: Record<string, string>;
before(async () => {
  t = await startBox({ jobPollMs: 50 });
  dir = await mkdtemp(join(tmpdir(), "isobox-obs-"));
  env = { ISOBOX_URL: t.url, ISOBOX_TOKEN: t.admin };
});
after(async () => {
  await t.close();
  await rm(dir, { recursive: true, force: true });
});

test("a failing three-step job: the failed step, its stack on the source lines, the others' durations, each attempt's logs", async () => {
  const file = join(dir, "agent.ts");
  await writeFile(file, AGENT);
  await writeFile(join(dir, "agent.json"), JSON.stringify({ jobs: { maxAttempts: 2, backoff: { baseMs: 10, maxMs: 20 } } }));
  const deployed = await cli(["deploy", file], env);
  assert.equal(deployed.code, 0, deployed.stderr);
  const waited = await cli(["jobs", "enqueue", "agent", "--wait", "--json"], env);
  assert.equal(waited.code, 1, "a failed job exits 1");
  const job = JSON.parse(waited.stdout);
  assert.equal(job.status, "failed");
  assert.equal(job.attempts, 2);
  assert.match(job.error.stack, new RegExp(`at refuse \\(agent\\.ts:${THROW_LINE}:\\d+\\)`), job.error.stack);

  // The runs of the job, one per attempt, written by the recorder shortly after.
  let runs: any[] = [];
  for (let i = 0; i < 50 && runs.length < 2; i++) {
    runs = (await t.api("GET", `/api/tenants/default/runs?function=agent&trigger=job`)).body.runs;
    if (runs.length < 2) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const [second, first] = runs;
  assert.deepEqual([first.attempt, second.attempt], [1, 2]);
  const one = (await t.api("GET", `/api/tenants/default/runs/${first.id}`)).body;
  const two = (await t.api("GET", `/api/tenants/default/runs/${second.id}`)).body;
  assert.deepEqual(one.steps.map((s: any) => [s.name, s.status]), [["plan", "succeeded"], ["search", "succeeded"], ["answer", "failed"]]);
  assert.deepEqual(two.steps.map((s: any) => [s.name, s.status]), [["plan", "replayed"], ["search", "replayed"], ["answer", "failed"]]);
  assert.ok(one.steps[0].durationMs >= 25, `plan took ${one.steps[0].durationMs} ms`);
  assert.equal(one.steps[1].preview, JSON.stringify("results for isolates"));
  assert.equal(one.steps[2].error.message, "the model refused: results for isolates");
  assert.match(one.error.stack, new RegExp(`agent\\.ts:${THROW_LINE}:`));
  assert.deepEqual(one.logs.map((l: any) => l.message), ["attempt 1"]);
  assert.deepEqual(two.logs.map((l: any) => l.message), ["attempt 2"]);

  const shown = await cli(["runs", "show", first.id], env);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /✓ plan\s+\|\s*█+\s*\|\s+\d+ ms  24 B {"queries":\["isolates"\]}/);
  assert.match(shown.stdout, /✗ answer\s+\|\s*x+\s*\|.*Error: the model refused/);
  assert.match(shown.stdout, new RegExp(`error ERR_FUNCTION_THREW: Error: the model refused[\\s\\S]*at refuse \\(agent\\.ts:${THROW_LINE}:\\d+\\)`));
  assert.match(shown.stdout, /logs\n.* log\s+attempt 1/);
  const listed = await cli(["runs", "--function", "agent"], env);
  assert.match(listed.stdout, /agent\s+job attempt 2\s+failed/);
});

/** Polls the runs API until `check` holds for the list (the recorder writes in batches). */
function runsUntil(query: string, check: (runs: any[]) => boolean): Promise<any[]> {
  return waitForRuns(t.api, "default", query, check);
}

test("structured log fields and the isolate's heap are stored with the run and shown by the CLI; secrets redacted", async () => {
  await t.api("PUT", "/api/tenants/default/secrets/OBS_KEY", { value: "sk-obs-secret-987" });
  await t.deploy("fields", `export default {
    async fetch(request, env) {
      const kept = new Array(50000).fill("x").join("");
      console.log("fetched", { url: "https://example.test/a", ms: 12, ok: true, token: env.OBS_KEY });
      console.info({ step: "parse", items: [1, 2] });
      console.warn("rate %d%%", 5, { ignored: "printf keeps its objects" });
      return Response.json({ n: kept.length });
    },
  }`, { routes: { auth: "public" }, secrets: ["OBS_KEY"] }, "default");
  const response = await fetch(`${t.url}/fn/default/fields`);
  assert.equal(response.status, 200);
  const [run] = await runsUntil("function=fields", (runs) => runs.length > 0);
  const shown = (await t.api("GET", `/api/tenants/default/runs/${run.id}`)).body;
  assert.deepEqual(shown.logs.map((l: any) => [l.message, l.fields]), [
    ["fetched", { url: "https://example.test/a", ms: 12, ok: true, token: "[secret]" }],
    [`{ step: 'parse', items: [ 1, 2 ] }`, { step: "parse", items: [1, 2] }],
    [`rate 5% { ignored: 'printf keeps its objects' }`, null],
  ]);
  assert.ok(shown.memoryBytes > 100_000 && shown.memoryBytes < 128 * 1024 * 1024, `heap ${shown.memoryBytes}`);
  const printed = await cli(["runs", "show", run.id], env);
  const fetched = printed.stdout.split("\n").find((line) => line.includes("fetched")) ?? "";
  for (const field of [`url="https://example.test/a"`, "ms=12", "ok=true", `token="[secret]"`]) assert.ok(fetched.includes(` ${field}`), fetched);
  assert.match(printed.stdout, /heap \d+\.\d MB/);
  assert.doesNotMatch(printed.stdout, /sk-obs-secret/);
});

test("runs filter by time range; a bad time is a 400 naming the field", async () => {
  const [latest] = await runsUntil("function=fields", (runs) => runs.length > 0);
  const at = new Date(latest.startedAt);
  const since = (await t.api("GET", `/api/tenants/default/runs?function=fields&since=${encodeURIComponent(at.toISOString())}`)).body.runs;
  assert.ok(since.some((r: any) => r.id === latest.id));
  const until = (await t.api("GET", `/api/tenants/default/runs?function=fields&until=${encodeURIComponent(at.toISOString())}`)).body.runs;
  assert.ok(!until.some((r: any) => r.id === latest.id), "until is exclusive");
  const listed = await cli(["runs", "--function", "fields", "--since", at.toISOString()], env);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, new RegExp(latest.id));
  const none = await cli(["runs", "--function", "fields", "--until", at.toISOString()], env);
  assert.equal(none.code, 0, none.stderr);
  assert.doesNotMatch(none.stdout, new RegExp(latest.id));
  // Pages of one run each walk the same list as one page (the failing job's two attempts; a
  // shared Postgres holds other suites' runs of this tenant too).
  const all = (await t.api("GET", "/api/tenants/default/runs?function=agent&limit=500")).body.runs.map((r: any) => r.id);
  assert.equal(all.length, 2);
  const walked: string[] = [];
  for (let cursor: string | null = null, pages = 0; pages === 0 || cursor; pages++) {
    assert.ok(pages <= all.length, "the cursor keeps coming back");
    const page: any = (await t.api("GET", `/api/tenants/default/runs?function=agent&limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`)).body;
    walked.push(...page.runs.map((r: any) => r.id));
    cursor = page.nextCursor;
  }
  assert.deepEqual(walked, all);
  const badCursor = await t.api("GET", "/api/tenants/default/runs?cursor=nonsense");
  assert.equal(badCursor.status, 400);
  assert.equal(badCursor.body.error.field, "query.cursor");
  const bad = await t.api("GET", "/api/tenants/default/runs?since=yesterday");
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, "ERR_BAD_REQUEST");
  assert.match(bad.body.error.message, /query\.since/);
});

test("retention deletes runs older than the period with their logs and steps, then the oldest beyond the cap", async () => {
  const db = t.box.db;
  const insert = (id: string, hoursAgo: number) => db.rows(sql`
    insert into runs (id, tenant, function, version, trigger, status, started_at, duration_ms, cpu_ms, trace_id, log_count)
    values (${id}, 'default', 'retained', 1, 'job', 'succeeded', now() - make_interval(hours => ${hoursAgo}), 1, 1, 't', 1)`);
  for (let i = 0; i < 5; i++) await insert(`ret-old-${i}`, 200 + i);
  for (let i = 0; i < 5; i++) await insert(`ret-new-${i}`, 1 + i);
  await db.rows(sql`insert into run_logs (run_id, seq, time, level, message) values ('ret-old-0', 0, now(), 'log', 'gone')`);
  const count = async (like: string) => (await db.rows<{ n: number }>(sql`select count(*)::int as n from runs where id like ${like}`))[0].n;
  const total = (await db.rows<{ n: number }>(sql`select count(*)::int as n from runs`))[0].n;

  assert.equal(await pruneRuns(db, new Date(Date.now() - 168 * 3_600_000), 1_000_000, 2), 5, "batches of 2 still delete all five");
  assert.equal(await count("ret-old-%"), 0);
  assert.equal((await db.rows<{ n: number }>(sql`select count(*)::int as n from run_logs where run_id = 'ret-old-0'`))[0].n, 0);
  // A cap of the current count minus 2 removes the two oldest runs left: ret-new-4 and ret-new-3.
  assert.equal(await pruneRuns(db, new Date(0), total - 5 - 2), 2);
  assert.deepEqual((await db.rows<{ id: string }>(sql`select id from runs where id like 'ret-new-%' order by id`)).map((r) => r.id), ["ret-new-0", "ret-new-1", "ret-new-2"]);
});

test("a line logged after a host call, just before the handler returns or throws, is in the run", async () => {
  await t.deploy("late", `export default {
    async fetch(request, env, ctx) {
      await ctx.jobs.get("no-such-job");
      console.log("after the host call", { n: new URL(request.url).searchParams.get("n") });
      if (request.url.includes("fail")) throw new Error("failed after logging");
      return new Response(ctx.runId);
    },
  }`, { routes: { auth: "public" } }, "default");
  const ids: string[] = [];
  for (let i = 0; i < 20; i++) {
    const response = await fetch(`${t.url}/fn/default/late?n=${i}${i % 4 === 3 ? "&fail=1" : ""}`);
    ids.push(i % 4 === 3 ? ((await response.json()) as { error: { runId: string } }).error.runId : await response.text());
  }
  await runsUntil("function=late&limit=50", (runs) => runs.length === 20);
  for (const [i, id] of ids.entries()) {
    const run = (await t.api("GET", `/api/tenants/default/runs/${id}`)).body;
    assert.equal(run.status, i % 4 === 3 ? "failed" : "succeeded");
    assert.deepEqual(run.logs.map((l: any) => [l.message, l.fields]), [["after the host call", { n: String(i) }]], `request ${i}`);
  }
});

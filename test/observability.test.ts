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

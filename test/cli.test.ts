// The CLI's coverage of the API, with the real command in its own process: functions, secrets,
// tenants and keys, runs of a job, a job's attempts, ids by prefix, each command's own --help,
// and mistakes answered in one line with a hint.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startBox, type TestBox } from "./helpers/box.ts";
import { cli } from "./helpers/cli.ts";
import { waitForJob } from "./helpers/wait.ts";

describe("the CLI", () => {
  let t: TestBox;
  let tenant: string;
  let env: Record<string, string>;
  const run = async (...args: string[]) => {
    const result = await cli(args, env);
    assert.equal(result.code, 0, `isobox ${args.join(" ")}: ${result.stderr}`);
    return result.stdout;
  };
  before(async () => {
    t = await startBox({ httpRunSampleRate: 0 });
    ({ name: tenant } = await t.tenant());
    env = { ISOBOX_URL: t.url, ISOBOX_TOKEN: t.admin };
    await t.deploy("flaky", "export default { job(p, env, ctx) { if (ctx.job.attempt < 2) throw new Error('not yet, attempt ' + ctx.job.attempt); return 'done'; } }", { jobs: { maxAttempts: 3, backoff: { baseMs: 1, maxMs: 5 } } }, tenant);
    await t.deploy("flaky", "export default { job() { return 'v2' } }", { jobs: { maxAttempts: 3 } }, tenant);
  });
  after(async () => { await t.close(); });

  test("functions list, show, versions, rollback, delete (which asks for --yes without a terminal)", async () => {
    assert.match(await run("functions", "--tenant", tenant), /^flaky\s+v2\s+job\s/m);
    assert.match(await run("functions", "show", "flaky", "--tenant", tenant), /flaky v2 \(latest v2, 2 versions\)/);
    assert.match(await run("functions", "versions", "flaky", "--tenant", tenant), /^v2\s+\S+\s+serving$/m);
    assert.match(await run("functions", "rollback", "flaky", "1", "--tenant", tenant), /flaky serves v1/);
    await t.deploy("doomed", "export default { fetch() { return new Response('x') } }", undefined, tenant);
    const refused = await cli(["functions", "delete", "doomed", "--tenant", tenant], env);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /^isobox: Delete \S+\/doomed and all its versions\? Pass --yes to confirm \(standard input is not a terminal\)\nhint: isobox functions --help shows its usage\n$/);
    assert.match(await run("functions", "delete", "doomed", "--tenant", tenant, "--yes"), /Deleted \S+\/doomed/);
    assert.equal((await t.api("GET", `/api/tenants/${tenant}/functions/doomed`)).status, 404);
  });

  test("jobs show lists each attempt with its run id and why it failed; ids may be a prefix; runs --job", async () => {
    const enqueued = await t.api("POST", `/api/tenants/${tenant}/functions/flaky/jobs`, { payload: {} });
    await waitForJob(t.api, tenant, enqueued.body.id);
    const shown = await run("jobs", "show", enqueued.body.id.slice(0, 8), "--tenant", tenant);
    assert.match(shown, /^attempts$/m);
    assert.match(shown, /attempt 1 {2}run [0-9a-f-]{36} {2}failed\s+\d+ ms {2}ERR_FUNCTION_THREW: Error: not yet, attempt 1/);
    assert.match(shown, /attempt 2 {2}run [0-9a-f-]{36} {2}succeeded/);
    const runs = await run("runs", "--job", enqueued.body.id.slice(0, 10), "--tenant", tenant);
    assert.equal(runs.trim().split("\n").length, 2);
    const short = await cli(["jobs", "show", "abc", "--tenant", tenant], env);
    assert.match(short.stderr, /^isobox: abc: give the whole job id or at least 8 of its first characters\n/);
    const none = await cli(["jobs", "show", "ffffffff", "--tenant", tenant], env);
    assert.match(none.stderr, /^isobox: No job of tenant \S+ starts with ffffffff\n$/);
  });

  test("secrets delete, tenants list, create and quotas, keys create, list and revoke", async () => {
    await run("secrets", "set", "TOKEN_X", "--tenant", tenant, "--value", "v");
    assert.match(await run("secrets", "delete", "TOKEN_X", "--tenant", tenant, "--yes"), /Deleted \S+\/TOKEN_X/);
    assert.doesNotMatch(await run("secrets", "list", "--tenant", tenant), /TOKEN_X/);
    const name = `${tenant}-b`;
    assert.match(await run("tenants", "create", name), new RegExp(`Created tenant ${name}\\. Its API key \\(shown once, keep it\\): isk_\\S+`));
    assert.match(await run("tenants"), new RegExp(`^${name}\\s`, "m"));
    assert.match(await run("tenants", "quotas", name, "--set", "requestsPerSecond=7", "--set", "functions=3"), /"requestsPerSecond":7/);
    assert.match(await run("tenants", "quotas", name), /"functions":3/);
    const created = JSON.parse(await run("keys", "create", "--tenant", name, "--json"));
    assert.match(await run("keys", "--tenant", name), new RegExp(created.id));
    assert.match(await run("keys", "revoke", created.id, "--tenant", name, "--yes"), /Revoked key/);
    assert.equal((await fetch(`${t.url}/api/tenants/${name}/functions`, { headers: { authorization: `Bearer ${created.apiKey}` } })).status, 401);
  });

  test("deploy says what will go wrong: a secret the tenant lacks warns; a Node built-in or a missing package says what to do", async () => {
    const dir = await mkdtemp(join(tmpdir(), "isobox-cli-"));
    try {
      await writeFile(join(dir, "needs.ts"), "export default { fetch(r: Request, env: Record<string, string>) { return new Response(env.NOPE_KEY ?? 'none') } }");
      await writeFile(join(dir, "needs.json"), JSON.stringify({ secrets: ["NOPE_KEY"] }));
      const deployed = await cli(["deploy", join(dir, "needs.ts"), "--tenant", tenant], env);
      assert.equal(deployed.code, 0, deployed.stderr);
      assert.match(deployed.stderr, new RegExp(`warning: manifest\\.secrets: tenant ${tenant} has no secret NOPE_KEY \\(env\\.NOPE_KEY is undefined until it is set: isobox secrets set NOPE_KEY\\)\n`));
      const api = await t.api("PUT", `/api/tenants/${tenant}/functions/needs`, { code: "export default { fetch() { return new Response('x') } }", manifest: { secrets: ["NOPE_KEY"] } });
      assert.deepEqual(api.body.warnings, [`manifest.secrets: tenant ${tenant} has no secret NOPE_KEY (env.NOPE_KEY is undefined until it is set: isobox secrets set NOPE_KEY)`]);
      await writeFile(join(dir, "fs.ts"), 'import { readFileSync } from "node:fs";\nexport default { fetch() { return new Response(readFileSync("/etc/hostname")) } }');
      const builtin = await cli(["deploy", join(dir, "fs.ts"), "--tenant", tenant], env);
      assert.equal(builtin.code, 1);
      assert.match(builtin.stderr, /isobox: fs\.ts:1:\d+: node:fs: Node built-ins are not in the sandbox, which has Web APIs: there is no file system/);
      await writeFile(join(dir, "pkg.ts"), 'import pad from "left-pad-not-installed";\nexport default { fetch() { return new Response(pad("x")) } }');
      const missing = await cli(["deploy", join(dir, "pkg.ts"), "--tenant", tenant], env);
      assert.match(missing.stderr, /isobox: pkg\.ts:1:\d+: left-pad-not-installed: the package left-pad-not-installed is not installed: npm install left-pad-not-installed\n/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("deploy --check type-checks the file against isobox's Handler first: an error is file:line:column and nothing is deployed", async () => {
    const dir = await mkdtemp(join(tmpdir(), "isobox-check-"));
    try {
      await writeFile(join(dir, "typed.ts"), 'import type { Handler } from "isobox";\nexport default {\n  async fetch(request, env, ctx) { return ctx.notAThing; },\n} satisfies Handler;\n');
      const bad = await cli(["deploy", join(dir, "typed.ts"), "--check", "--tenant", tenant], env);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /isobox: 1 type error, nothing deployed:\n\S*typed\.ts:3:\d+: Property 'notAThing' does not exist on type 'Context'\.\n/);
      assert.equal((await t.api("GET", `/api/tenants/${tenant}/functions/typed`)).status, 404);
      await writeFile(join(dir, "typed.ts"), 'import type { Handler } from "isobox";\nexport default {\n  async fetch(request, env, ctx) { return Response.json({ tenant: ctx.tenant }); },\n} satisfies Handler;\n');
      const good = await cli(["deploy", join(dir, "typed.ts"), "--check", "--tenant", tenant], env);
      assert.equal(good.code, 0, good.stderr);
      assert.match(good.stdout, /Deployed \S+\/typed v1/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("each command's --help is its own; an unknown command or flag is one line and a hint", async () => {
    const help = await run("functions", "--help");
    assert.match(help, /^Usage:\n {2}isobox functions \[list\]/);
    assert.match(help, /isobox functions rollback <name> <version>/);
    assert.doesNotMatch(help, /isobox jobs/);
    assert.match(await run("dev", "--help"), /--env-file <value>/);
    const unknown = await cli(["deploi"], env);
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stderr, 'isobox: Unknown command "deploi"\nhint: isobox --help lists the commands\n');
    const flag = await cli(["runs", "--bogus"], env);
    assert.equal(flag.code, 2);
    assert.equal(flag.stderr.split("\n").length, 3, flag.stderr);
    assert.equal(flag.stderr, "isobox: runs: Unknown option '--bogus'.\nhint: isobox runs --help shows its usage\n");
  });
});

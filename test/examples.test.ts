// The examples, deployed with the isobox CLI and called over HTTP as a user would.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { json, startBox, type TestBox } from "./helpers/box.ts";
import { cli } from "./helpers/cli.ts";
import { eventually, waitForJob } from "./helpers/wait.ts";

interface Seen { path: string; authorization?: string; body: any }

/** A loopback stand-in for an OpenAI-compatible chat completions API. */
async function modelStub(seen: Seen[]): Promise<Server> {
  const server = createServer(async (req: IncomingMessage, res) => {
    let text = "";
    for await (const chunk of req) text += chunk;
    seen.push({ path: req.url!, authorization: req.headers.authorization, body: JSON.parse(text || "null") });
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ choices: [{ message: { role: "assistant", content: "A short summary." } }] }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

describe("examples", () => {
  let t: TestBox;
  let stub: Server;
  let stubPort: number;
  const seen: Seen[] = [];
  let env: Record<string, string>;
  let dir: string;

  before(async () => {
    stub = await modelStub(seen);
    stubPort = (stub.address() as AddressInfo).port;
    t = await startBox({ egressAllowPrivate: `127.0.0.1:${stubPort}` });
    env = { ISOBOX_URL: t.url, ISOBOX_TOKEN: t.admin };
    dir = await mkdtemp(join(tmpdir(), "isobox-examples-"));
  });
  after(async () => {
    await t.close();
    stub.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("hello: isobox deploy, then curl and isobox invoke", async () => {
    const deployed = await cli(["deploy", "examples/hello.ts", "--json"], env);
    assert.equal(deployed.code, 0, deployed.stderr);
    const { url, version, name } = JSON.parse(deployed.stdout);
    assert.equal(name, "hello");
    assert.ok(version >= 1);
    assert.deepEqual(await json(await fetch(`${url}?name=ada`)), { hello: "ada" });
    const invoked = await cli(["invoke", "hello", "--path", "/?name=lin", "--json"], env);
    assert.equal(invoked.code, 0, invoked.stderr);
    const result = JSON.parse(invoked.stdout);
    assert.equal(result.status, 200);
    assert.deepEqual(JSON.parse(result.body), { hello: "lin" });
  });

  test("research-agent: 202 with a job id at once, durable steps, isobox jobs enqueue --wait, jobs, jobs show", async () => {
    const manifest = join(dir, "research.json");
    await writeFile(manifest, JSON.stringify({ routes: { auth: "public" }, fetch: { allow: [`127.0.0.1:${stubPort}`] }, secrets: ["MODEL_API_KEY", "MODEL_API_URL"] }));
    for (const [name, value] of [["MODEL_API_KEY", "sk-test-secret-123"], ["MODEL_API_URL", `http://127.0.0.1:${stubPort}/v1`]]) {
      assert.equal((await cli(["secrets", "set", name], env, value)).code, 0);
    }
    const deployed = await cli(["deploy", "examples/research-agent.ts", "--manifest", manifest, "--json"], env);
    assert.equal(deployed.code, 0, deployed.stderr);
    const { url } = JSON.parse(deployed.stdout);
    const before = seen.length;

    const accepted = await fetch(url, { method: "POST", body: JSON.stringify({ url: `http://127.0.0.1:${stubPort}/page/1` }) });
    assert.equal(accepted.status, 202);
    const { id, poll } = await json(accepted);
    let job: any;
    job = await eventually("the research job to succeed", async () => {
      const found = await json(await fetch(url + poll));
      return found.status === "succeeded" && found;
    });
    assert.equal(job.id, id);
    assert.equal(job.status, "succeeded", JSON.stringify(job));
    assert.equal(job.result.summary, "A short summary.");
    assert.deepEqual(job.steps.map((step: any) => step.name), ["fetch-page", "summarize"]);
    assert.deepEqual(seen.slice(before).map((s) => s.path), ["/page/1", "/v1/chat/completions"]);

    const waited = await cli(["jobs", "enqueue", "research-agent", "--payload", JSON.stringify({ url: `http://127.0.0.1:${stubPort}/page/2` }), "--wait"], env);
    assert.equal(waited.code, 0, waited.stderr);
    assert.match(waited.stderr, /succeeded attempt 1\/5, 2 steps/);
    assert.match(waited.stdout, /✓ fetch-page/);
    assert.match(waited.stdout, /result: \{"url":"http:\/\/127\.0\.0\.1:\d+\/page\/2","summary":"A short summary\."\}/);

    const listed = await cli(["jobs", "--function", "research-agent", "--json"], env);
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(JSON.parse(listed.stdout).counts.succeeded, 2);
    const shown = await cli(["jobs", "show", id], env);
    assert.match(shown.stdout, new RegExp(`^${id}\\s+research-agent\\s+succeeded`));
    const missing = await cli(["jobs", "show", "no-such-job"], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No job of tenant default starts with no-such-job/);
  });

  test("github-triage: isobox hooks shows the URL; a signed delivery is acknowledged, then posts to Slack once; schedules and replay from the CLI", async () => {
    const manifest = join(dir, "triage.json");
    await writeFile(manifest, JSON.stringify({
      fetch: { allow: [`127.0.0.1:${stubPort}`] },
      secrets: ["GITHUB_WEBHOOK_SECRET", "SLACK_WEBHOOK_URL"],
      webhooks: [{ name: "github", verify: { scheme: "github", secret: "GITHUB_WEBHOOK_SECRET" } }],
      schedules: [{ name: "digest", cron: "0 9 * * 1-5", timezone: "Europe/Berlin" }],
    }));
    for (const [name, value] of [["GITHUB_WEBHOOK_SECRET", "gh-secret-for-the-triage-example"], ["SLACK_WEBHOOK_URL", `http://127.0.0.1:${stubPort}/slack`]]) {
      assert.equal((await cli(["secrets", "set", name], env, value)).code, 0);
    }
    assert.equal((await cli(["deploy", "examples/github-triage.ts", "--manifest", manifest], env)).code, 0);

    const hooks = await cli(["hooks"], env);
    assert.equal(hooks.code, 0, hooks.stderr);
    const hookUrl = `${t.url}/hooks/default/github-triage/github`;
    assert.ok(hooks.stdout.includes(hookUrl), hooks.stdout);
    const schedules = await cli(["schedules"], env);
    assert.match(schedules.stdout, /github-triage\.digest\s+0 9 \* \* 1-5 \(Europe\/Berlin\)\s+next 20\d\d-/);

    const body = JSON.stringify({ action: "opened", issue: { number: 42, title: "Crash on start", html_url: "https://github.com/o/r/issues/42" } });
    const signature = `sha256=${createHmac("sha256", "gh-secret-for-the-triage-example").update(body).digest("hex")}`;
    const before = seen.length;
    const delivered = await fetch(hookUrl, { method: "POST", headers: { "x-hub-signature-256": signature, "x-github-delivery": "d-42", "x-github-event": "issues", "content-type": "application/json" }, body });
    assert.equal(delivered.status, 202);
    const { eventId, jobId } = await json(delivered);
    let job: any;
    job = await waitForJob(t.api, "default", jobId, (found) => found.status === "succeeded");
    assert.deepEqual(job.result, { notified: 42 });
    assert.deepEqual(seen.slice(before).map((s) => [s.path, s.body.text]), [["/slack", "New issue #42: <https://github.com/o/r/issues/42|Crash on start>"]]);

    const forged = await fetch(hookUrl, { method: "POST", headers: { "x-hub-signature-256": signature, "x-github-delivery": "d-43" }, body: body.replace("42", "43") });
    assert.equal(forged.status, 401);
    const events = await cli(["hooks", "events", "--status", "rejected"], env);
    assert.match(events.stdout, /github-triage\/github\s+rejected .*ERR_BAD_SIGNATURE/);
    const replayed = await cli(["hooks", "replay", eventId, "--json"], env);
    assert.equal(replayed.code, 0, replayed.stderr);
    assert.notEqual(JSON.parse(replayed.stdout).jobId, jobId);
  });

  test("deploy errors are one clear line", async () => {
    const broken = join(dir, "broken.ts");
    await writeFile(broken, "export default { fetch() { return 1 +; } }");
    const result = await cli(["deploy", broken], env);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /broken\.ts:1:\d+: Unexpected/);
    const missing = await cli(["deploy", join(dir, "nope.ts")], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /isobox: .*nope\.ts/);
    const unreachable = await cli(["invoke", "hello"], { ISOBOX_URL: "http://127.0.0.1:1", ISOBOX_TOKEN: "x" });
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /Cannot reach Isobox at http:\/\/127\.0\.0\.1:1/);
  });

  test("hono-app: a whole Hono app with its npm import bundled", async () => {
    const deployed = await cli(["deploy", "examples/hono-app.ts", "--json"], env);
    assert.equal(deployed.code, 0, deployed.stderr);
    const { url } = JSON.parse(deployed.stdout);
    assert.equal(await (await fetch(url)).text(), "todo api");
    const created = await fetch(`${url}/todos`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ title: "write tests" }) });
    assert.equal(created.status, 201);
    assert.deepEqual(await json(created), { id: 1, title: "write tests", done: false });
    assert.equal((await fetch(`${url}/todos/7`)).status, 404);
  });

  test("summarize-tool: calls the model API stub with the secret key, only where allowed", async () => {
    for (const [name, value] of [["MODEL_API_KEY", "sk-test-secret-123"], ["MODEL_API_URL", `http://127.0.0.1:${stubPort}/v1`]]) {
      const set = await cli(["secrets", "set", name], env, value);
      assert.equal(set.code, 0, set.stderr);
    }
    const manifest = join(dir, "summarize.json");
    const shipped = JSON.parse(await readFile("examples/summarize-tool.json", "utf8"));
    await writeFile(manifest, JSON.stringify({ ...shipped, fetch: { allow: [`http://127.0.0.1:${stubPort}/v1/*`] } }));
    const deployed = await cli(["deploy", "examples/summarize-tool.ts", "--manifest", manifest, "--json"], env);
    assert.equal(deployed.code, 0, deployed.stderr);
    const { url } = JSON.parse(deployed.stdout);
    const earlier = seen.length;

    assert.equal((await fetch(url, { method: "POST", body: "{}" })).status, 401, "routes.auth key needs a key");
    const res = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${t.admin}` }, body: JSON.stringify({ text: "A long text about isolates." }) });
    assert.equal(res.status, 200);
    assert.deepEqual(await json(res), { summary: "A short summary." });
    assert.equal(seen.length, earlier + 1);
    const call = seen[earlier];
    assert.equal(call.path, "/v1/chat/completions");
    assert.equal(call.authorization, "Bearer sk-test-secret-123");
    assert.equal(call.body.messages[1].content, "A long text about isolates.");

    // The same function as an MCP tool, called by the official client: schemas from the manifest.
    const client = new Client({ name: "examples-test", version: "1.0.0" }, { versionNegotiation: { mode: { pin: "2026-07-28" } } });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${t.url}/mcp/default`), { requestInit: { headers: { authorization: `Bearer ${t.admin}` } } }));
    const listed = (await client.listTools()).tools.find((tool) => tool.name === "summarize-tool");
    assert.deepEqual(listed?.outputSchema, shipped.tool.output);
    const called = await client.callTool({ name: "summarize-tool", arguments: { text: "Another text." } });
    assert.deepEqual(called.structuredContent, { summary: "A short summary." });
    assert.equal(seen[earlier + 1].body.messages[1].content, "Another text.");
    const tooLong = await client.callTool({ name: "summarize-tool", arguments: { text: "x".repeat(20_001) } });
    assert.equal(tooLong._meta?.["isobox/code"], "ERR_INVALID_ARGUMENTS");
    await client.close();

    // The shipped manifest allows only api.openai.com: the same call to the stub is refused unsent.
    const strict = await cli(["deploy", "examples/summarize-tool.ts", "--name", "summarize-strict", "--json"], env);
    assert.equal(strict.code, 0, strict.stderr);
    const denied = await fetch(JSON.parse(strict.stdout).url, { method: "POST", headers: { authorization: `Bearer ${t.admin}` }, body: JSON.stringify({ text: "x" }) });
    assert.equal(denied.status, 500);
    const error = (await json(denied)).error;
    assert.equal(error.code, "ERR_FUNCTION_THREW");
    assert.match(error.message, /^TypeError: ERR_FETCH_DENIED: 127\.0\.0\.1:\d+: not in the manifest's fetch\.allow/);
    assert.equal(seen.length, earlier + 2, "nothing was sent");
  });
});

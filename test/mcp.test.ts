// MCP at /mcp/:tenant, spoken to by the official clients: @modelcontextprotocol/client 2.x in the
// 2026-07-28 era, @modelcontextprotocol/sdk 1.x in the 2025 era, and @modelcontextprotocol/ext-tasks
// for tasks in the 2026 era. Tools come from the serving manifests; calls are runs of trigger mcp.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { Client as LegacyClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as LegacyTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { createTaskSessionFromClient, resultFromTaskOutcome } from "@modelcontextprotocol/ext-tasks/client";
import { json, startBox, type TestBox } from "./helpers/box.ts";
import { eventually } from "./helpers/wait.ts";

const SUMMARIZE = `export default {
  tool(input) {
    if (input.fail) throw new Error("the model refused: " + input.fail);
    console.log("summarizing", input.text.length, "characters");
    return { summary: input.text.slice(0, 10), words: input.text.split(" ").length };
  },
};`;
const SUMMARIZE_TOOL = {
  description: "Summarize a text",
  input: { type: "object", properties: { text: { type: "string" }, fail: { type: "string" } }, required: ["text"], additionalProperties: false },
  output: { type: "object", properties: { summary: { type: "string" }, words: { type: "integer" } }, required: ["summary", "words"] },
  annotations: { title: "Summarize", readOnlyHint: true },
};
const HTTP_TOOL = `export default {
  async fetch(request) {
    const args = await request.json();
    if (args.status) return new Response("not today", { status: args.status });
    if (args.text) return new Response("plain " + args.text);
    return Response.json({ got: args, method: request.method, path: new URL(request.url).pathname });
  },
};`;
const LIST_TOOL = "export default { tool(input) { return [1, 2, input.n ?? 3]; } };";
const JOB_TOOL = `export default {
  async job(payload) {
    await new Promise((resolve) => setTimeout(resolve, payload.ms ?? 200));
    if (payload.fail) throw new Error("the job failed on purpose");
    return { done: payload.n ?? 0 };
  },
};`;

type Text = { type: string; text: string };

describe("MCP", () => {
  let t: TestBox;
  let tenant: string;
  let key: string;
  let mcpUrl: URL;

  const deploy = async (name: string, code: string, tool: unknown, who = tenant) => {
    const deployed = await t.api("PUT", `/api/tenants/${who}/functions/${name}`, { code, manifest: { tool, jobs: { maxAttempts: 1 } } });
    assert.equal(deployed.status, 201, JSON.stringify(deployed.body));
  };

  const runOf = (runId: string) => eventually(`run ${runId}`, async () => {
    const read = await t.api("GET", `/api/tenants/${tenant}/runs/${runId}`, undefined, key);
    return read.status === 200 ? read.body : undefined;
  });

  async function modern(token = key, options: ConstructorParameters<typeof Client>[1] = {}): Promise<Client> {
    const client = new Client({ name: "isobox-test", version: "1.0.0" }, { versionNegotiation: { mode: { pin: "2026-07-28" } }, ...options });
    await client.connect(new StreamableHTTPClientTransport(mcpUrl, { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    return client;
  }

  async function legacy(token = key): Promise<LegacyClient> {
    const client = new LegacyClient({ name: "isobox-test-legacy", version: "1.0.0" }, { capabilities: { tasks: { requests: {} } } as never });
    await client.connect(new LegacyTransport(mcpUrl, { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    return client;
  }

  before(async () => {
    t = await startBox({ httpRunSampleRate: 0, mcpOrigins: ["https://agent.example"] });
    ({ name: tenant, apiKey: key } = await t.tenant());
    mcpUrl = new URL(`${t.url}/mcp/${tenant}`);
    await deploy("summarize", SUMMARIZE, SUMMARIZE_TOOL);
    await deploy("http-tool", HTTP_TOOL, { description: "A fetch handler as a tool" });
    await deploy("numbers", LIST_TOOL, { description: "Numbers" });
    await deploy("slow-job", JOB_TOOL, { description: "A job", mode: "job", waitMs: 20_000 });
    await deploy("slower-job", JOB_TOOL, { description: "A job that outlasts its wait", mode: "job", waitMs: 100 });
    await t.deploy("plain", "export default { fetch() { return new Response('not a tool') } }", undefined, tenant);
  });
  after(async () => { await t.close(); });

  test("tools/list (2026-07-28): the functions with a tool manifest, in name order, with their schemas", async () => {
    const client = await modern();
    assert.equal(client.getProtocolEra(), "modern");
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((tool) => tool.name), ["http-tool", "numbers", "slow-job", "slower-job", "summarize"]);
    const summarize = tools.find((tool) => tool.name === "summarize")!;
    assert.equal(summarize.description, "Summarize a text");
    assert.deepEqual(summarize.inputSchema, SUMMARIZE_TOOL.input);
    assert.deepEqual(summarize.outputSchema, SUMMARIZE_TOOL.output);
    assert.deepEqual(summarize.annotations, SUMMARIZE_TOOL.annotations);
    assert.deepEqual(tools.find((tool) => tool.name === "numbers")!.inputSchema, { type: "object" });
    await client.close();
  });

  test("tools/call runs the tool handler: structuredContent and text, the run and trace in _meta, a run of trigger mcp", async () => {
    const client = await modern();
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const result = await client.callTool({ name: "summarize", arguments: { text: "one two three four" }, _meta: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
    assert.equal(result.isError, undefined);
    assert.deepEqual(result.structuredContent, { summary: "one two th", words: 4 });
    assert.deepEqual(JSON.parse((result.content as Text[])[0].text), { summary: "one two th", words: 4 });
    const runId = result._meta?.["isobox/runId"] as string;
    assert.equal(result._meta?.["isobox/traceId"], traceId);
    const run = await runOf(runId);
    assert.equal(run.trigger, "mcp");
    assert.equal(run.status, "succeeded");
    assert.equal(run.traceId, traceId);
    assert.match(JSON.stringify(run.logs), /summarizing 18 characters/);
    const listed = await t.api("GET", `/api/tenants/${tenant}/runs?trigger=mcp`, undefined, key);
    assert.ok(listed.body.runs.some((r: { id: string }) => r.id === runId));
    await client.close();
  });

  test("arguments are checked against the input schema before anything runs; the text names the field", async () => {
    const client = await modern();
    const before = await t.api("GET", `/api/tenants/${tenant}/runs?function=summarize`, undefined, key);
    for (const [args, field] of [[{ text: 7 }, /text: must be string/], [{}, /required property 'text'/], [{ text: "x", extra: 1 }, /additional properties \(extra\)/]] as const) {
      const result = await client.callTool({ name: "summarize", arguments: args });
      assert.equal(result.isError, true);
      assert.match((result.content as Text[])[0].text, /^ERR_INVALID_ARGUMENTS: /);
      assert.match((result.content as Text[])[0].text, field);
      assert.equal(result._meta?.["isobox/code"], "ERR_INVALID_ARGUMENTS");
    }
    const afterwards = await t.api("GET", `/api/tenants/${tenant}/runs?function=summarize`, undefined, key);
    assert.equal(afterwards.body.runs.length, before.body.runs.length, "no run for refused arguments");
    await client.close();
  });

  test("a throwing tool, a non-2xx answer and an unknown tool", async () => {
    const client = await modern();
    const threw = await client.callTool({ name: "summarize", arguments: { text: "x", fail: "<script>" } });
    assert.equal(threw.isError, true);
    assert.match((threw.content as Text[])[0].text, /^ERR_FUNCTION_THREW: .*the model refused: <script>/);
    assert.equal(threw._meta?.["isobox/code"], "ERR_FUNCTION_THREW");
    const run = await runOf(threw._meta?.["isobox/runId"] as string);
    assert.equal(run.status, "failed");
    const status = await client.callTool({ name: "http-tool", arguments: { status: 418 } });
    assert.equal(status.isError, true);
    assert.match((status.content as Text[])[0].text, /^ERR_TOOL_STATUS: The function answered 418: not today/);
    await assert.rejects(client.callTool({ name: "no-such-tool", arguments: {} }), (error: { code?: number }) => error.code === -32602);
    await assert.rejects(client.callTool({ name: "plain", arguments: {} }), (error: { code?: number }) => error.code === -32602);
    await client.close();
  });

  test("without a tool handler the fetch handler gets POST / with the arguments as JSON", async () => {
    const client = await modern();
    const json = await client.callTool({ name: "http-tool", arguments: { a: 1 } });
    assert.deepEqual(json.structuredContent, { got: { a: 1 }, method: "POST", path: "/" });
    const text = await client.callTool({ name: "http-tool", arguments: { text: "hi" } });
    assert.deepEqual(text.content, [{ type: "text", text: "plain hi" }]);
    assert.equal(text.structuredContent, undefined);
    await client.close();
  });

  test("2025 era (the 1.x SDK, stateless initialize): list and call; a non-object value is wrapped as {value}", async () => {
    const client = await legacy();
    assert.equal(client.getServerVersion()?.name, "isobox");
    const { tools } = await client.listTools();
    assert.equal(tools.length, 5);
    assert.equal(tools.find((tool) => tool.name === "slow-job")!.execution?.taskSupport, "optional");
    const result = await client.callTool({ name: "summarize", arguments: { text: "a b" } });
    assert.deepEqual(result.structuredContent, { summary: "a b", words: 2 });
    const numbers = await client.callTool({ name: "numbers", arguments: { n: 9 } });
    assert.deepEqual(numbers.structuredContent, { value: [1, 2, 9] });
    assert.equal((numbers.content as Text[])[0].text, "[1,2,9]");
    const bad = await client.callTool({ name: "summarize", arguments: { text: false } });
    assert.equal(bad.isError, true);
    const modernNumbers = await (await modern()).callTool({ name: "numbers", arguments: {} });
    assert.deepEqual(modernNumbers.structuredContent, [1, 2, 3], "the 2026 era carries any JSON value");
    await client.close();
  });

  test("a deploy, a rollback and a delete change tools/list at once; 2026 listeners hear tools/list_changed", async () => {
    const heard: string[][] = [];
    const client = await modern(key, { listChanged: { tools: { onChanged: (_error: unknown, tools: { name: string }[] | null) => { if (tools) heard.push(tools.map((tool) => tool.name)); } } } } as never);
    await deploy("added", LIST_TOOL, { description: "Added later" });
    assert.ok((await client.listTools()).tools.some((tool) => tool.name === "added"));
    await eventually("a tools/list_changed notification", async () => heard.some((names) => names.includes("added")));
    await deploy("added", "export default { fetch() { return new Response('no tool now') } }", undefined);
    assert.ok(!(await client.listTools()).tools.some((tool) => tool.name === "added"), "the new version has no tool");
    const back = await t.api("POST", `/api/tenants/${tenant}/functions/added/rollback`, { version: 1 });
    assert.equal(back.status, 200, JSON.stringify(back.body));
    assert.ok((await client.listTools()).tools.some((tool) => tool.name === "added"), "rolled back to the tool");
    assert.equal((await t.api("DELETE", `/api/tenants/${tenant}/functions/added`)).status, 200);
    assert.ok(!(await client.listTools()).tools.some((tool) => tool.name === "added"));
    await client.close();
  });

  test("credentials: none or unknown is 401 with WWW-Authenticate, a query token is not one, another tenant's key is 403, the admin reaches all", async () => {
    const initialize = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "curl", version: "1" } } };
    const post = (headers: Record<string, string>, url = mcpUrl.href) => fetch(url, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers }, body: JSON.stringify(initialize) });
    for (const response of [await post({}), await post({ authorization: "Bearer isk_unknown" }), await post({}, `${mcpUrl.href}?token=${key}`)]) {
      assert.equal(response.status, 401);
      assert.equal(response.headers.get("www-authenticate"), 'Bearer realm="isobox"');
      assert.equal((await json(response)).error.code, "ERR_UNAUTHORIZED");
    }
    const other = await t.tenant();
    const forbidden = await post({ authorization: `Bearer ${other.apiKey}` });
    assert.equal(forbidden.status, 403);
    assert.equal((await json(forbidden)).error.code, "ERR_FORBIDDEN");
    await assert.rejects(modern(other.apiKey));
    const admin = await modern(t.admin);
    assert.equal((await admin.listTools()).tools.length, 5);
    await admin.close();
    const missing = await fetch(`${t.url}/mcp/no-such-tenant`, { method: "POST", headers: { authorization: `Bearer ${t.admin}`, "content-type": "application/json" }, body: JSON.stringify(initialize) });
    assert.equal(missing.status, 404);
  });

  test("Origin: the node's own and ISOBOX_MCP_ORIGINS pass, any other is 403; no OAuth metadata is published", async () => {
    const post = (origin: string) => fetch(mcpUrl, { method: "POST", headers: { origin, authorization: `Bearer ${key}`, "content-type": "application/json", accept: "application/json, text/event-stream" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "page", version: "1" } } }) });
    const evil = await post("https://evil.example");
    assert.equal(evil.status, 403);
    assert.match((await json(evil)).error.message, /ISOBOX_MCP_ORIGINS/);
    assert.equal((await post("null")).status, 403);
    assert.equal((await post(t.url)).status, 200);
    assert.equal((await post("https://agent.example")).status, 200);
    for (const path of ["/.well-known/oauth-protected-resource", `/.well-known/oauth-protected-resource/mcp/${tenant}`, "/.well-known/oauth-authorization-server"]) {
      assert.equal((await fetch(t.url + path)).status, 404, path);
    }
  });

  test("a job-mode tool through a 2025 task: created, polled and its result fetched; the task is the job", async () => {
    const client = await legacy();
    const seen: string[] = [];
    let taskId = "";
    let result: { structuredContent?: unknown; _meta?: Record<string, unknown> } | undefined;
    for await (const message of client.experimental.tasks.callToolStream({ name: "slow-job", arguments: { n: 5, ms: 300 } }, undefined, { task: { ttl: 60_000 } } as never)) {
      seen.push(message.type);
      if (message.type === "taskCreated") taskId = message.task.taskId;
      if (message.type === "result") result = message.result as typeof result;
      if (message.type === "error") assert.fail(JSON.stringify(message.error));
    }
    assert.equal(seen[0], "taskCreated");
    assert.equal(seen.at(-1), "result");
    assert.deepEqual(result!.structuredContent, { done: 5 });
    assert.equal(result!._meta?.["isobox/jobId"], taskId);
    const job = await t.api("GET", `/api/tenants/${tenant}/jobs/${taskId}`, undefined, key);
    assert.equal(job.body.status, "succeeded");
    assert.equal(job.body.trigger, "mcp");
    const task = await client.experimental.tasks.getTask(taskId);
    assert.equal(task.status, "completed");
    // Cancelling: a long job, cancelled through the task.
    const created = await client.request({ method: "tools/call", params: { name: "slow-job", arguments: { ms: 10_000 }, task: { ttl: 60_000 } } } as never, (await import("@modelcontextprotocol/sdk/types.js")).CreateTaskResultSchema);
    const cancelled = await client.experimental.tasks.cancelTask(created.task.taskId);
    assert.equal(cancelled.status, "cancelled");
    assert.equal((await t.api("GET", `/api/tenants/${tenant}/jobs/${created.task.taskId}`, undefined, key)).body.status, "cancelled");
    await assert.rejects(client.experimental.tasks.getTask("not-a-task"));
    await client.close();
  });

  test("a job-mode tool through a 2026 task (the ext-tasks client): a task handle, then its result from tasks/get", async () => {
    const client = await modern();
    let id = 1000;
    const session = createTaskSessionFromClient(client, {
      endpointId: "isobox-test",
      rawDispatch: async (request: { method: string; params?: { name?: string; taskId?: string } }) => {
        const response = await fetch(mcpUrl, {
          method: "POST",
          headers: {
            authorization: `Bearer ${key}`, "content-type": "application/json", accept: "application/json, text/event-stream",
            "mcp-protocol-version": "2026-07-28", "mcp-method": request.method, ...(request.params?.name ?? request.params?.taskId ? { "mcp-name": request.params?.name ?? request.params?.taskId } : {}),
          },
          body: JSON.stringify({ jsonrpc: "2.0", id: id++, ...request }),
        });
        return response.json();
      },
      v2RequestFraming: { protocolVersion: "2026-07-28", clientInfo: { name: "isobox-test", version: "1.0.0" }, clientCapabilities: {} },
    } as never);
    const execution = await session.callTool("slow-job", { n: 7 });
    const { outcome } = await execution.settle();
    const result = resultFromTaskOutcome(outcome) as { structuredContent?: unknown; _meta?: Record<string, unknown> };
    assert.deepEqual(result.structuredContent, { done: 7 });
    const jobId = result._meta?.["isobox/jobId"] as string;
    assert.equal((await t.api("GET", `/api/tenants/${tenant}/jobs/${jobId}`, undefined, key)).body.trigger, "mcp");
    assert.ok(result._meta?.["isobox/runId"], "the attempt's run");
    await session.close();
    await client.close();
  });

  test("without tasks: the result when the job ends within waitMs (with progress), else its jobId, status and statusUrl", async () => {
    const client = await modern();
    const progress: unknown[] = [];
    const done = await client.callTool({ name: "slow-job", arguments: { n: 3 } }, { onprogress: (p: unknown) => progress.push(p) } as never);
    assert.deepEqual(done.structuredContent, { done: 3 });
    assert.ok(progress.length >= 1, "progress notifications while the job ran");
    const failed = await client.callTool({ name: "slow-job", arguments: { fail: true } });
    assert.equal(failed.isError, true);
    assert.match((failed.content as Text[])[0].text, /ERR_FUNCTION_THREW: .*failed on purpose/);
    const pending = await client.callTool({ name: "slower-job", arguments: { ms: 3_000 } });
    const status = pending.structuredContent as { jobId: string; status: string; statusUrl: string };
    assert.ok(["queued", "running"].includes(status.status));
    assert.equal(status.statusUrl, `${t.url}/api/tenants/${tenant}/jobs/${status.jobId}`);
    assert.match((pending.content as Text[])[0].text, new RegExp(status.jobId));
    const job = await fetch(status.statusUrl, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(job.status, 200);
    await client.close();
  });

  test("hostile arguments and ids: 100,000-deep JSON, a NUL, over 1 MiB, a task id that is no UUID; nothing runs and nothing of the host shows", async () => {
    const post = async (body: string) => {
      const response = await fetch(mcpUrl, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json", accept: "application/json, text/event-stream" }, body });
      assert.equal(response.status, 200);
      const text = await response.text();
      return JSON.parse(text.startsWith("event:") ? text.slice(text.indexOf("data: ") + 6) : text);
    };
    const runsBefore = (await t.api("GET", `/api/tenants/${tenant}/runs?function=summarize&limit=100`, undefined, key)).body.runs.length;
    const deep = "[".repeat(100_000) + "]".repeat(100_000);
    for (const [name, args, code] of [
      ["summarize", `{"text":"x","fail":${deep}}`, "ERR_BAD_REQUEST"],
      ["slow-job", `{"n":${deep}}`, "ERR_BAD_REQUEST"],
      ["slow-job", JSON.stringify({ n: "a\u0000b" }), "ERR_BAD_REQUEST"],
      ["slow-job", `{"n":"\\ud800"}`, "ERR_BAD_REQUEST"],
      ["summarize", JSON.stringify({ text: "x".repeat(1_100_000) }), "ERR_BODY_TOO_LARGE"],
    ] as const) {
      const answer = await post(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"${name}","arguments":${args}}}`);
      assert.equal(answer.result?.isError, true, JSON.stringify(answer).slice(0, 300));
      assert.equal(answer.result._meta["isobox/code"], code);
      assert.match(answer.result.content[0].text, /arguments/);
    }
    const runsAfter = (await t.api("GET", `/api/tenants/${tenant}/runs?function=summarize&limit=100`, undefined, key)).body.runs.length;
    assert.equal(runsAfter, runsBefore, "no run for refused arguments");
    const jobs = await t.api("GET", `/api/tenants/${tenant}/jobs?function=slow-job&status=queued`, undefined, key);
    assert.equal(jobs.body.jobs.length, 0, "no job for refused arguments");
    for (const taskId of ["\u0000", "x".repeat(90), "'; select 1 --"]) {
      const answer = await post(JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tasks/get", params: { taskId } }));
      assert.equal(answer.error?.code, -32602, JSON.stringify(answer));
      assert.equal(answer.error.message, `No task ${JSON.stringify(taskId)}`, "nothing of the host shows");
    }
  });

  test("deploy refuses a tool whose schema cannot be used or whose handler is missing", async () => {
    const cases: [unknown, string, RegExp][] = [
      [{ description: "x", input: { type: "object", properties: { a: { type: "string", pattern: "(a)\\1" } } } }, JOB_TOOL.replace("job(", "tool("), /backreferences/],
      [{ description: "x", input: { type: "strin" } }, LIST_TOOL, /input/],
      [{ description: "x", output: { type: "array" } }, LIST_TOOL, /output/],
      [{ description: "x", mode: "job" }, LIST_TOOL, /needs a job handler/],
      [{ description: "x" }, "export default { job() {} }", /needs a tool handler/],
    ];
    for (const [tool, code, message] of cases) {
      const refused = await t.api("PUT", `/api/tenants/${tenant}/functions/refused`, { code, manifest: { tool } });
      assert.equal(refused.status, 400, JSON.stringify(refused.body));
      assert.equal(refused.body.error.code, "ERR_INVALID_MANIFEST");
      assert.match(refused.body.error.message, message);
    }
  });

  test("quotas apply: over the tenant's requests per second a call is an isError ERR_RATE_LIMITED", async () => {
    const limited = await t.tenant();
    await deploy("summarize", SUMMARIZE, SUMMARIZE_TOOL, limited.name);
    assert.equal((await t.api("PATCH", `/api/tenants/${limited.name}`, { quotas: { requestsPerSecond: 1 } })).status, 200);
    const client = new Client({ name: "q", version: "1" }, { versionNegotiation: { mode: { pin: "2026-07-28" } } });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${t.url}/mcp/${limited.name}`), { requestInit: { headers: { authorization: `Bearer ${limited.apiKey}` } } }));
    const results = await Promise.all([1, 2, 3, 4].map(() => client.callTool({ name: "summarize", arguments: { text: "q" } })));
    assert.ok(results.some((r) => r._meta?.["isobox/code"] === "ERR_RATE_LIMITED"), JSON.stringify(results));
    await client.close();
  });

  test("/metrics counts the calls by outcome", async () => {
    const text = await (await fetch(`${t.url}/metrics`)).text();
    const count = (outcome: string) => Number(new RegExp(`^isobox_mcp_calls_total\\{outcome="${outcome}"\\} (\\d+)$`, "m").exec(text)?.[1] ?? 0);
    assert.ok(count("ok") >= 5, text.slice(0, 200));
    assert.ok(count("error") >= 3);
    assert.ok(count("task") >= 2, "the 2025 and 2026 tasks");
    assert.ok(count("pending") >= 1, "the job that outlasted its wait");
  });
});

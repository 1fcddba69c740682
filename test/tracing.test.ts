// Traces: with OTEL_EXPORTER_OTLP_ENDPOINT set, spans for the request, the isolate call, the
// guest's fetch, each step, the job attempt and its queue wait reach an OTLP receiver (here a
// loopback one speaking http/json), with correct parent links and an incoming traceparent continued.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { startBox, type TestBox } from "./helpers/box.ts";
import { waitForJob, waitForRuns } from "./helpers/wait.ts";

interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: Record<string, unknown> }[];
  status?: { code?: number; message?: string };
}

/** An OTLP/JSON attribute's value (stringValue, intValue as a string, boolValue, doubleValue). */
function attribute(span: Span | undefined, key: string): unknown {
  const value = span?.attributes?.find((a) => a.key === key)?.value;
  return value && Object.values(value)[0];
}

const spans: Span[] = [];
const seenTraceparents: string[] = [];
let receiver: Server;
let stub: Server;
let t: TestBox;

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

before(async () => {
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => { body += chunk; });
    req.on("end", () => {
      assert.equal(req.url, "/v1/traces");
      for (const resource of JSON.parse(body).resourceSpans ?? []) {
        for (const scope of resource.scopeSpans ?? []) spans.push(...scope.spans);
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  stub = createServer((req, res) => {
    seenTraceparents.push(String(req.headers.traceparent));
    res.end("pong");
  });
  const receiverPort = await listen(receiver);
  const stubPort = await listen(stub);
  t = await startBox({
    otelEndpoint: `http://127.0.0.1:${receiverPort}`,
    otelProtocol: "http/json",
    egressAllowPrivate: `127.0.0.1:${stubPort}`,
    jobPollMs: 50,
  });
  await t.deploy("traced", `export default {
    async fetch() { return new Response(await (await fetch("http://127.0.0.1:${stubPort}/ping")).text()); },
    async job(payload, env, ctx) {
      const a = await ctx.step.run("first", () => 1);
      return ctx.step.run("second", async () => (await fetch("http://127.0.0.1:${stubPort}/job")).status + a);
    },
  }`, { routes: { auth: "public" }, fetch: { allow: [`127.0.0.1:${stubPort}`] } }, "default");
  await t.api("PUT", "/api/tenants/default/secrets/KEY", { value: "sk-span-secret-1234" });
  await t.deploy("spanned", `export default {
    async fetch(request, env, ctx) {
      ctx.setAttribute("agent.model", "small-1");
      const answer = await ctx.span("plan", async (plan) => {
        plan.setAttribute("plan.queries", 2);
        await plan.span("rank", () => "ranked", { "rank.top": 3, "rank.secret": env.KEY });
        return "planned";
      }, { "plan.kind": "search" });
      const failed = await ctx.span("parse", () => { throw new TypeError("bad json"); }).catch((error) => error.message);
      let refused = "";
      try { ctx.setAttribute("isobox.tenant", "other"); } catch (error) { refused = error.message; }
      let tooLong = "";
      try { ctx.setAttribute("long", "x".repeat(1001)); } catch (error) { tooLong = error.message; }
      return Response.json({ answer, failed, refused, tooLong });
    },
  }`, { routes: { auth: "public" }, secrets: ["KEY"] }, "default");
});
after(async () => {
  await t.close();
  receiver.close();
  stub.close();
});

async function exported(check: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 100));
}

test("an HTTP call continues the caller's trace: request → isolate call → fetch, and the fetch's span goes out as traceparent", async () => {
  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  const callerSpan = "00f067aa0ba902b7";
  const response = await fetch(`${t.url}/fn/default/traced`, { headers: { traceparent: `00-${traceId}-${callerSpan}-01` } });
  assert.equal(await response.text(), "pong");
  await exported(() => spans.some((s) => s.traceId === traceId && s.name.startsWith("fetch")));
  const mine = spans.filter((s) => s.traceId === traceId);
  const request = mine.find((s) => s.name === "GET /fn/default/traced");
  const invoke = mine.find((s) => s.name === "invoke traced fetch");
  const out = mine.find((s) => s.name === "fetch GET");
  assert.ok(request && invoke && out, JSON.stringify(mine.map((s) => s.name)));
  assert.equal(request.parentSpanId, callerSpan);
  assert.equal(invoke.parentSpanId, request.spanId);
  assert.equal(out.parentSpanId, invoke.spanId);
  assert.ok(seenTraceparents.includes(`00-${traceId}-${out.spanId}-01`), JSON.stringify(seenTraceparents));
  // The run records the same trace id.
  let runs: any[] = [];
  runs = await waitForRuns(t.api, "default", "function=traced&trigger=http", (found) => found.some((r) => r.traceId === traceId));
  assert.ok(runs.some((r) => r.traceId === traceId));
});

test("a job attempt: queue wait and attempt spans in the job's trace, the steps and the fetch under the isolate call", async () => {
  const { id } = (await t.api("POST", "/api/tenants/default/functions/traced/jobs", {})).body;
  let job: any;
  job = await waitForJob(t.api, "default", id, (found) => found.status === "succeeded");
  assert.equal(job.status, "succeeded");
  await exported(() => spans.some((s) => s.name === "step second" && spans.some((a) => a.spanId === s.parentSpanId)));
  const attempt = spans.find((s) => s.name === "job traced attempt 1");
  assert.ok(attempt, JSON.stringify(spans.map((s) => s.name)));
  const trace = spans.filter((s) => s.traceId === attempt.traceId);
  const wait = trace.find((s) => s.name === "queue wait");
  const invoke = trace.find((s) => s.name === "invoke traced job");
  assert.ok(wait && invoke);
  assert.match(attempt.parentSpanId ?? "", /^[0-9a-f]{16}$/, "the attempt hangs off the job's trace");
  assert.equal(wait.parentSpanId, attempt.parentSpanId, "the wait and the attempt hang off the job's trace");
  assert.equal(invoke.parentSpanId, attempt.spanId);
  for (const name of ["step first", "step second", "fetch GET"]) {
    assert.equal(trace.find((s) => s.name === name)?.parentSpanId, invoke.spanId, name);
  }
});

test("guest code adds attributes and child spans through ctx: nested under the isolate call, failures marked, secrets redacted", async () => {
  const traceId = "5bf92f3577b34da6a3ce929d0e0e4737";
  const response = await fetch(`${t.url}/fn/default/spanned`, { headers: { traceparent: `00-${traceId}-00f067aa0ba902b8-01` } });
  assert.deepEqual(await response.json(), { answer: "planned", failed: "bad json", refused: `Span attribute "isobox.tenant": keys starting with "isobox." are the platform's`, tooLong: `Span attribute "long": a string value may hold at most 1000 characters` });
  await exported(() => ["plan", "rank", "parse"].every((name) => spans.some((s) => s.traceId === traceId && s.name === name)));
  const mine = spans.filter((s) => s.traceId === traceId);
  const invoke = mine.find((s) => s.name === "invoke spanned fetch");
  const plan = mine.find((s) => s.name === "plan");
  const rank = mine.find((s) => s.name === "rank");
  const parse = mine.find((s) => s.name === "parse");
  assert.ok(invoke && plan && rank && parse, JSON.stringify(mine.map((s) => s.name)));
  assert.equal(attribute(invoke, "agent.model"), "small-1");
  assert.equal(attribute(invoke, "isobox.tenant"), "default", "the platform's attribute stays");
  assert.equal(plan.parentSpanId, invoke.spanId);
  assert.equal(rank.parentSpanId, plan.spanId);
  assert.equal(parse.parentSpanId, invoke.spanId);
  assert.equal(attribute(plan, "plan.kind"), "search");
  assert.equal(Number(attribute(plan, "plan.queries")), 2);
  assert.equal(Number(attribute(rank, "rank.top")), 3);
  assert.equal(attribute(rank, "rank.secret"), "[secret]");
  assert.equal(parse.status?.code, 2, "a throw marks the span as an error");
  assert.equal(parse.status?.message, "TypeError: bad json");
  assert.notEqual(plan.status?.code, 2);
});

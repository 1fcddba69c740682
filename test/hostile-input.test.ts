// Hostile input: text Postgres cannot store (NUL, lone surrogates) and values without bounds
// (100,000-deep JSON, huge sizes, integers past Postgres' range), from callers and from guests.
// Callers get a 4xx naming the field; what a guest produces is made storable; a batched write
// never loses another tenant's data to one bad value; and none of it logs a host stack.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startBox, type TestBox } from "./helpers/box.ts";
import { call, outcome, sleep } from "./helpers/http.ts";
import { startNode } from "./helpers/process.ts";
import { waitForJob, waitForRuns } from "./helpers/wait.ts";

const PUBLIC = { auth: "public" };
const DEEP = "[".repeat(100_000) + "]".repeat(100_000);

let t: TestBox;
let tenant: string;

before(async () => {
  t = await startBox();
  tenant = (await t.tenant()).name;
  await t.deploy("worker", `export default {
    async fetch() { return new Response("ok"); },
    async job(payload) { return payload; },
  };`, { routes: PUBLIC }, tenant);
});

after(async () => {
  await t?.close();
});

/** A raw request to the API with the admin token. */
async function raw(method: string, path: string, body?: string): Promise<{ status: number; body: any }> {
  const response = await fetch(t.url + path, { method, headers: { authorization: `Bearer ${t.admin}`, "content-type": "application/json" }, body });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

function refused(answer: { status: number; body: any }, status: number, field: string): void {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.equal(answer.body.error.field, field, JSON.stringify(answer.body));
  assert.ok(answer.body.error.message.startsWith(`${field}:`), answer.body.error.message);
}

describe("callers: refused at the edge, naming the field", () => {
  const jobs = () => `/api/tenants/${tenant}/functions/worker/jobs`;

  test("a payload with a NUL, a lone surrogate, in a value or a key: 400 naming where", async () => {
    refused(await raw("POST", jobs(), '{"payload":{"a":"x\\u0000y"}}'), 400, "body.payload.a");
    refused(await raw("POST", jobs(), '{"payload":{"list":[1,"\\ud800"]}}'), 400, "body.payload.list.1");
    refused(await raw("POST", jobs(), '{"payload":{"k\\udfff":1}}'), 400, "body.payload");
    refused(await raw("POST", jobs(), '{"payload":"ok","key":"a\\u0000b"}'), 400, "body.key");
  });

  test("JSON 100,000 levels deep in a payload, a manifest's tool input and a schedule payload: 400", async () => {
    refused(await raw("POST", jobs(), `{"payload":${DEEP}}`), 400, `body.payload${".0".repeat(99)}`);
    const deep = `{"code":"export default { fetch() { return new Response(); } }","manifest":{"tool":{"description":"d","input":{"x":${DEEP}}}}}`;
    const deploy = await raw("PUT", `/api/tenants/${tenant}/functions/deep-tool`, deep);
    assert.equal(deploy.status, 400);
    assert.match(deploy.body.error.message, /^body\.manifest\.tool\.input\.x(\.0)+: nests deeper than 100 levels/);
  });

  test("a schedule payload over 1 MiB, like any job's: 400 ERR_INVALID_MANIFEST naming it", async () => {
    const manifest = { schedules: [{ cron: "0 0 * * *", payload: { blob: "x".repeat(1.5 * 1024 * 1024) } }] };
    const deploy = await t.api("PUT", `/api/tenants/${tenant}/functions/big-schedule`, { code: "export default { scheduled() {} }", manifest });
    assert.equal(deploy.status, 400);
    assert.equal(deploy.body.error.code, "ERR_INVALID_MANIFEST");
    assert.match(deploy.body.error.message, /^manifest\.schedules\.0\.payload: larger than 1048576 bytes/);
  });

  test("a NUL in the code, a manifest string or through box.deploy: refused, nothing deployed", async () => {
    const code = await t.api("PUT", `/api/tenants/${tenant}/functions/nul-code`, { code: "export default { fetch() { return new Response('a\u0000b'); } }" });
    refused(code, 400, "body.code");
    const described = await t.api("PUT", `/api/tenants/${tenant}/functions/nul-manifest`, { code: "export default { fetch() { return new Response(); } }", manifest: { tool: { description: "a\u0000b" } } });
    refused(described, 400, "body.manifest.tool.description");
    await assert.rejects(t.box.deploy(tenant, "nul-embedded", { code: "export default { fetch() { return new Response(); } }", manifest: { tool: { description: "\ud800" } } }),
      (error: any) => error.code === "ERR_INVALID_MANIFEST" && /^manifest\.tool\.description: holds a NUL character or a lone surrogate/.test(error.message));
    const listed = await t.api("GET", `/api/tenants/${tenant}/functions`);
    assert.deepEqual(listed.body.functions.map((fn: any) => fn.name).filter((name: string) => name.startsWith("nul-")), []);
  });

  test("integers past Postgres' range: rollback to 2^31 and quotas past their bounds are 400s", async () => {
    refused(await t.api("POST", `/api/tenants/${tenant}/functions/worker/rollback`, { version: 2 ** 31 }), 400, "body.version");
    refused(await t.api("PATCH", `/api/tenants/${tenant}`, { quotas: { functions: 2 ** 53 } }), 400, "body.quotas.functions");
  });

  test("a NUL or broken UTF-8 in a path id, a query value or a cursor: 400 naming the part", async () => {
    refused(await raw("GET", `/api/tenants/${tenant}/jobs/abc%00def`), 400, "path");
    refused(await raw("GET", `/api/tenants/${tenant}/jobs/%ED%A0%80`), 400, "path");
    refused(await raw("GET", `/api/tenants/${tenant}/runs?function=a%00b`), 400, "query.function");
    const cursor = Buffer.from(`${new Date().toISOString()}|a\u0000b`).toString("base64url");
    refused(await raw("GET", `/api/tenants/${tenant}/runs?cursor=${cursor}`), 400, "query.cursor");
    refused(await raw("GET", `/api/tenants/${tenant}/jobs?cursor=${"A".repeat(5000)}`), 400, "query.cursor");
    const hook = await fetch(`${t.url}/hooks/${tenant}/worker%00/x`, { method: "POST", body: "{}" });
    assert.equal(hook.status, 400);
    const fn = await call(`${t.url}/fn/${tenant}/work%00er`);
    assert.equal(outcome(fn), "404 ERR_NOT_FOUND");
  });

  test("schedules per tenant are bounded: a deploy past the quota is 403 naming manifest.schedules", async () => {
    const { name } = await t.tenant();
    assert.equal((await t.api("PATCH", `/api/tenants/${name}`, { quotas: { schedules: 3 } })).status, 200);
    const schedules = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `s${i}`, cron: "0 0 * * *" }));
    const code = "export default { scheduled() {} }";
    assert.equal((await t.api("PUT", `/api/tenants/${name}/functions/a`, { code, manifest: { schedules: schedules(2) } })).status, 201);
    const over = await t.api("PUT", `/api/tenants/${name}/functions/b`, { code, manifest: { schedules: schedules(2) } });
    assert.equal(over.status, 403);
    assert.equal(over.body.error.code, "ERR_QUOTA_EXCEEDED");
    assert.equal(over.body.error.field, "manifest.schedules");
    // Redeploying a within its share is fine: its own schedules are not counted twice.
    assert.equal((await t.api("PUT", `/api/tenants/${name}/functions/a`, { code, manifest: { schedules: schedules(3) } })).status, 201);
  });
});

describe("guests: refused with a TypeError they can read, or made storable", () => {
  test("ctx.enqueue with a NUL, a lone surrogate, 100,000-deep JSON or a NUL key: TypeErrors naming the payload and key", async () => {
    const url = await t.deploy("enqueuer", `export default {
      async fetch(request, env, ctx) {
        const attempt = async (payload, options) => { try { await ctx.enqueue(payload, options); return "enqueued"; } catch (error) { return error.name + ": " + error.message; } };
        let deep = []; for (let i = 0; i < 100000; i++) deep = [deep];
        return Response.json({
          nul: await attempt({ a: "x\\u0000y" }),
          surrogate: await attempt("\\ud800"),
          deep: await attempt(deep),
          key: await attempt({}, { key: "a\\u0000b" }),
        });
      },
      async job() {},
    };`, { routes: PUBLIC, limits: { cpuMs: 5000 } });
    const answer = await call(url);
    assert.equal(answer.status, 200, answer.text);
    assert.match(answer.body.nul, /^TypeError: ctx.enqueue: the payload holds a NUL character or a lone surrogate/);
    assert.match(answer.body.surrogate, /^TypeError: ctx.enqueue: the payload holds a NUL character or a lone surrogate/);
    assert.match(answer.body.deep, /^TypeError: /);
    assert.match(answer.body.key, /^TypeError: ctx.enqueue: options.key: holds a NUL character/);
  });

  test("a job result and a step output with a lone surrogate and a NUL: stored as U+FFFD, other tenants' jobs of the same batch succeed", async () => {
    const hostile = await t.tenant();
    await t.deploy("odd", `export default { async job(payload, env, ctx) {
      const step = await ctx.step.run("s", () => ({ text: "a\\u0000b\\ud800c" }));
      return { result: "x\\ud800y\\u0000z", step };
    } };`, { routes: PUBLIC }, hostile.name);
    const others = await Promise.all(Array.from({ length: 30 }, (_, n) => t.api("POST", `/api/tenants/${tenant}/functions/worker/jobs`, { payload: { n } })));
    const odd = await t.api("POST", `/api/tenants/${hostile.name}/functions/odd/jobs`, { payload: null });
    const job = await waitForJob(t.api, hostile.name, odd.body.id);
    assert.equal(job.status, "succeeded", JSON.stringify(job.error));
    assert.deepEqual(job.result, { result: "x\ufffdy\ufffdz", step: { text: "a\ufffdb\ufffdc" } });
    for (const other of others) {
      const done = await waitForJob(t.api, tenant, other.body.id, (found) => found.status === "succeeded");
      assert.equal(typeof done.result.n, "number");
    }
  });

  test("a job result 100,000 levels deep fails that job with a clear error; the node goes on", async () => {
    const { name } = await t.tenant();
    await t.deploy("deep-result", `export default { async job() { let deep = []; for (let i = 0; i < 100000; i++) deep = [deep]; return deep; } };`, { routes: PUBLIC, limits: { cpuMs: 5000 } }, name);
    const enqueued = await t.api("POST", `/api/tenants/${name}/functions/deep-result/jobs`, { payload: null, maxAttempts: 1 });
    const job = await waitForJob(t.api, name, enqueued.body.id, (found) => found.status === "failed");
    assert.match(job.error.message, /nests deeper than 100 levels|not JSON-serialisable/);
  });

  test("log lines and fields with NUL and lone surrogates, cut inside a pair: recorded, and so are other tenants' runs of the same batch", async () => {
    const hostile = await t.tenant();
    const odd = await t.deploy("odd-logs", `export default { async fetch() {
      console.log("nul \\u0000 and \\ud800 alone", { key: "v\\u0000", ["k\\udc00"]: 1 });
      console.log("x".repeat(16 * 1024 - 1) + "\\u{1F600}");
      throw new Error("error with \\u0000 and \\udfff");
    } };`, { routes: PUBLIC }, hostile.name);
    const plain = await t.deploy("plain-logs", `export default { async fetch() { console.log("plain line"); return new Response("ok"); } };`, { routes: PUBLIC });
    const plainTenant = new URL(plain).pathname.split("/")[2];
    await Promise.all([call(odd), ...Array.from({ length: 20 }, () => call(plain))]);
    const runs = await waitForRuns(t.api, plainTenant, "function=plain-logs", (found) => found.length === 20);
    const one = await t.api("GET", `/api/tenants/${plainTenant}/runs/${runs[0].id}`);
    assert.deepEqual(one.body.logs.map((line: any) => line.message), ["plain line"]);
    const oddRuns = await waitForRuns(t.api, hostile.name, "function=odd-logs", (found) => found.length === 1);
    const run = await t.api("GET", `/api/tenants/${hostile.name}/runs/${oddRuns[0].id}`);
    assert.equal(run.body.status, "failed");
    assert.equal(run.body.logs[0].message, "nul \ufffd and \ufffd alone");
    assert.deepEqual(run.body.logs[0].fields, { key: "v\ufffd", ["k\ufffd"]: 1 });
    assert.equal(run.body.logs[1].message, "x".repeat(16 * 1024 - 1));
    assert.match(run.body.error.message, /error with \ufffd and \ufffd/);
  });
});

test("a client's mistakes log no host stack", { timeout: 120_000 }, async () => {
  const node = await startNode();
  try {
    const headers = { authorization: `Bearer ${node.token}`, "content-type": "application/json" };
    const mistakes: Array<[string, string, string?]> = [
      ["POST", "/api/tenants/default/functions/none/jobs", '{"payload":{"a":"\\u0000"}}'],
      ["POST", "/api/tenants/default/functions/none/jobs", `{"payload":${DEEP}}`],
      ["GET", "/api/tenants/default/jobs/x%00y"],
      ["GET", `/api/tenants/default/runs?cursor=${Buffer.from("bad|a\u0000").toString("base64url")}`],
      ["POST", "/api/tenants/default/functions/none/rollback", `{"version":${2 ** 31}}`],
      ["PUT", "/api/tenants/default/functions/x", '{"code":"export default {"}'],
      ["PUT", "/api/tenants/default/secrets/NAME", "{not json"],
      ["GET", "/api/tenants/default/jobs?limit=99999999999999999999"],
    ];
    for (const [method, path, body] of mistakes) {
      const response = await fetch(node.url + path, { method, headers, body });
      assert.ok(response.status >= 400 && response.status < 500, `${method} ${path}: ${response.status} ${await response.text()}`);
    }
    await sleep(200);
    assert.doesNotMatch(node.output(), /\n\s+at |unexpected error/, node.output());
  } finally {
    await node.stop();
  }
});

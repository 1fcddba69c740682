// Hostile tenants against the boundaries a shared node must hold: the framing of what reaches a
// socket, memory outside the V8 heap, CPU that parked invocations would dilute, work left running
// after an invocation ended, and log floods. After each attack a bystander tenant's function still
// answers with its own secret, and its stored job is intact.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { startBox, type TestBox } from "./helpers/box.ts";
import { call, cpuWhileIdle, outcome, sleep } from "./helpers/http.ts";
import { parseResponses, pipelined, rawRequest } from "./helpers/raw-http.ts";
import { parseExposition, valueOf } from "./helpers/prometheus.ts";
import { eventually, waitForJob } from "./helpers/wait.ts";

const PUBLIC = { auth: "public" };

let t: TestBox;
let port: number;
const bystander = { tenant: "", url: "", jobId: "" };

before(async () => {
  t = await startBox({ egressAllowPrivate: "127.0.0.1:*" });
  port = Number(new URL(t.url).port);
  const { name } = await t.tenant();
  bystander.tenant = name;
  assert.equal((await t.api("PUT", `/api/tenants/${name}/secrets/BYSTANDER_KEY`, { value: "bystander-secret-value" })).status, 200);
  bystander.url = await t.deploy("bystander", `export default {
    async fetch(request, env) { return Response.json({ key: env.BYSTANDER_KEY }); },
    async job(payload) { return { kept: payload.n }; },
  };`, { routes: PUBLIC, secrets: ["BYSTANDER_KEY"] }, name);
  const enqueued = await t.api("POST", `/api/tenants/${name}/functions/bystander/jobs`, { payload: { n: 7 } });
  bystander.jobId = enqueued.body.id;
  await waitForJob(t.api, name, bystander.jobId, (job) => job.status === "succeeded");
});

after(async () => {
  await t?.close();
});

/** The bystander tenant is served as before: its own secret, its job's result. */
async function bystanderIntact(): Promise<void> {
  const answer = await call(bystander.url);
  assert.equal(outcome(answer), "200", answer.text);
  assert.deepEqual(answer.body, { key: "bystander-secret-value" });
  const job = await t.api("GET", `/api/tenants/${bystander.tenant}/jobs/${bystander.jobId}`);
  assert.equal(job.body.status, "succeeded");
  assert.deepEqual(job.body.result, { kept: 7 });
}

function pathOf(url: string): string {
  return new URL(url).pathname;
}

describe("response framing belongs to the host", () => {
  // Each case: headers the guest sets and the body it sends; a pipelined /healthz must be answered by the host.
  const cases: Array<[string, Record<string, string>, string]> = [
    ["a short content-length and a forged second response", { "content-length": "5" }, `hello${"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 13\r\n\r\n{\"ok\":\"evil\"}"}`],
    ["a zero content-length", { "content-length": "0" }, "HTTP/1.1 200 OK\r\ncontent-length: 13\r\n\r\n{\"ok\":\"evil\"}"],
    ["a long content-length that swallows the next response", { "content-length": "100000" }, "short"],
    ["transfer-encoding chunked with a forged last chunk", { "transfer-encoding": "chunked" }, "0\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 13\r\n\r\n{\"ok\":\"evil\"}"],
    ["transfer-encoding identity, gzip", { "transfer-encoding": "gzip, identity" }, "plain bytes"],
    ["connection: close", { connection: "close" }, "closing?"],
    ["connection: upgrade with upgrade: websocket", { connection: "upgrade", upgrade: "websocket" }, "not a websocket"],
    ["keep-alive, te, trailer, proxy-authenticate, proxy-connection", { "keep-alive": "timeout=1", te: "trailers", trailer: "x-late", "proxy-authenticate": "Basic", "proxy-connection": "close" }, "hop by hop"],
    ["a header the connection header names", { connection: "x-hop-secret", "x-hop-secret": "hidden" }, "nominated"],
  ];
  const url = { framing: "" };

  before(async () => {
    url.framing = await t.deploy("framing", `export default { async fetch(request) {
      const spec = JSON.parse(decodeURIComponent(new URL(request.url).searchParams.get("spec")));
      return new Response(spec.body, { status: 200, headers: spec.headers });
    } };`, { routes: PUBLIC });
  });

  for (const [label, headers, body] of cases) {
    test(`${label}: the guest's bytes are one response, the next request gets the host's answer`, async () => {
      const spec = encodeURIComponent(JSON.stringify({ headers, body }));
      const received = await pipelined(port, [rawRequest(`${pathOf(url.framing)}?spec=${spec}`), rawRequest("/healthz", { close: true })]);
      const responses = parseResponses(received);
      assert.equal(responses.length, 2, received);
      assert.equal(responses[0].status, 200);
      assert.equal(responses[0].body, body, "the whole body, framed by the host");
      assert.equal(responses[0].headers["content-length"], String(Buffer.byteLength(body, "latin1")));
      // Node's own keep-alive and connection headers may be there; none of the guest's framing is.
      for (const [name, value] of Object.entries(headers)) {
        if (name !== "content-length") assert.notEqual(responses[0].headers[name], value, name);
      }
      assert.equal(responses[0].headers["transfer-encoding"], undefined);
      assert.equal(responses[0].headers["x-hop-secret"], undefined);
      assert.equal(responses[1].status, 200);
      assert.deepEqual(JSON.parse(responses[1].body), { ok: true });
    });
  }

  test("a HEAD answered with the guest's content-length: the host frames it, the next request is answered", async () => {
    const spec = encodeURIComponent(JSON.stringify({ headers: { "content-length": "3" }, body: "HTTP/1.1 200 OK\r\n\r\n" }));
    const received = await pipelined(port, [rawRequest(`${pathOf(url.framing)}?spec=${spec}`, { method: "HEAD" }), rawRequest("/healthz", { close: true })]);
    const responses = parseResponses(received, ["HEAD", "GET"]);
    assert.equal(responses.length, 2, received);
    assert.deepEqual(JSON.parse(responses[1].body), { ok: true });
  });

  for (const [label, headers, statusText] of [
    ["a control character in a header value", { "x-bad": "a\u0001b" }, ""],
    ["a character past latin-1 in a header value", { "x-bad": "caf\u0100" }, ""],
    ["a DEL in a header value", { "x-bad": "a\u007fb" }, ""],
    ["a control character in the status text", {}, "OK\u0001"],
  ] as Array<[string, Record<string, string>, string]>) {
    test(`${label}: a JSON 500 ERR_FUNCTION_THREW, never Node's text/plain; the connection lives`, async () => {
      // The guest's own Headers or Response may refuse the value already: a throw is a 500 all the same.
      const deployed = await t.deploy(`bad-field-${Math.random().toString(36).slice(2, 8)}`, `export default { async fetch() {
        return new Response("x", { headers: ${JSON.stringify(headers)}, status: 200, statusText: ${JSON.stringify(statusText)} });
      } };`, { routes: PUBLIC });
      const received = await pipelined(port, [rawRequest(pathOf(deployed)), rawRequest("/healthz", { close: true })]);
      const responses = parseResponses(received);
      assert.equal(responses.length, 2, received);
      assert.equal(responses[0].status, 500, received);
      assert.match(responses[0].headers["content-type"], /application\/json/);
      assert.equal(JSON.parse(responses[0].body).error.code, "ERR_FUNCTION_THREW");
      assert.deepEqual(JSON.parse(responses[1].body), { ok: true });
    });
  }

  test("the bystander is intact", bystanderIntact);
});

describe("memory means all memory", () => {
  const limits = { memoryMb: 32, cpuMs: 20_000, wallMs: 30_000 };

  async function report(name: string, body: string): Promise<any> {
    const url = await t.deploy(name, `export default { async fetch() {\n${body}\n} };`, { routes: PUBLIC, limits });
    const answer = await call(url, { timeoutMs: 60_000 });
    assert.equal(outcome(answer), "200", answer.text);
    return answer.body;
  }

  test("WebAssembly and SharedArrayBuffer are not in the guest, by any path", async () => {
    const found = await report("no-wasm", `
      const attempt = (fn) => { try { return String(fn()); } catch (error) { return "threw " + error.name; } };
      return Response.json({
        global: typeof WebAssembly,
        indexed: typeof globalThis["Web" + "Assembly"],
        viaFunction: Function("return typeof WebAssembly")(),
        viaConstructor: (() => {}).constructor("return typeof WebAssembly")(),
        has: Reflect.has(globalThis, "WebAssembly"),
        memory: attempt(() => new WebAssembly.Memory({ initial: 4096 }).buffer.byteLength),
        sab: typeof SharedArrayBuffer,
        wait: attempt(() => Atomics.wait(new Int32Array(4), 0, 0, 10)),
        waitAsync: attempt(() => Atomics.waitAsync(new Int32Array(4), 0, 0, 10)),
      });`);
    assert.deepEqual(found, {
      global: "undefined", indexed: "undefined", viaFunction: "undefined", viaConstructor: "undefined", has: false,
      memory: "threw ReferenceError", sab: "undefined", wait: "threw TypeError", waitAsync: "threw TypeError",
    });
  });

  // Each of these grew the node by hundreds of MB to GB in a 32 MB function, outside the V8 heap.
  const attacks: Array<[string, string]> = [
    ["keeping 200,000 Intl.DateTimeFormat", `globalThis.kept = []; for (let i = 0; i < 200000; i++) kept.push(new Intl.DateTimeFormat("en-US", { timeZone: "Europe/Berlin", hour: "numeric" })); return Response.json({ made: kept.length, sample: kept[5].format(0) });`],
    ["making and dropping 100,000 Intl.DateTimeFormat", `let n = 0; for (let i = 0; i < 100000; i++) n += new Intl.DateTimeFormat("en-US", { timeZone: "Asia/Tokyo" }).format(0).length; return Response.json({ n });`],
    ["300,000 toLocaleString calls with options", `let n = 0; for (let i = 0; i < 300000; i++) n += new Date(i * 1000).toLocaleString("de-DE", { timeZone: "Europe/Berlin" }).length; return Response.json({ n });`],
    ["keeping 200,000 Intl.Collator and NumberFormat", `globalThis.kept = []; for (let i = 0; i < 100000; i++) kept.push(new Intl.Collator("de", { sensitivity: "base" }), new Intl.NumberFormat("en", { style: "currency", currency: "EUR" })); return Response.json({ made: kept.length });`],
    ["keeping 100,000 Intl.Segmenter segments", `const seg = new Intl.Segmenter("en", { granularity: "word" }); globalThis.kept = []; try { for (let i = 0; i < 100000; i++) kept.push(seg.segment("hello world " + i)); } catch (error) { return Response.json({ stopped: error.name }); } return Response.json({ made: kept.length });`],
    ["a new formatter for every time zone, kept", `globalThis.kept = []; const zones = Intl.supportedValuesOf("timeZone"); try { for (const timeZone of zones) kept.push(new Intl.DateTimeFormat("en", { timeZone, hour: "numeric", minute: "numeric" })); } catch (error) { return Response.json({ stopped: error.name, made: kept.length }); } return Response.json({ made: kept.length });`],
  ];
  for (const [label, body] of attacks) {
    test(`${label}: the node grows by less than the function's limit and a small constant`, async () => {
      globalThis.gc?.();
      const before = process.memoryUsage().rss;
      const url = await t.deploy(`off-heap-${Math.random().toString(36).slice(2, 8)}`, `export default { async fetch() {\n${body}\n} };`, { routes: PUBLIC, limits });
      const answer = await call(url, { timeoutMs: 60_000 });
      assert.match(outcome(answer), /^(200|503 ERR_MEMORY_LIMIT|500 ERR_FUNCTION_THREW)$/, answer.text);
      const grown = (process.memoryUsage().rss - before) / 2 ** 20;
      assert.ok(grown < limits.memoryMb + 64, `the node grew by ${grown.toFixed(0)} MiB (${answer.text.slice(0, 200)})`);
      await bystanderIntact();
    });
  }
});

describe("CPU limits cannot be diluted", () => {
  const limits = { memoryMb: 64, cpuMs: 50, wallMs: 20_000 };
  let url = "";
  let hold: Server;
  let holdUrl = "";
  before(async () => {
    // A loopback server that never answers: fetches to it park their invocations.
    hold = createServer(() => {});
    await new Promise<void>((resolve) => hold.listen(0, "127.0.0.1", resolve));
    holdUrl = `http://127.0.0.1:${(hold.address() as AddressInfo).port}/`;
    url = await t.deploy("dilute", `
      const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
      export default { async fetch(request, env, ctx) {
        const path = new URL(request.url).pathname;
        if (path === "/park") { ctx.waitUntil(new Promise(() => {})); return new Response("parked"); }
        if (path === "/park-fetch") { await fetch(${JSON.stringify(holdUrl)}); return new Response("never"); }
        if (path === "/park-timers") { ctx.waitUntil(new Promise(() => {})); setInterval(() => {}, 0); return new Response("parked with a timer"); }
        if (path === "/spin") { while (true) {} }
        if (path === "/spin-in-slices") { for (;;) { const until = Date.now() + 10; while (Date.now() < until) {} await sleep(0); } }
        if (path === "/spin-after-response") { ctx.waitUntil((async () => { await sleep(1); while (true) {} })()); return new Response("answered"); }
        return new Response("ok");
      } };`, { routes: PUBLIC, limits, fetch: { allow: [`127.0.0.1:${(hold.address() as AddressInfo).port}`] } });
  });
  after(() => {
    hold.closeAllConnections();
    hold.close();
  });

  for (const [park, spin] of [["/park", "/spin"], ["/park", "/spin-in-slices"], ["/park-fetch", "/spin"], ["/park-timers", "/spin-in-slices"]]) {
    test(`50 invocations at ${park}, then ${spin}: 503 ERR_CPU_LIMIT after about its own 50 ms`, async () => {
      const parked = Array.from({ length: 50 }, () => call(url + park, { timeoutMs: 30_000 }).catch(() => undefined));
      await sleep(300);
      const before = process.cpuUsage();
      const answer = await call(url + spin, { timeoutMs: 30_000 });
      const used = process.cpuUsage(before);
      assert.equal(outcome(answer), "503 ERR_CPU_LIMIT", answer.text);
      const cpuMs = (used.user + used.system) / 1000;
      // Charged in shares among 51 invocations in flight, the spin ran ~2.6 s.
      assert.ok(cpuMs < 1000, `the node used ${cpuMs.toFixed(0)} ms of CPU for a 50 ms limit`);
      // The parked ones failed with the isolate; the function answers again in a fresh one.
      await Promise.all(parked);
      assert.equal((await call(url + "/ok")).text, "ok");
      await bystanderIntact();
    });
  }

  test("work after the response is charged: a spin in waitUntil is stopped, and its run says so", async () => {
    const before = process.cpuUsage();
    const answer = await call(url + "/spin-after-response");
    assert.equal(answer.text, "answered");
    const tenant = pathOf(url).split("/")[2];
    let run: any;
    await eventually("a failed run after the response", async () => {
      const runs = await t.api("GET", `/api/tenants/${tenant}/runs?function=dilute&limit=50`);
      run = runs.body.runs.find((r: any) => r.status === "failed" && /After the response/.test(r.error?.message ?? ""));
      return run !== undefined;
    });
    const used = process.cpuUsage(before);
    assert.equal(run.error.code, "ERR_CPU_LIMIT");
    assert.ok((used.user + used.system) / 1000 < 1000);
    await bystanderIntact();
  });
});

describe("nothing runs after it is over", () => {
  test("twenty setInterval(0) left behind after a response stop with it, and are counted", async () => {
    const url = await t.deploy("intervals", `export default { async fetch() {
      for (let i = 0; i < 20; i++) setInterval(() => { let x = 0; for (let j = 0; j < 10000; j++) x += j; }, 0);
      setTimeout(() => console.log("a line after the response"), 5);
      return new Response("left timers behind");
    } };`, { routes: PUBLIC });
    const stoppedBefore = await stoppedWork();
    assert.equal((await call(url)).text, "left timers behind");
    const cpu = await cpuWhileIdle(1000);
    assert.ok(cpu < 300, `the node used ${cpu.toFixed(0)} ms of CPU in the second after the response`);
    assert.ok((await stoppedWork()) >= stoppedBefore + 20, "the intervals' pending timers were stopped and counted");
    const tenant = pathOf(url).split("/")[2];
    const runs = await t.api("GET", `/api/tenants/${tenant}/runs?function=intervals`);
    const run = await t.api("GET", `/api/tenants/${tenant}/runs/${runs.body.runs[0].id}`);
    assert.deepEqual(run.body.logs, [], "no line of a timer that outlived its invocation");
    await bystanderIntact();
  });

  test("a fetch left running after the response is cancelled: the server sees its request end", async () => {
    let closed!: () => void;
    const ended = new Promise<void>((resolve) => { closed = resolve; });
    const server = createServer((request) => request.socket.on("close", closed));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const target = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const url = await t.deploy("dangling-fetch", `export default { async fetch() {
        fetch("http://${target}/slow").catch(() => {});
        await new Promise((resolve) => setTimeout(resolve, 50));
        return new Response("answered");
      } };`, { routes: PUBLIC, fetch: { allow: [target] } });
      assert.equal((await call(url)).text, "answered");
      await Promise.race([ended, sleep(5000).then(() => { throw new Error("the fetch went on after its invocation ended"); })]);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  test("timers inside waitUntil work still run: the invocation is not over until its work is", async () => {
    const url = await t.deploy("wait-until-timers", `export default { async fetch(request, env, ctx) {
      ctx.waitUntil(new Promise((resolve) => setTimeout(() => { console.log("waited"); resolve(); }, 30)));
      return new Response("ok");
    } };`, { routes: PUBLIC });
    assert.equal((await call(url)).text, "ok");
    const tenant = pathOf(url).split("/")[2];
    await eventually("the waitUntil timer's line in the run", async () => {
      const runs = await t.api("GET", `/api/tenants/${tenant}/runs?function=wait-until-timers`);
      if (runs.body.runs.length === 0) return false;
      const run = await t.api("GET", `/api/tenants/${tenant}/runs/${runs.body.runs[0].id}`);
      return run.body.logs.some((line: any) => line.message === "waited");
    });
  });

  async function stoppedWork(): Promise<number> {
    const response = await fetch(`${t.url}/metrics`);
    return valueOf(parseExposition(await response.text()), "isobox_work_stopped_total") ?? 0;
  }
});

describe("logs are bounded where they are made", () => {
  async function runOf(url: string, name: string): Promise<any> {
    const tenant = pathOf(url).split("/")[2];
    let run: any;
    await eventually(`a run of ${name}`, async () => {
      const runs = await t.api("GET", `/api/tenants/${tenant}/runs?function=${name}`);
      if (runs.body.runs.length === 0) return false;
      run = (await t.api("GET", `/api/tenants/${tenant}/runs/${runs.body.runs[0].id}`)).body;
      return true;
    });
    return run;
  }

  test("300,000 console.log calls: 1,000 lines and one notice cross; the node keeps answering meanwhile", async () => {
    const url = await t.deploy("log-flood", `export default { async fetch() {
      for (let i = 0; i < 300000; i++) console.log("line " + i);
      return new Response("flooded");
    } };`, { routes: PUBLIC, limits: { cpuMs: 20_000 } });
    const flood = call(url, { timeoutMs: 60_000 });
    const health = await call(`${t.url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal((await flood).text, "flooded");
    const run = await runOf(url, "log-flood");
    assert.equal(run.logs.length, 1001);
    assert.equal(run.logs[999].message, "line 999");
    assert.equal(run.logs[1000].level, "warn");
    assert.match(run.logs[1000].message, /Log limit reached/);
    await bystanderIntact();
  });

  test("a line's length and an invocation's characters are bounded too; a pair of surrogates is never cut in half", async () => {
    const url = await t.deploy("log-bytes", `export default { async fetch() {
      console.log("x".repeat(16 * 1024 - 1) + "\\u{1F600}");
      for (let i = 0; i < 200; i++) console.log("y".repeat(20000));
      return new Response("logged");
    } };`, { routes: PUBLIC, limits: { cpuMs: 5000 } });
    assert.equal((await call(url)).text, "logged");
    const run = await runOf(url, "log-bytes");
    assert.equal(run.logs[0].message, "x".repeat(16 * 1024 - 1));
    const long = run.logs.filter((line: any) => line.message.startsWith("y"));
    for (const line of long) assert.equal(line.message.length, 16 * 1024);
    const chars = run.logs.reduce((sum: number, line: any) => sum + line.message.length, 0);
    assert.ok(chars <= 1024 * 1024 + 200, `${chars} characters stored`);
    assert.match(run.logs.at(-1).message, /Log limit reached/);
  });
});

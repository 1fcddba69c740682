// Resource limits, end to end: a real node on a loopback port, functions that run away in every
// way we know (CPU, memory, wall clock, exceptions, recursion), and after each the checks that
// matter to the other tenants: (a) another function keeps answering during and after, (b) the
// same function answers again (its isolate was replaced), (c) concurrent requests to a healthy
// function during the runaway all succeed.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startBox, type TestBox } from "./helpers/box.ts";
import { call, cpuWhileIdle, outcome, sleep, type Answer } from "./helpers/http.ts";
import { eventually } from "./helpers/wait.ts";

const PUBLIC = { auth: "public" };

const HEALTHY = `
export default {
  async fetch(request) {
    return Response.json({ ok: true, path: new URL(request.url).pathname });
  },
};`;

// One function, many ways to misbehave, picked by path; /ok answers 200 whenever the isolate is
// usable. cpuMs 50 and wallMs 300 keep the suite fast.
const RUNAWAY = `
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export default {
  async fetch(request) {
    switch (new URL(request.url).pathname) {
      case "/ok":
        return Response.json({ ok: true });
      case "/spin":
        while (true) {}
      case "/spin-after-await":
        await new Promise((resolve) => setTimeout(resolve, 1));
        while (true) {}
      case "/spin-after-microtasks":
        for (let i = 0; i < 1000; i++) await null;
        while (true) {}
      case "/never":
        await new Promise(() => {});
      case "/spin-in-background":
        setTimeout(() => { while (true) {} }, 20);
        return Response.json({ started: true });
      case "/throw":
        throw new Error("guest says no");
      case "/throw-string":
        throw "a plain string";
      case "/throw-in-timers":
        setTimeout(() => { throw new Error("thrown in a timer"); }, 0);
        setTimeout(() => Promise.reject(new Error("rejected in a timer")), 0);
        setTimeout(async () => { throw new Error("thrown in an async timer"); }, 0);
        queueMicrotask(() => { throw new Error("thrown in a microtask"); });
        await sleep(30);
        return Response.json({ ok: true, afterTimers: true });
      case "/unhandled-rejection":
        Promise.reject(new Error("nobody handles this"));
        return Response.json({ ok: true });
      case "/recurse": {
        function f(n) { return f(n + 1) + 1; }
        return Response.json({ depth: f(0) });
      }
      case "/recurse-in-getter": {
        const o = { get x() { return this.x; } };
        return Response.json({ x: o.x });
      }
    }
    return new Response("no such path", { status: 404 });
  },
};`;

const MEMORY_HOG = `
export default {
  async fetch(request) {
    const keep = [];
    switch (new URL(request.url).pathname) {
      case "/ok":
        return Response.json({ ok: true });
      case "/objects":
        while (true) keep.push({ n: keep.length, list: [1, 2, 3], text: "x" + keep.length });
      case "/strings": {
        // Doubling makes a rope; indexOf flattens it, so each step really allocates.
        let s = "0123456789abcdef";
        while (true) { s = s + s; s.indexOf("z"); keep.push(s); }
      }
      case "/string-pieces":
        while (true) { const s = "abcdefghij".repeat(100000) + keep.length; s.indexOf("z"); keep.push(s); }
      case "/typed-arrays":
        while (true) keep.push(new Uint8Array(1024 * 1024));
      case "/array-buffers":
        while (true) keep.push(new ArrayBuffer(4 * 1024 * 1024));
      case "/one-big-buffer":
        return Response.json({ bytes: new ArrayBuffer(256 * 1024 * 1024).byteLength });
    }
    return new Response("no such path", { status: 404 });
  },
};`;

const HOST_PATHS = ["/work/", "node_modules", "sandbox/host", "sandbox/guest", "file:///"];

let t: TestBox;
let healthy: string;
let runaway: string;
let runawayTenant: string;
let hog: string;

before(async () => {
  t = await startBox();
  runawayTenant = (await t.tenant()).name;
  [healthy, runaway, hog] = await Promise.all([
    t.deploy("healthy", HEALTHY, { routes: PUBLIC, limits: { cpuMs: 50, memoryMb: 32, wallMs: 2000 } }),
    t.deploy("runaway", RUNAWAY, { routes: PUBLIC, limits: { cpuMs: 50, memoryMb: 32, wallMs: 300 } }, runawayTenant),
    t.deploy("hog", MEMORY_HOG, { routes: PUBLIC, limits: { cpuMs: 5000, memoryMb: 32, wallMs: 5000 } }),
  ]);
  // Warm both so that cold starts do not count against timings below.
  assert.equal((await call(healthy + "/")).status, 200);
  assert.equal((await call(runaway + "/ok")).status, 200);
});

after(async () => {
  await t?.close();
});

/**
 * Sends batches of requests to the healthy function while `runaway` is in flight (at least one
 * batch, sent at the same moment), then checks (a) and (c): every one answered 200.
 */
async function healthyMeanwhile(runaway: Promise<Answer>): Promise<Answer> {
  let settled = false;
  const tracked = runaway.finally(() => {
    settled = true;
  });
  const answers: Answer[] = [];
  do {
    answers.push(...(await Promise.all(Array.from({ length: 5 }, (_, i) => call(`${healthy}/during-${i}`)))));
  } while (!settled);
  const failed = answers.filter((answer) => answer.status !== 200 || answer.body?.ok !== true);
  assert.deepEqual(failed.map(outcome), [], "every request to the healthy function during the runaway answered 200");
  return tracked;
}

/** (a) after: the healthy function answers; (b): the same function answers again. */
/**
 * Deploy loads a module once and refuses one that fails while it loads; a module may still fail
 * only later (its code looks at the clock). `armed()` is such a guard, true a second after it was
 * written; `armedNow()` waits until then.
 */
let armAt = 0;
function armed(): string {
  armAt = Date.now() + 1000;
  return `if (Date.now() >= ${armAt})`;
}
async function armedNow(): Promise<void> {
  await sleep(Math.max(armAt - Date.now() + 10, 0));
}

async function recovers(okUrl: string): Promise<void> {
  const other = await call(`${healthy}/after`);
  assert.equal(outcome(other), "200");
  assert.deepEqual(other.body, { ok: true, path: "/after" });
  const same = await call(okUrl);
  assert.equal(outcome(same), "200", `the function answers again: ${same.text}`);
}

function assertError(answer: Answer, status: number, code: string): void {
  assert.equal(outcome(answer), `${status} ${code}`, answer.text);
  assert.equal(typeof answer.body.error.message, "string");
}

describe("CPU limit", () => {
  test("while(true) in the fetch handler: 503 ERR_CPU_LIMIT", async () => {
    const answer = await healthyMeanwhile(call(runaway + "/spin"));
    assertError(answer, 503, "ERR_CPU_LIMIT");
    assert.match(answer.body.error.message, /50 ms of CPU time/);
    assert.ok(answer.ms < 2000, `stopped after ${answer.ms} ms`);
    await recovers(runaway + "/ok");
  });

  test("a CPU loop after awaiting a timer: 503 ERR_CPU_LIMIT", async () => {
    const answer = await healthyMeanwhile(call(runaway + "/spin-after-await"));
    assertError(answer, 503, "ERR_CPU_LIMIT");
    await recovers(runaway + "/ok");
  });

  test("a CPU loop after a thousand microtask turns: 503 ERR_CPU_LIMIT", async () => {
    const answer = await healthyMeanwhile(call(runaway + "/spin-after-microtasks"));
    assertError(answer, 503, "ERR_CPU_LIMIT");
    await recovers(runaway + "/ok");
  });

  test("a busy loop at module top level is refused at deploy; one that starts only later: 503 ERR_CPU_LIMIT, every time; a fixed version answers", async () => {
    const tenant = (await t.tenant()).name;
    const limits = { routes: PUBLIC, limits: { cpuMs: 50, memoryMb: 32 } };
    const refused = await t.api("PUT", `/api/tenants/${tenant}/functions/top-spin`, { code: `while (true) {}\n${HEALTHY}`, manifest: limits });
    assert.equal(refused.status, 400);
    assert.match(refused.body.error.message, /top-level code ran past its CPU time/);
    // A module may behave otherwise once deployed than when deploy loaded it: the limit still holds.
    const url = await t.deploy("top-spin", `${armed()} while (true) {}\n${HEALTHY}`, limits, tenant);
    await armedNow();
    const first = await healthyMeanwhile(call(url + "/"));
    assertError(first, 503, "ERR_CPU_LIMIT");
    assertError(await call(url + "/"), 503, "ERR_CPU_LIMIT");
    await t.deploy("top-spin", HEALTHY, { routes: PUBLIC, limits: { cpuMs: 50, memoryMb: 32 } }, tenant);
    await recovers(url + "/ok");
  });

  test("a busy loop in a getter of the default export (runs while the module is loaded): 503 ERR_CPU_LIMIT", async () => {
    const url = await t.deploy("getter-spin", `export default { get fetch() { ${armed()} while (true) {} return () => new Response("deploy saw this") } };`, { routes: PUBLIC, limits: { cpuMs: 50, memoryMb: 32 } });
    await armedNow();
    const answer = await healthyMeanwhile(call(url + "/", { timeoutMs: 10_000 }));
    assertError(answer, 503, "ERR_CPU_LIMIT");
  });

  test("a long runaway (1.5 s of CPU): 20 concurrent requests to a healthy function answer promptly meanwhile", async () => {
    const url = await t.deploy("slow-spin", `export default { async fetch() { while (true) {} } };`, { routes: PUBLIC, limits: { cpuMs: 1500, memoryMb: 32, wallMs: 10_000 } });
    let settled = false;
    const spinning = call(url + "/").finally(() => {
      settled = true;
    });
    await sleep(100); // the loop has started
    const answers: Answer[] = [];
    for (let round = 0; round < 4; round++) {
      answers.push(...(await Promise.all(Array.from({ length: 5 }, () => call(`${healthy}/concurrent`)))));
    }
    assert.equal(settled, false, "the runaway was still running while the healthy function answered");
    assert.deepEqual(answers.map(outcome), Array(20).fill("200"));
    const slowest = Math.max(...answers.map((answer) => answer.ms));
    assert.ok(slowest < 500, `slowest healthy answer took ${slowest} ms`);
    const answer = await spinning;
    assertError(answer, 503, "ERR_CPU_LIMIT");
    assert.match(answer.body.error.message, /1500 ms of CPU time/);
  });

  test("time spent in host callbacks counts: a loop calling crypto.getRandomValues, 503 ERR_CPU_LIMIT", async () => {
    const url = await t.deploy("callback-loop", `export default { async fetch() {
      while (true) crypto.getRandomValues(new Uint8Array(1));
    } };`, { routes: PUBLIC, limits: { cpuMs: 50, memoryMb: 32, wallMs: 5000 } });
    const answer = await healthyMeanwhile(call(url + "/"));
    assertError(answer, 503, "ERR_CPU_LIMIT");
    assert.ok(answer.ms < 1200, `stopped after ${answer.ms.toFixed(0)} ms`);
  });

  test("recursion through a host callback (isolated-vm's cost grows with the stack): 503 ERR_CPU_LIMIT", async () => {
    const url = await t.deploy("callback-recursion", `export default { async fetch() {
      const f = (n) => { crypto.getRandomValues(new Uint8Array(1)); return f(n + 1) + 1; };
      try { f(0); } catch (error) { return Response.json({ caught: error.name }); }
    } };`, { routes: PUBLIC, limits: { cpuMs: 50, memoryMb: 32, wallMs: 5000 } });
    const answer = await healthyMeanwhile(call(url + "/"));
    assertError(answer, 503, "ERR_CPU_LIMIT");
    assert.ok(answer.ms < 2000, `stopped after ${answer.ms.toFixed(0)} ms`);
  });

  test("a busy loop in a timer that outlives its invocation is stopped in the background", async () => {
    const started = await call(runaway + "/spin-in-background");
    assert.equal(outcome(started), "200");
    assert.deepEqual(started.body, { started: true });
    await sleep(300); // the timer fired 20 ms after the response; the watchdog allows 50 ms of CPU
    const cpu = await cpuWhileIdle(500);
    assert.ok(cpu < 250, `the node used ${cpu.toFixed(0)} ms of CPU in 500 ms of idling: the loop still runs`);
    await recovers(runaway + "/ok");
  });
});

describe("memory limit", () => {
  for (const path of ["/objects", "/strings", "/string-pieces", "/typed-arrays", "/array-buffers", "/one-big-buffer"]) {
    test(`allocating ${path.slice(1)} without end: 503 ERR_MEMORY_LIMIT`, async () => {
      const answer = await healthyMeanwhile(call(hog + path));
      assertError(answer, 503, "ERR_MEMORY_LIMIT");
      assert.match(answer.body.error.message, /32 MB of memory/);
      await recovers(hog + "/ok");
    });
  }

  test("allocating at module top level: 503 ERR_MEMORY_LIMIT", async () => {
    const url = await t.deploy("top-hog", `const keep = []; ${armed()} while (true) keep.push({ n: keep.length });\n${HEALTHY}`, { routes: PUBLIC, limits: { cpuMs: 5000, memoryMb: 32 } });
    await armedNow();
    assertError(await healthyMeanwhile(call(url + "/")), 503, "ERR_MEMORY_LIMIT");
  });
});

describe("wall-clock limit", () => {
  test("a promise that never settles: 504 ERR_WALL_TIMEOUT after wallMs", async () => {
    const answer = await healthyMeanwhile(call(runaway + "/never"));
    assertError(answer, 504, "ERR_WALL_TIMEOUT");
    assert.match(answer.body.error.message, /within 300 ms/);
    assert.ok(answer.ms >= 290 && answer.ms < 2000, `answered after ${answer.ms} ms`);
    await recovers(runaway + "/ok");
  });

  test("computing when the wall clock runs out: 504, and the loop does not go on unwatched", async () => {
    // Spins 50 ms before a 300 ms wall clock with 400 ms of CPU allowed: the wall clock comes
    // first by a wide margin, even on a loaded machine whose timers fire late.
    const url = await t.deploy("wall-spin", `export default { async fetch(request) {
      if (new URL(request.url).pathname === "/ok") return Response.json({ ok: true });
      await new Promise((resolve) => setTimeout(resolve, 250));
      while (true) {}
    } };`, { routes: PUBLIC, limits: { cpuMs: 400, memoryMb: 32, wallMs: 300 } });
    const answer = await healthyMeanwhile(call(url));
    assertError(answer, 504, "ERR_WALL_TIMEOUT");
    await sleep(600); // the abandoned loop gets one CPU limit (400 ms) of grace
    const cpu = await cpuWhileIdle(500);
    assert.ok(cpu < 250, `the node used ${cpu.toFixed(0)} ms of CPU in 500 ms of idling: the abandoned loop still runs`);
    await recovers(`${url}/ok`);
  });
});

describe("exceptions", () => {
  test("a handler that throws: 500 ERR_FUNCTION_THREW with the guest's message and no host path", async () => {
    const answer = await healthyMeanwhile(call(runaway + "/throw"));
    assertError(answer, 500, "ERR_FUNCTION_THREW");
    assert.equal(answer.body.error.message, "Error: guest says no");
    for (const path of HOST_PATHS) assert.ok(!answer.text.includes(path), `the answer names ${path}: ${answer.text}`);

    // The stored run keeps the guest's stack, only the function's own lines.
    const runId = answer.body.error.runId;
    assert.equal(typeof runId, "string");
    let run: any;
    run = await eventually("the failed run to be recorded", async () => {
      const found = await t.api("GET", `/api/tenants/${runawayTenant}/runs/${runId}`);
      return found.status === 200 && found.body;
    });
    assert.ok(run, "the failed run was recorded");
    assert.equal(run.error.code, "ERR_FUNCTION_THREW");
    const stored = JSON.stringify(run.error);
    for (const path of ["/work/", "node_modules", "sandbox/host", "isolated-vm", "isobox:runtime"]) {
      assert.ok(!stored.includes(path), `the stored error names ${path}: ${stored}`);
    }
    await recovers(runaway + "/ok");
  });

  test("a handler that throws a string: 500 ERR_FUNCTION_THREW naming it", async () => {
    const answer = await call(runaway + "/throw-string");
    assertError(answer, 500, "ERR_FUNCTION_THREW");
    assert.match(answer.body.error.message, /a plain string/);
  });

  test("throws and rejections inside timers and microtasks do not fail the request nor the node", async () => {
    const answer = await healthyMeanwhile(call(runaway + "/throw-in-timers"));
    assert.equal(outcome(answer), "200", answer.text);
    assert.deepEqual(answer.body, { ok: true, afterTimers: true });
    await sleep(50);
    assert.equal((await call(t.url + "/healthz")).status, 200);
    await recovers(runaway + "/ok");
  });

  test("a promise rejected without a handler during the call: 500 ERR_FUNCTION_THREW, not a node error", async () => {
    const answer = await healthyMeanwhile(call(runaway + "/unhandled-rejection"));
    assertError(answer, 500, "ERR_FUNCTION_THREW");
    assert.match(answer.body.error.message, /nobody handles this/);
    await recovers(runaway + "/ok");
  });

  test("unbounded recursion: RangeError as 500 ERR_FUNCTION_THREW, the node stays up", async () => {
    const answer = await healthyMeanwhile(call(runaway + "/recurse"));
    assertError(answer, 500, "ERR_FUNCTION_THREW");
    assert.equal(answer.body.error.message, "RangeError: Maximum call stack size exceeded");
    const getter = await call(runaway + "/recurse-in-getter");
    assertError(getter, 500, "ERR_FUNCTION_THREW");
    assert.equal(getter.body.error.message, "RangeError: Maximum call stack size exceeded");
    await recovers(runaway + "/ok");
  });

  test("unbounded recursion at module top level: refused at deploy, and 500 ERR_FUNCTION_THREW when it starts later", async () => {
    const manifest = { routes: PUBLIC, limits: { cpuMs: 50, memoryMb: 32 } };
    const tenant = (await t.tenant()).name;
    const refused = await t.api("PUT", `/api/tenants/${tenant}/functions/top-recurse`, { code: `function f() { return f() + 1; } f();\n${HEALTHY}`, manifest });
    assert.equal(refused.status, 400);
    assert.match(refused.body.error.message, /^RangeError: Maximum call stack size exceeded at line 1, column \d+$/);
    const url = await t.deploy("top-recurse", `function f() { return f() + 1; } ${armed()} f();\n${HEALTHY}`, manifest, tenant);
    await armedNow();
    const answer = await call(url + "/");
    assertError(answer, 500, "ERR_FUNCTION_THREW");
    assert.equal(answer.body.error.message, "RangeError: Maximum call stack size exceeded");
  });

  test("the node is healthy at the end", async () => {
    assert.equal(outcome(await call(t.url + "/healthz")), "200");
    await recovers(runaway + "/ok");
  });
});

// Fetch dispatches of one event-loop turn cross into the isolate in one call (Sandbox.flush,
// sandbox/guest/batch.ts). Each must still get its own answer, and every log line and host call
// must still belong to the invocation that made it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Sandbox } from "../sandbox/host/sandbox.ts";
import type { InvocationHooks } from "../sandbox/host/bindings.ts";
import type { WireRequest, WireResponse } from "../sandbox/protocol.ts";

const info = (runId: string) => ({ runId, traceId: "t", tenant: "default", function: "f", env: {} });
const request = (path: string, body?: string): WireRequest => ({ method: body === undefined ? "GET" : "POST", url: `https://fn.example${path}`, headers: [], body: body === undefined ? null : new TextEncoder().encode(body).buffer as ArrayBuffer });
const text = (response: WireResponse) => new TextDecoder().decode(response.body ?? new ArrayBuffer(0));

/** Hooks that keep one invocation's log lines; its fetch answers with the URL it was asked for. */
function recording(): { hooks: InvocationHooks; lines: string[]; fetched: string[] } {
  const lines: string[] = [];
  const fetched: string[] = [];
  const hooks: InvocationHooks = {
    log: (_level, message) => void lines.push(message),
    fetch: async (wire) => {
      fetched.push(wire.url);
      await new Promise((resolve) => setTimeout(resolve, 2));
      return { status: 200, statusText: "", headers: [], body: new TextEncoder().encode(wire.url).buffer as ArrayBuffer };
    },
  };
  return { hooks, lines, fetched };
}

async function withSandbox(code: string, body: (sandbox: Sandbox) => Promise<void>): Promise<void> {
  const sandbox = await Sandbox.boot(64);
  try {
    await sandbox.load(code, "file:///batch.js", 1000);
    await body(sandbox);
  } finally {
    sandbox.dispose();
  }
}

/** Counts the isolate calls a sandbox makes: batches (with their sizes) and single dispatches. */
function countCalls(sandbox: Sandbox): { batches: number[]; singles: () => number } {
  const runtime = (sandbox as unknown as { runtime: Record<"dispatch" | "dispatchBatch", { apply(...args: unknown[]): Promise<unknown> }> }).runtime;
  const batches: number[] = [];
  let singles = 0;
  const { dispatch, dispatchBatch } = runtime;
  runtime.dispatchBatch = { apply: (...args) => { batches.push((args[1] as unknown[][])[0].length); return dispatchBatch.apply(...args); } };
  runtime.dispatch = { apply: (...args) => { singles++; return dispatch.apply(...args); } };
  return { batches, singles: () => singles };
}

test("200 requests in one turn cross in one call: each gets its own answer, its log lines and fetches stay its own", async () => {
  // The first 150 answer without awaiting the host, so they all run in the batch; from 150 on,
  // fetches, timers and waitUntil work stop the chain and the rest go one call each.
  await withSandbox(`export default { async fetch(request, env, ctx) {
    const n = Number(new URL(request.url).searchParams.get("n"));
    console.log("start " + n);
    const body = await request.text();
    await null;
    console.log("read " + body);
    if (n >= 150 && n % 4 === 0) console.log("fetched " + await (await fetch("https://api.example/" + n)).text());
    if (n >= 150 && n % 5 === 0) await new Promise((resolve) => setTimeout(resolve, n % 3));
    if (n >= 150 && n % 7 === 0) ctx.waitUntil((async () => { await null; console.log("after " + n); })());
    console.log("end " + n);
    return new Response("answer " + n + " " + body, { headers: { "x-n": String(n) } });
  } }`, async (sandbox) => {
    const calls = countCalls(sandbox);
    const runs = Array.from({ length: 200 }, () => recording());
    const answers = await Promise.all(runs.map(({ hooks }, n) => sandbox.dispatch("fetch", info(`r${n}`), request(`/?n=${n}`, `body ${n}`), hooks)));
    // waitUntil work and late lines: settle each run as the pool does.
    await Promise.all(answers.map(({ settled }, n) => settled ? sandbox.release(`r${n}`) : sandbox.settle(`r${n}`)));
    assert.deepEqual(calls.batches, [200]);
    assert.ok(calls.singles() <= 50, `${calls.singles()} requests went one call each`);
    answers.forEach(({ value }, n) => {
      const response = value as WireResponse;
      assert.equal(text(response), `answer ${n} body ${n}`);
      assert.deepEqual(response.headers.slice(-2), ["x-n", String(n)]);
      const fetches = n >= 150 && n % 4 === 0;
      const expected = [`start ${n}`, `read body ${n}`, ...(fetches ? [`fetched https://api.example/${n}`] : []), `end ${n}`, ...(n >= 150 && n % 7 === 0 ? [`after ${n}`] : [])];
      assert.deepEqual(runs[n].lines, expected, `run ${n}`);
      assert.deepEqual(runs[n].fetched, fetches ? [`https://api.example/${n}`] : [], `run ${n}`);
    });
  });
});

test("a promise left rejected fails the requests answered in its batch; a batch-mate awaiting a timer finishes", async () => {
  await withSandbox(`export default { async fetch(request) {
    if (request.url.endsWith("/leak")) { Promise.reject(new Error("nobody handles this")); return new Response("leaked"); }
    if (request.url.endsWith("/quick")) return new Response("quick");
    await new Promise((resolve) => setTimeout(resolve, 20));
    return new Response("slow and fine");
  } }`, async (sandbox) => {
    const calls = countCalls(sandbox);
    const { hooks } = recording();
    const [leak, quick, slow] = await Promise.allSettled([
      sandbox.dispatch("fetch", info("leak"), request("/leak"), hooks),
      sandbox.dispatch("fetch", info("quick"), request("/quick"), hooks),
      sandbox.dispatch("fetch", info("slow"), request("/slow"), hooks),
    ]);
    assert.deepEqual(calls.batches, [3]);
    for (const failed of [leak, quick]) {
      assert.equal(failed.status, "rejected");
      assert.match(String((failed as PromiseRejectedResult).reason.message), /nobody handles this/);
    }
    assert.equal(slow.status, "fulfilled");
    assert.equal(text((slow as PromiseFulfilledResult<{ value: WireResponse }>).value.value), "slow and fine");
  });
});

test("answers for ids the isolate never sent are ignored, also while dispatches wait for theirs", async () => {
  await withSandbox(`export default { async fetch(request) { return new Response(request.url); } }`, async (sandbox) => {
    const { hooks } = recording();
    const forged = { ok: true, value: { status: 200, statusText: "", headers: [] } };
    const pending = [1, 2].map((n) => sandbox.dispatch("fetch", info(`f${n}`), request(`/${n}`), hooks));
    // Both wait in the queue (sent at the end of this turn) when the forged answers arrive.
    (sandbox as unknown as { take(answers: unknown[]): void }).take([[1_000_000, [JSON.stringify(forged), null]], "junk", [null]]);
    const answers = await Promise.all(pending);
    assert.deepEqual(answers.map(({ value }) => text(value as WireResponse)), ["https://fn.example/1", "https://fn.example/2"]);
  });
});

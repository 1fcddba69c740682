// Fetch dispatches of one event-loop turn cross into the isolate together (dispatch-batcher.ts,
// sandbox/guest/dispatch-chain.ts). Each must still get its own answer, and every log line and host call
// must still belong to the invocation that made it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Sandbox } from "../sandbox/host/sandbox.ts";
import type { InvocationHost } from "../sandbox/host/host-work.ts";
import { NO_LIMITS } from "./helpers/sandbox.ts";
import type { WireRequest, WireResponse } from "../sandbox/protocol.ts";

const info = (runId: string) => ({ runId, traceId: "t", tenant: "default", function: "f", env: {} });
const request = (path: string, body?: string): WireRequest => ({ method: body === undefined ? "GET" : "POST", url: `https://fn.example${path}`, headers: [], body: body === undefined ? null : new TextEncoder().encode(body).buffer as ArrayBuffer });
const text = (response: WireResponse) => new TextDecoder().decode(response.body ?? new ArrayBuffer(0));

/** Hooks that keep one invocation's log lines; its fetch answers with the URL it was asked for. */
function recording(): { hooks: InvocationHost; lines: string[]; fetched: string[] } {
  const lines: string[] = [];
  const fetched: string[] = [];
  const hooks: InvocationHost = {
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

test("200 requests in one turn cross in a few calls: each gets its own answer, its log lines and fetches stay its own", async () => {
  // The first 150 answer without awaiting the host, so they run in chains of several per call;
  // from 150 on, fetches, timers and waitUntil work stop the chain and the rest go in later calls.
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
    const runs = Array.from({ length: 200 }, () => recording());
    const dispatched = runs.map(({ hooks }, n) => sandbox.dispatch("fetch", info(`r${n}`), request(`/?n=${n}`, `body ${n}`), hooks, NO_LIMITS));
    const answers = await Promise.all(dispatched.map(({ answer }) => answer));
    // waitUntil work and late lines: each run has ended once its done resolves.
    const ended = await Promise.all(dispatched.map(({ done }) => done));
    const { calls, dispatched: sent } = sandbox.stats();
    assert.ok(calls < 100, `${calls} calls for 200 requests`);
    assert.ok(sent >= 200 && sent < 400, `${sent} dispatches sent`);
    answers.forEach((answered, n) => {
      assert.ok(answered.ok, `run ${n}`);
      assert.equal(ended[n].failure, undefined, `run ${n}`);
      const response = answered.value as WireResponse;
      assert.equal(text(response), `answer ${n} body ${n}`);
      assert.deepEqual(response.headers.slice(-2), ["x-n", String(n)]);
      const fetches = n >= 150 && n % 4 === 0;
      const expected = [`start ${n}`, `read body ${n}`, ...(fetches ? [`fetched https://api.example/${n}`] : []), `end ${n}`, ...(n >= 150 && n % 7 === 0 ? [`after ${n}`] : [])];
      assert.deepEqual(runs[n].lines, expected, `run ${n}`);
      assert.deepEqual(runs[n].fetched, fetches ? [`https://api.example/${n}`] : [], `run ${n}`);
    });
  });
});

test("a promise left rejected fails the requests answered in its call; a call-mate awaiting a timer finishes", async () => {
  await withSandbox(`export default { async fetch(request) {
    if (request.url.endsWith("/leak")) { Promise.reject(new Error("nobody handles this")); return new Response("leaked"); }
    if (request.url.endsWith("/quick")) return new Response("quick");
    await new Promise((resolve) => setTimeout(resolve, 20));
    return new Response("slow and fine");
  } }`, async (sandbox) => {
    const { hooks } = recording();
    // A first request compiles the runtime's request path: done before, the three below run well
    // within one call's 4 ms chain budget, so leak and quick are answered in the same call.
    assert.ok((await sandbox.dispatch("fetch", info("warm"), request("/quick"), hooks, NO_LIMITS).answer).ok);
    const [leak, quick, slow] = await Promise.all(["leak", "quick", "slow"].map((name) => sandbox.dispatch("fetch", info(name), request(`/${name}`), hooks, NO_LIMITS).answer));
    for (const failed of [leak, quick]) {
      assert.equal(failed.ok, false);
      assert.match(failed.ok ? "" : failed.failure.message, /nobody handles this/);
    }
    assert.ok(slow.ok);
    assert.equal(text(slow.value as WireResponse), "slow and fine");
  });
});

// IsolatePool lifecycle on real isolates: retiring a function's versions never cuts an
// invocation in flight, and keeps the version that serves.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { InvocationHost } from "../sandbox/host/host-work.ts";
import { IsolatePool, type FunctionImage } from "../sandbox/host/pool.ts";

const hooks: InvocationHost = { log: () => {}, fetch: async () => { throw new TypeError("no network here"); } };
const limits = { memoryMb: 64, cpuMs: 500, wallMs: 5000 };
const SLOW = `let calls = 0; export default { async job(ms) { calls++; await new Promise((r) => setTimeout(r, ms)); return calls; } }`;

function image(version: number): FunctionImage {
  return { key: `t/slow@${version}`, code: SLOW, filename: "file:///t/slow.js", limits };
}

async function invoke(pool: IsolatePool, version: number, ms: number, run: string): Promise<{ value: unknown }> {
  const outcome = await pool.invoke(image(version), "job", { runId: run, traceId: "t", tenant: "t", function: "slow", env: {} }, ms, hooks);
  if (!outcome.ok) throw new Error(`${outcome.failure.code}: ${outcome.failure.message}`);
  return outcome;
}

test("retiring a function's isolates lets in-flight invocations finish and keeps the serving version", async () => {
  const pool = new IsolatePool({ maxIsolates: 10, spares: 0, spareMemoryMb: 64 });
  try {
    assert.equal((await invoke(pool, 1, 0, "a")).value, 1);
    assert.equal((await invoke(pool, 2, 0, "b")).value, 1);
    const inFlight = invoke(pool, 1, 300, "c");
    await new Promise((r) => setTimeout(r, 50));
    pool.retire("t/slow@", "t/slow@2");
    assert.equal((await inFlight).value, 2, "the invocation in the retired isolate finished");
    assert.equal((await invoke(pool, 2, 0, "d")).value, 2, "the kept version's isolate still serves (its state is there)");
    assert.equal((await invoke(pool, 1, 0, "e")).value, 1, "the retired version starts in a new isolate");
  } finally {
    await pool.close();
  }
});

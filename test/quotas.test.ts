// Tenant quotas: a tenant over its rate gets 429 with Retry-After and the others do not notice;
// count and size quotas refuse the deploy.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { json, startBox, type TestBox } from "./helpers/box.ts";
import { waitForRuns } from "./helpers/wait.ts";

const HELLO = `export default { fetch() { return new Response("ok") } }`;
const SLOW = `export default { async fetch() { await new Promise((r) => setTimeout(r, 300)); return new Response("done") } }`;

describe("tenant quotas", () => {
  let t: TestBox;
  before(async () => { t = await startBox(); });
  after(async () => { await t.close(); });

  test("over its requests per second a tenant gets 429 ERR_RATE_LIMITED with Retry-After; another tenant does not notice", async () => {
    const limited = await t.tenant();
    const other = await t.tenant();
    assert.equal((await t.api("PATCH", `/api/tenants/${limited.name}`, { quotas: { requestsPerSecond: 5 } })).status, 200);
    const slowUrl = await t.deploy("hello", HELLO, { routes: { auth: "public" } }, limited.name);
    const freeUrl = await t.deploy("hello", HELLO, { routes: { auth: "public" } }, other.name);
    const responses = await Promise.all(Array.from({ length: 20 }, () => fetch(slowUrl)));
    const statuses = responses.map((r) => r.status);
    const refused = responses.find((r) => r.status === 429);
    assert.ok(statuses.filter((s) => s === 200).length >= 5, statuses.join(","));
    assert.ok(refused, `some requests were refused: ${statuses.join(",")}`);
    assert.equal(refused.headers.get("retry-after"), "1");
    const body = await json(refused);
    assert.equal(body.error.code, "ERR_RATE_LIMITED");
    assert.match(body.error.message, /5 requests per second/);
    for (let i = 0; i < 20; i++) assert.equal((await fetch(freeUrl)).status, 200, "the other tenant is not limited");
  });

  test("concurrent requests over the quota are refused while the others run", async () => {
    const { name } = await t.tenant();
    await t.api("PATCH", `/api/tenants/${name}`, { quotas: { concurrency: 2 } });
    const url = await t.deploy("slow", SLOW, { routes: { auth: "public" } }, name);
    const statuses = await Promise.all([1, 2, 3, 4].map(() => fetch(url).then((r) => r.status)));
    assert.deepEqual(statuses.sort(), [200, 200, 429, 429]);
    assert.equal((await fetch(url)).status, 200, "free again once they finished");
  });

  test("CPU milliseconds per minute: once used up, 429 until the minute ends", async () => {
    const { name } = await t.tenant();
    await t.api("PATCH", `/api/tenants/${name}`, { quotas: { cpuMsPerMinute: 30 } });
    const url = await t.deploy("burn", `export default { fetch() { const end = Date.now() + 20; while (Date.now() < end) {} return new Response("ok") } }`, { routes: { auth: "public" } }, name);
    // Each call burns up to 20 ms of wall clock; under load its CPU share may be less, so call on
    // until the budget is spent.
    const statuses: number[] = [];
    while (statuses.length < 60 && !statuses.includes(429)) statuses.push((await fetch(url)).status);
    assert.equal(statuses[0], 200);
    assert.ok(statuses.includes(429), statuses.join(","));
    const res = await fetch(url);
    assert.equal(res.status, 429);
    assert.ok(Number(res.headers.get("retry-after")) > 1);
    assert.match((await json(res)).error.message, /30 CPU ms for this minute/);
  });

  test("a CPU-limit kill counts its whole limit against the tenant, and its run records it", async () => {
    const { name } = await t.tenant();
    await t.api("PATCH", `/api/tenants/${name}`, { quotas: { cpuMsPerMinute: 40 } });
    const url = await t.deploy("spin", `export default { fetch() { while (true) {} } }`, { routes: { auth: "public" }, limits: { cpuMs: 50 } }, name);
    const killed = await fetch(url);
    assert.equal(killed.status, 503);
    assert.equal((await json(killed)).error.code, "ERR_CPU_LIMIT");
    assert.equal((await fetch(url)).status, 429, "the 50 ms kill used up the 40 ms budget");
    let runs: { cpuMs: number }[] = [];
    runs = await waitForRuns(t.api, name, "status=failed");
    assert.equal(runs.length, 1);
    assert.ok(runs[0].cpuMs >= 50, `recorded cpuMs ${runs[0].cpuMs}`);
  });

  test("the functions and memory quotas refuse a deploy with 403 ERR_QUOTA_EXCEEDED", async () => {
    const { name } = await t.tenant();
    await t.api("PATCH", `/api/tenants/${name}`, { quotas: { functions: 1, memoryMb: 64 } });
    await t.deploy("one", HELLO, { routes: { auth: "public" } }, name);
    const second = await t.api("PUT", `/api/tenants/${name}/functions/two`, { code: HELLO });
    assert.equal(second.status, 403);
    assert.equal(second.body.error.code, "ERR_QUOTA_EXCEEDED");
    const redeploy = await t.api("PUT", `/api/tenants/${name}/functions/one`, { code: HELLO });
    assert.equal(redeploy.status, 201, "a new version of an existing function is not a new function");
    const big = await t.api("PUT", `/api/tenants/${name}/functions/one`, { code: HELLO, manifest: { limits: { memoryMb: 128 } } });
    assert.equal(big.status, 403);
    assert.match(big.body.error.message, /manifest\.limits\.memoryMb/);
    const badQuota = await t.api("PATCH", `/api/tenants/${name}`, { quotas: { requestsPerSecond: -1 } });
    assert.equal(badQuota.status, 400);
    assert.match(badQuota.body.error.message, /body\.quotas\.requestsPerSecond/);
  });
});

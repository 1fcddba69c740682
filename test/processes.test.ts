// isobox start as users run it: a supervisor with workers that are replaced when they die,
// and SIGTERM that drains in-flight requests before exiting 0.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { json, TEST_ADMIN_TOKEN, TEST_MASTER_KEY } from "./helpers/box.ts";
import { cli } from "./helpers/cli.ts";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startNode, type NodeProcess } from "./helpers/process.ts";
import { eventually } from "./helpers/wait.ts";

const workers = process.env.DATABASE_URL ? 2 : 1;
const SLOW = `export default { async fetch(request) {
  const ms = Number(new URL(request.url).searchParams.get("ms") ?? 0);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return Response.json({ waited: ms });
} }`;

async function deploySlow(node: NodeProcess): Promise<string> {
  const res = await fetch(`${node.url}/api/tenants/default/functions/slow`, {
    method: "PUT",
    headers: { authorization: `Bearer ${node.token}`, "content-type": "application/json" },
    // About workers and draining, not CPU limits: a cold worker's first call compiles the module,
    // which on a saturated 2-core machine can pass the default 50 ms.
    body: JSON.stringify({ code: SLOW, manifest: { routes: { auth: "public" }, limits: { cpuMs: 1000 } } }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  return (await json(res)).url;
}

test("a killed worker is replaced and the node keeps answering", { timeout: 120_000 }, async () => {
  const node = await startNode(["--workers", String(workers)], process.env.DATABASE_URL ? {} : {});
  try {
    const url = await deploySlow(node);
    await eventually("every worker to serve", async () => node.workerPids().length === workers, 30_000);
    const before = node.workerPids();
    await eventually("the function to answer", async () => (await fetch(url)).status === 200, 30_000);

    for (const signal of ["SIGKILL", "SIGABRT"] as const) {
      const victim = node.workerPids()[0];
      process.kill(victim, signal);
      await eventually("the killed worker to be replaced", async () => !node.workerPids().includes(victim) && node.workerPids().length === workers, 30_000);
      await eventually("the function to answer again", async () => (await fetch(url)).status === 200, 30_000);
    }
    const after = node.workerPids();
    assert.equal(after.length, workers);
    assert.notDeepEqual(after, before);
    assert.match(node.output(), /died \(SIGKILL\); starting another/);
    assert.match(node.output(), /died \(SIGABRT\); starting another/);

    // The banner names the MCP URL; with it and the token any MCP client reaches the tenant's tools.
    assert.match(node.output(), new RegExp(`MCP: ${node.url}/mcp/<tenant>, e\\.g\\. ${node.url}/mcp/default`));
    const tool = await fetch(`${node.url}/api/tenants/default/functions/echo`, {
      method: "PUT",
      headers: { authorization: `Bearer ${node.token}`, "content-type": "application/json" },
      body: JSON.stringify({ code: "export default { tool(input) { return { echoed: input } } }", manifest: { tool: { description: "Echo" } } }),
    });
    assert.equal(tool.status, 201);
    const client = new Client({ name: "processes-test", version: "1.0.0" }, { versionNegotiation: { mode: { pin: "2026-07-28" } } });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${node.url}/mcp/default`), { requestInit: { headers: { authorization: `Bearer ${node.token}` } } }));
    assert.deepEqual((await client.callTool({ name: "echo", arguments: { a: 1 } })).structuredContent, { echoed: { a: 1 } });
    await client.close();
  } finally {
    await node.stop();
  }
});

test("SIGTERM drains in-flight requests, then exits 0", { timeout: 120_000 }, async () => {
  const node = await startNode(["--workers", String(workers)], { ISOBOX_DRAIN_MS: "10000" });
  try {
    const url = await deploySlow(node);
    await eventually("every worker to serve", async () => node.workerPids().length === workers, 30_000);
    await eventually("the function to answer", async () => (await fetch(`${url}?ms=0`)).status === 200, 30_000);
    const inflight = Promise.all([1, 2, 3].map(() => fetch(`${url}?ms=1500`).then(async (r) => [r.status, await json(r)] as const)));
    await new Promise((r) => setTimeout(r, 300));
    node.child.kill("SIGTERM");
    const results = await inflight;
    for (const [status, body] of results) {
      assert.equal(status, 200);
      assert.deepEqual(body, { waited: 1500 });
    }
    const exit = await node.exited;
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.match(node.output(), /isobox: SIGTERM, draining\n[^]*isobox: stopped\n/);
    await assert.rejects(fetch(`${url}?ms=0`), "the port is closed after the drain");
  } finally {
    await node.stop();
  }
});

test("a busy port is refused in one line that names --port and PORT", async () => {
  const busy = createServer().listen(0, "0.0.0.0");
  await once(busy, "listening");
  const port = (busy.address() as AddressInfo).port;
  const dataDir = await mkdtemp(join(tmpdir(), "isobox-busy-"));
  try {
    const result = await cli(["start", "--port", String(port), "--data-dir", dataDir], { ISOBOX_ADMIN_TOKEN: TEST_ADMIN_TOKEN, ISOBOX_MASTER_KEY: TEST_MASTER_KEY });
    assert.equal(result.code, 1);
    assert.equal(result.stderr, `isobox: Port ${port} is in use on 0.0.0.0: pass --port <another> or set PORT\n`);
  } finally {
    busy.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

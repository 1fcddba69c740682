// MCP: tools/call of a no-op tool through POST /mcp/:tenant, in the 2026-07-28 era (the _meta
// envelope on each request) and the 2025 stateless one, against the same function's fetch handler
// through /fn/ with the same JSON body; every run recorded in all three. Rounds interleaved, medians.
import { serve } from "@hono/node-server";
import type { AddressInfo } from "node:net";
import type { Isobox } from "../src/index.ts";
import { BENCH_ADMIN_TOKEN } from "./cluster-keys.ts";
import { load, median, table, type LoadResult } from "./load.ts";

const NOOP = `export default {
  tool(input) { return { ok: true } },
  fetch() { return Response.json({ ok: true }) },
}`;
const ARGS = { text: "hello" };

interface Target {
  label: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

export async function benchMcp(box: Isobox, options: { rounds: number; seconds: number; connections: number }): Promise<string> {
  await box.deploy("default", "noop", { code: NOOP, manifest: { routes: { auth: "public" }, tool: { description: "Does nothing" } } });
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: box.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const mcp = { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${BENCH_ADMIN_TOKEN}` };
  const envelope = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientInfo": { name: "bench", version: "1" }, "io.modelcontextprotocol/clientCapabilities": {} };
  const targets: Target[] = [
    {
      label: "MCP tools/call, 2026-07-28",
      url: `${base}/mcp/default`,
      headers: { ...mcp, "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "noop" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "noop", arguments: ARGS, _meta: envelope } }),
    },
    {
      label: "MCP tools/call, 2025 stateless",
      url: `${base}/mcp/default`,
      headers: mcp,
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "noop", arguments: ARGS } }),
    },
    { label: "the same function over /fn/", url: `${base}/fn/default/noop/`, headers: { "content-type": "application/json" }, body: JSON.stringify(ARGS) },
  ];
  try {
    for (const target of targets) {
      const check = await fetch(target.url, { method: "POST", headers: target.headers, body: target.body });
      const text = await check.text();
      if (!check.ok || !text.includes('"ok"')) throw new Error(`${target.label}: ${check.status} ${text.slice(0, 300)}`);
    }
    const results = new Map<string, LoadResult[]>(targets.map((t) => [t.label, []]));
    for (const t of targets) await load(t.url, { connections: options.connections, seconds: 1, method: "POST", headers: t.headers, body: t.body });
    for (let round = 0; round < options.rounds; round++) {
      for (const t of targets) results.get(t.label)!.push(await load(t.url, { ...options, method: "POST", headers: t.headers, body: t.body }));
    }
    const http = median(results.get("the same function over /fn/")!.map((r) => r.rps));
    return table(
      `MCP tools/call of a no-op tool, ${options.connections} concurrent clients, ${options.rounds}×${options.seconds}s interleaved, medians, runs recorded`,
      ["target", "calls/s", "vs /fn/", "p50 ms", "p99 ms", "errors"],
      [...results].map(([label, r]) => {
        const rps = median(r.map((x) => x.rps));
        return [label, rps, `${(rps / http).toFixed(2)}×`, median(r.map((x) => x.p50)), median(r.map((x) => x.p99)), r.reduce((n, x) => n + x.errors + x.non2xx, 0)];
      }),
    );
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

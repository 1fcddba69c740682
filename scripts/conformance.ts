// `npm run conformance`: the official MCP conformance suite's server scenarios against a node.
// With ISOBOX_URL and ISOBOX_TOKEN (an admin token) it tests that node; otherwise it starts one on
// a fresh data dir. It creates a tenant, deploys the fixture tools (conformance/fixtures.ts), and
// points the suite at /mcp/<tenant> through a local relay that adds the tenant's key: the suite
// sends no credentials, and Isobox's MCP endpoint requires them. Failures not listed in
// conformance/baseline.yml fail the run; the README says why each listed one fails.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createServer, request, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "@hono/node-server";
import { createIsobox } from "../src/index.ts";
import { FIXTURES } from "../conformance/fixtures.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const listFailures = process.argv.includes("--list-failures");
const given = process.argv.slice(2).filter((arg) => arg !== "--list-failures");
// By default, exactly what the 2026-07-28 revision requires; any suite options replace that.
const suiteArgs = given.length > 0 ? given : ["--requirements", "2026-07-28"];
const work = await mkdtemp(join(tmpdir(), "isobox-conformance-"));
const target = await nodeToTest();
try {
  const tenant = `conformance-${randomBytes(3).toString("hex")}`;
  const { apiKey } = await admin("POST", "/tenants", { name: tenant });
  for (const [name, { code, tool }] of Object.entries(FIXTURES)) await admin("PUT", `/tenants/${tenant}/functions/${name}`, { code, manifest: { tool, jobs: { maxAttempts: 1 } } });
  const relay = await startRelay(`${target.url}/mcp/${tenant}`, apiKey);
  const args = [join(root, "node_modules/@modelcontextprotocol/conformance/dist/index.js"), "server", "--url", relay.url, "--expected-failures", join(root, "conformance/baseline.yml"), "-o", join(work, "results"), ...suiteArgs];
  const code = await new Promise<number>((resolve) => spawn(process.execPath, args, { stdio: "inherit" }).on("exit", (exit) => resolve(exit ?? 1)));
  console.log(await tally(join(work, "results")));
  relay.close();
  process.exitCode = code;
} finally {
  await target.close();
  await rm(work, { recursive: true, force: true });
}

async function nodeToTest(): Promise<{ url: string; token: string; close(): Promise<void> }> {
  const url = process.env.ISOBOX_URL;
  const token = process.env.ISOBOX_TOKEN;
  if (url && token) return { url: url.replace(/\/+$/, ""), token, close: async () => {} };
  const box = await createIsobox({ dataDir: join(work, "data"), spareIsolates: 1 });
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: box.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    token: box.adminToken.value!,
    async close() {
      await new Promise((resolve) => server.close(resolve));
      await box.close();
    },
  };
}

async function admin(method: string, path: string, body: unknown): Promise<any> {
  const response = await fetch(`${target.url}/api${path}`, { method, headers: { authorization: `Bearer ${target.token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  const answer = await response.json();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(answer)}`);
  return answer;
}

/** Forwards every request, headers as sent (Host too), to `upstream` with `Authorization: Bearer <key>`. */
async function startRelay(upstream: string, key: string): Promise<{ url: string; close(): void }> {
  const to = new URL(upstream);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const headers = { ...req.headers, authorization: `Bearer ${key}` };
    const forwarded = request({ hostname: to.hostname, port: to.port, path: to.pathname, method: req.method, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forwarded.on("error", () => { if (!res.headersSent) res.writeHead(502); res.end(); });
    res.on("close", () => forwarded.destroy());
    req.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`, close: () => server.close() };
}

/** The suite's checks, counted from its result files; with --list-failures, each failed check and why. */
async function tally(dir: string): Promise<string> {
  const counts: Record<string, number> = {};
  const failed: string[] = [];
  const walk = async (at: string): Promise<void> => {
    for (const entry of await readdir(at, { withFileTypes: true }).catch(() => [])) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.name.endsWith(".json")) {
        const checks = JSON.parse(await readFile(path, "utf8"));
        for (const check of Array.isArray(checks) ? checks : []) {
          counts[check.status] = (counts[check.status] ?? 0) + 1;
          if (check.status === "FAILURE" || check.status === "WARNING") failed.push(`  ${check.status} ${entry.name === "checks.json" ? at.split("/").pop() : entry.name}: ${check.id}: ${String(check.errorMessage ?? "").slice(0, 300)}`);
        }
      }
    }
  };
  await walk(dir);
  const summary = `conformance checks: ${Object.entries(counts).map(([status, n]) => `${n} ${status}`).join(", ")}`;
  return listFailures ? [summary, ...failed].join("\n") : summary;
}

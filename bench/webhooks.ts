// Webhook acknowledgement under load: GitHub-signed deliveries, each a new event, answered 202
// after verification and the event + job insert; the jobs run meanwhile on the same node. Next to
// it, a plain Hono route answering 202 without verifying or storing: the floor of this server.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import type { AddressInfo } from "node:net";
import type { Isobox } from "../src/index.ts";
import { median, table } from "./load.ts";
import { BENCH_ADMIN_TOKEN, BENCH_MASTER_KEY } from "./cluster-keys.ts";

const run = promisify(execFile);
const LOADER = fileURLToPath(new URL("./webhook-load.ts", import.meta.url));
const SECRET = "bench-webhook-secret";

async function listen(fetch: (request: Request) => Response | Promise<Response>): Promise<{ close(): void; url: string }> {
  return new Promise((resolve) => {
    const server = serve({ fetch, port: 0, hostname: "127.0.0.1" }, (info: AddressInfo) => resolve({ close: () => server.close(), url: `http://127.0.0.1:${info.port}` }));
  });
}

async function load(url: string, connections: number, seconds: number) {
  const { stdout } = await run(process.execPath, [LOADER, url, String(connections), String(seconds), SECRET], { maxBuffer: 16 * 1024 * 1024 });
  const result = JSON.parse(stdout);
  return { rps: result.requests.average as number, p50: result.latency.p50 as number, p99: result.latency.p99 as number, bad: (result.errors + result.timeouts + result.non2xx) as number };
}

/** Deploys the receiving function with its secret; returns the intake URL once served. */
async function receiver(box: Isobox): Promise<{ close(): void; url: string }> {
  const secret = await box.fetch(new Request("http://box/api/tenants/default/secrets/BENCH_HOOK_SECRET", {
    method: "PUT", headers: { authorization: `Bearer ${BENCH_ADMIN_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ value: SECRET }),
  }));
  if (!secret.ok) throw new Error(`cannot set the webhook secret: ${await secret.text()}`);
  await box.deploy("default", "hook", {
    code: `export default { job(payload) { return payload.event.action } }`,
    manifest: { webhooks: [{ name: "github", verify: { scheme: "github", secret: "BENCH_HOOK_SECRET" } }] },
  });
  const served = await listen(box.app.fetch);
  return { close: served.close, url: `${served.url}/hooks/default/hook/github` };
}

/**
 * `boxes`: how to open each Isobox node to measure (one per database), by label. Each is opened,
 * measured and closed in turn: a node still running the jobs of its deliveries would slow the next.
 */
export async function benchWebhooks(boxes: [string, () => Promise<Isobox>][], options: { rounds: number; seconds: number; connections: number }): Promise<string> {
  const results = new Map<string, Awaited<ReturnType<typeof load>>[]>();
  const measure = async (label: string, url: string) => {
    results.set(label, []);
    for (let round = 0; round < options.rounds; round++) results.get(label)!.push(await load(url, options.connections, options.seconds));
  };
  for (const [label, open] of boxes) {
    const box = await open();
    const served = await receiver(box);
    try {
      await measure(`Isobox intake: verify, store, 202 (${label})`, served.url);
    } finally {
      served.close();
      await box.close();
    }
  }
  const plain = new Hono();
  plain.post("/", async (c) => c.json({ eventId: "x", jobId: "y", bytes: (await c.req.arrayBuffer()).byteLength }, 202));
  const hono = await listen(plain.fetch);
  try {
    await measure("plain Hono route answering 202", `${hono.url}/`);
  } finally {
    hono.close();
  }
  const targets = [...results.keys()].map((label) => ({ label }));
  const rows = targets.map(({ label }) => {
    const r = results.get(label)!;
    return [label, median(r.map((x) => x.rps)), median(r.map((x) => x.p50)), median(r.map((x) => x.p99)), r.reduce((n, x) => n + x.bad, 0)];
  });
  return table(
    `Webhook acknowledgement, GitHub-signed deliveries (each a new event and job, run meanwhile), ${options.connections} connections, ${options.rounds}×${options.seconds}s per target, medians`,
    ["target", "acks/s", "p50 ms", "p99 ms", "errors"],
    rows,
  );
}

// HTTP: requests/s and latency of a JSON hello function through Isobox (with every run recorded,
// the default, and with recording of successful runs off) against the same handler as a plain
// Hono route, both served by @hono/node-server in this Node process, and as a workerd worker
// (its own single-threaded process); rounds interleaved, medians.
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import type { AddressInfo } from "node:net";
import type { Isobox } from "../src/index.ts";
import { load, median, table, type LoadResult } from "./load.ts";
import { startWorkerd } from "./workerd.ts";

const HELLO = `export default { fetch(request) { return Response.json({ hello: "world" }) } }`;

interface Target {
  label: string;
  url: string;
  close(): Promise<void>;
}

function listen(label: string, path: string, fetch: (request: Request) => Response | Promise<Response>): Promise<Target> {
  return new Promise((resolve) => {
    const server = serve({ fetch, port: 0, hostname: "127.0.0.1" }, (info: AddressInfo) => resolve({
      label,
      url: `http://127.0.0.1:${info.port}${path}`,
      close: () => new Promise<void>((done) => server.close(() => done())),
    }));
  });
}

async function isoboxTarget(label: string, box: Isobox): Promise<Target> {
  await box.deploy("default", "hello", { code: HELLO, manifest: { routes: { auth: "public" } } });
  return listen(label, "/fn/default/hello/", box.app.fetch);
}

function honoTarget(): Promise<Target> {
  const plain = new Hono();
  plain.get("/", () => Response.json({ hello: "world" }));
  return listen("plain Hono route", "/", plain.fetch);
}

async function workerdTarget(): Promise<Target> {
  const workerd = await startWorkerd([{ name: "hello", code: HELLO }]);
  return { label: "workerd", url: `${workerd.url}/`, close: workerd.close };
}

export interface HttpTargets {
  /** Isobox with the default run recording. */
  recorded: Isobox;
  /** Isobox storing failed runs only. */
  unrecorded: Isobox;
}

export async function benchHttp(boxes: HttpTargets, options: { rounds: number; seconds: number; connections: number }): Promise<string> {
  const targets: Target[] = [];
  try {
    targets.push(await isoboxTarget("Isobox, runs recorded", boxes.recorded));
    targets.push(await isoboxTarget("Isobox, failed runs only", boxes.unrecorded));
    targets.push(await honoTarget());
    targets.push(await workerdTarget());
    return report(await measure(targets, options), options);
  } finally {
    for (const target of targets) await target.close();
  }
}

async function measure(targets: Target[], options: { rounds: number; seconds: number; connections: number }): Promise<Map<string, LoadResult[]>> {
  const results = new Map<string, LoadResult[]>(targets.map((t) => [t.label, []]));
  for (const { url } of targets) await load(url, { connections: options.connections, seconds: 1 }); // warm-up
  for (let round = 0; round < options.rounds; round++) {
    for (const { label, url } of targets) results.get(label)!.push(await load(url, options));
  }
  return results;
}

function report(results: Map<string, LoadResult[]>, options: { rounds: number; seconds: number; connections: number }): string {
  const rps = (label: string) => median(results.get(label)!.map((r) => r.rps));
  const ratio = (label: string, peer: string) => `${(rps(label) / rps(peer)).toFixed(2)}×`;
  const rows = [...results].map(([label, r]) => [
    label,
    rps(label),
    ratio(label, "plain Hono route"),
    ratio(label, "workerd"),
    median(r.map((x) => x.p50)),
    median(r.map((x) => x.p99)),
    r.reduce((n, x) => n + x.errors + x.non2xx, 0),
  ]);
  return table(
    `HTTP hello, ${options.connections} connections, ${options.rounds}×${options.seconds}s interleaved, medians`,
    ["target", "req/s", "vs Hono", "vs workerd", "p50 ms", "p99 ms", "errors"],
    rows,
  );
}

// HTTP: requests/s and latency of a JSON hello function through Isobox (with every run recorded,
// the default, and with recording of successful runs off) against the same handler as a plain
// Hono route, all served by @hono/node-server in this Node process; rounds interleaved, medians.
import { serve, type ServerType } from "@hono/node-server";
import { Hono } from "hono";
import type { AddressInfo } from "node:net";
import type { Isobox } from "../src/index.ts";
import { load, median, table, type LoadResult } from "./load.ts";

export const HELLO = `export default { fetch(request) { return Response.json({ hello: "world" }) } }`;

function listen(fetch: (request: Request) => Response | Promise<Response>): Promise<{ server: ServerType; url: string }> {
  return new Promise((resolve) => {
    const server = serve({ fetch, port: 0, hostname: "127.0.0.1" }, (info: AddressInfo) => resolve({ server, url: `http://127.0.0.1:${info.port}` }));
  });
}

export interface HttpTargets {
  /** Isobox with the default run recording. */
  recorded: Isobox;
  /** Isobox storing failed runs only. */
  unrecorded: Isobox;
}

export async function benchHttp(boxes: HttpTargets, options: { rounds: number; seconds: number; connections: number }): Promise<string> {
  const plain = new Hono();
  plain.get("/", () => Response.json({ hello: "world" }));
  const servers: { label: string; server: ServerType; url: string }[] = [];
  for (const [label, box] of [["Isobox, runs recorded", boxes.recorded], ["Isobox, failed runs only", boxes.unrecorded]] as const) {
    await box.deploy("default", "hello", { code: HELLO, manifest: { routes: { auth: "public" } } });
    const { server, url } = await listen(box.app.fetch);
    servers.push({ label, server, url: `${url}/fn/default/hello/` });
  }
  const hono = await listen(plain.fetch);
  servers.push({ label: "plain Hono route", server: hono.server, url: `${hono.url}/` });

  const results = new Map<string, LoadResult[]>(servers.map((s) => [s.label, []]));
  for (const { url } of servers) await load(url, { connections: options.connections, seconds: 1 }); // warm-up
  for (let round = 0; round < options.rounds; round++) {
    for (const { label, url } of servers) results.get(label)!.push(await load(url, options));
  }
  for (const { server } of servers) server.close();

  const honoRps = median(results.get("plain Hono route")!.map((r) => r.rps));
  const rows = servers.map(({ label }) => {
    const r = results.get(label)!;
    const rps = median(r.map((x) => x.rps));
    return [label, rps, `${(rps / honoRps).toFixed(2)}×`, median(r.map((x) => x.p50)), median(r.map((x) => x.p99)), r.reduce((n, x) => n + x.errors + x.non2xx, 0)];
  });
  return table(
    `HTTP hello, ${options.connections} connections, ${options.rounds}×${options.seconds}s interleaved, medians`,
    ["target", "req/s", "vs Hono", "p50 ms", "p99 ms", "errors"],
    rows,
  );
}

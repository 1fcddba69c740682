// HTTP: requests/s and latency of a JSON hello function through Isobox against the same handler
// as a plain Hono route, both served by @hono/node-server in this Node process; rounds
// interleaved, medians reported.
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

export async function benchHttp(box: Isobox, options: { rounds: number; seconds: number; connections: number }): Promise<string> {
  await box.deploy("default", "hello", { code: HELLO, manifest: { routes: { auth: "public" } } });
  const plain = new Hono();
  plain.get("/", () => Response.json({ hello: "world" }));
  const isobox = await listen(box.app.fetch);
  const hono = await listen(plain.fetch);
  const targets = { isobox: `${isobox.url}/fn/default/hello/`, hono: `${hono.url}/` };
  const results: Record<keyof typeof targets, LoadResult[]> = { isobox: [], hono: [] };
  for (const url of Object.values(targets)) await load(url, { connections: options.connections, seconds: 1 }); // warm-up
  for (let round = 0; round < options.rounds; round++) {
    for (const name of Object.keys(targets) as (keyof typeof targets)[]) {
      results[name].push(await load(targets[name], options));
    }
  }
  isobox.server.close();
  hono.server.close();
  const row = (name: keyof typeof targets) => {
    const r = results[name];
    return [name === "isobox" ? "Isobox (isolate)" : "plain Hono route", median(r.map((x) => x.rps)), median(r.map((x) => x.p50)), median(r.map((x) => x.p99)), r.reduce((n, x) => n + x.errors + x.non2xx, 0)];
  };
  const isoboxRow = row("isobox");
  const honoRow = row("hono");
  const ratio = (isoboxRow[1] as number) / (honoRow[1] as number);
  return table(
    `HTTP hello, ${options.connections} connections, ${options.rounds}×${options.seconds}s interleaved, medians (Isobox/Hono = ${ratio.toFixed(2)})`,
    ["target", "req/s", "p50 ms", "p99 ms", "errors"],
    [isoboxRow, honoRow],
  );
}

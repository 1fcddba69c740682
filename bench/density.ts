// Density: resident memory per idle warm function (each invoked once since its deploy) and how
// many such functions fit in 1 GiB, for Isobox (measured in a fresh process) and for workerd
// (one process serving N worker services, each its own isolate).
import { execFile } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { DensityMeasure } from "./density-isobox.ts";
import { table } from "./load.ts";
import { startWorkerd, type Workerd, type WorkerSource } from "./workerd.ts";

const run = promisify(execFile);
const PROBE = fileURLToPath(new URL("./density-isobox.ts", import.meta.url));
const GIB = 2 ** 30;
const MIB = 2 ** 20;
/** Far above any count that fits in 1 GiB, so that no warm isolate is evicted. */
const MAX_ISOLATES = "100000";

/** Forwards /<name> to the worker service of that name, so one socket reaches them all. */
const ROUTER = `export default { fetch(request, env) {
  const name = new URL(request.url).pathname.slice(1);
  return env[name] ? env[name].fetch(request) : new Response("no such worker", { status: 404 });
} }`;

async function measureIsobox(functions: number): Promise<DensityMeasure> {
  const { stdout } = await run(process.execPath, ["--no-node-snapshot", "--expose-gc", PROBE, String(functions)], {
    env: { ...process.env, ISOBOX_MAX_ISOLATES: MAX_ISOLATES },
    maxBuffer: 1024 * 1024,
  });
  return JSON.parse(stdout) as DensityMeasure;
}

/** workerd's resident memory once every worker behind the router has answered one request. */
async function workerdRss(workers: WorkerSource[]): Promise<number> {
  const router = { name: "router", code: ROUTER, services: workers.map((w) => w.name) };
  let workerd: Workerd | undefined;
  try {
    workerd = await startWorkerd([router, ...workers]);
    for (const { name } of workers) await (await fetch(`${workerd.url}/${name}`)).arrayBuffer();
    await sleep(1000);
    return await workerd.rssBytes();
  } finally {
    await workerd?.close();
  }
}

async function workerdPerFunction(functions: number): Promise<number> {
  const workers = Array.from({ length: functions }, (_, i) => ({ name: `density${i}`, code: `export default { fetch() { return Response.json({ n: ${i} }) } }` }));
  return ((await workerdRss(workers)) - (await workerdRss([]))) / functions;
}

const mib = (bytes: number) => `${(bytes / MIB).toFixed(2)} MiB`;
const perGib = (bytes: number) => Math.floor(GIB / bytes);
/** The first `functions` alone may already pass 1 GiB: then the count is only a bound. */
const fitted = (filled: number, functions: number, seconds: number) => `${filled > functions ? "" : "≤ "}${filled} (${Math.round(seconds)} s)`;

export async function benchDensity(options: { functions: number }): Promise<string> {
  const isobox = await measureIsobox(options.functions);
  const workerd = await workerdPerFunction(options.functions);
  return table(
    `Density: ${options.functions} distinct functions, each invoked once, then idle; resident memory per function`,
    ["runtime", "RSS per function", "V8 heap per isolate (used / committed)", "fit in 1 GiB (1 GiB ÷ RSS)", "fit in 1 GiB (deployed until RSS +1 GiB)"],
    [
      ["Isobox", mib(isobox.rssPerFunction), `${mib(isobox.heapUsedPerIsolate)} / ${mib(isobox.heapCommittedPerIsolate)}`, perGib(isobox.rssPerFunction),
        fitted(isobox.filled, options.functions, isobox.fillSeconds)],
      ["workerd", mib(workerd), "not measured", perGib(workerd), "not measured"],
    ],
  );
}

// Cold start over many functions: from a finished deploy to the first response, and the first
// request after the function's isolate was evicted (a node keeping fewer isolates than functions).
import { setTimeout as sleep } from "node:timers/promises";
import type { Isobox } from "../src/index.ts";
import { median, percentile, table } from "./load.ts";

/** Isolates the evicting node keeps: far fewer than the functions it serves. */
export const EVICTING_MAX_ISOLATES = 8;

async function deploy(box: Isobox, name: string, i: number): Promise<void> {
  const code = `export default { fetch() { return Response.json({ n: ${i} }) } }`;
  await box.deploy("default", name, { code, manifest: { routes: { auth: "public" } } });
}

/** One request's time in ms. */
async function timed(box: Isobox, name: string): Promise<number> {
  const started = performance.now();
  const response = await box.fetch(new Request(`http://bench/fn/default/${name}/`));
  await response.text();
  if (response.status !== 200) throw new Error(`cold start ${name}: ${response.status}`);
  return performance.now() - started;
}

// Let the spare pool refill, as it would between deploys.
const settle = () => sleep(20);

async function afterDeploy(box: Isobox, count: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const name = `cold-${Date.now().toString(36)}-${i}`;
    await deploy(box, name, i);
    await settle();
    times.push(await timed(box, name));
  }
  return times;
}

/** Every function called once, then each again: by then EVICTING_MAX_ISOLATES newer ones evicted it. */
async function afterEviction(box: Isobox, count: number): Promise<number[]> {
  const names = Array.from({ length: count }, (_, i) => `evicted-${Date.now().toString(36)}-${i}`);
  for (const [i, name] of names.entries()) {
    await deploy(box, name, i);
    await timed(box, name);
  }
  const times: number[] = [];
  for (const name of names) {
    await settle();
    times.push(await timed(box, name));
  }
  return times;
}

export async function benchColdStart(box: Isobox, evicting: Isobox, count: number): Promise<string> {
  const row = (what: string, times: number[]) => [what, median(times), percentile(times, 99), Math.max(...times)];
  return table(`Cold start (${count} functions)`, ["first request", "p50 ms", "p99 ms", "max ms"], [
    row("after deploy", await afterDeploy(box, count)),
    row(`after eviction (a node keeping ${EVICTING_MAX_ISOLATES} isolates)`, await afterEviction(evicting, count)),
  ]);
}

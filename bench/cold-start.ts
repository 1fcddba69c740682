// Cold start: time from a finished deploy to the first response, over many functions.
import type { Isobox } from "../src/index.ts";
import { median, percentile, table } from "./load.ts";

export async function benchColdStart(box: Isobox, count: number): Promise<string> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const name = `cold-${Date.now().toString(36)}-${i}`;
    const code = `export default { fetch() { return Response.json({ n: ${i} }) } }`;
    await box.deploy("default", name, { code, manifest: { routes: { auth: "public" } } });
    // Let the spare pool refill, as it would between deploys.
    await new Promise((r) => setTimeout(r, 20));
    const started = performance.now();
    const response = await box.fetch(new Request(`http://bench/fn/default/${name}/`));
    await response.text();
    times.push(performance.now() - started);
    if (response.status !== 200) throw new Error(`cold start ${name}: ${response.status}`);
  }
  return table(`Cold start, first request after deploy (${count} functions)`, ["p50 ms", "p99 ms", "max ms"], [[median(times), percentile(times, 99), Math.max(...times)]]);
}

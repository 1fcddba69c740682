// Runs in its own process (spawned by bench/density.ts, with --expose-gc), so that its resident
// memory holds only one Isobox and no other benchmark's leftovers. Deploys `functions` distinct
// functions, invokes each once and measures the resident memory their idle warm isolates add;
// then samples isolated-vm's heap statistics, and deploys more until the process grew by 1 GiB.
// argv: functions; prints a DensityMeasure as JSON.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Sandbox } from "../sandbox/host/sandbox.ts";
import { createIsobox, type Isobox } from "../src/index.ts";
import { median } from "./load.ts";
import { BENCH_ADMIN_TOKEN, BENCH_MASTER_KEY } from "./cluster-keys.ts";

export interface DensityMeasure {
  functions: number;
  rssPerFunction: number;
  heapUsedPerIsolate: number;
  heapCommittedPerIsolate: number;
  /** Functions deployed and invoked until the process grew by 1 GiB, deploys' storage included. */
  filled: number;
  fillSeconds: number;
}

const GIB = 2 ** 30;
/** Isolates booted outside the pool for heap statistics (the pool does not expose its own). */
const HEAP_SAMPLES = 10;

const gc = (globalThis as { gc?: () => void }).gc!;
const code = (i: number) => `export default { fetch() { return Response.json({ n: ${i} }) } }`;

/** Resident memory once the host's garbage is collected and the isolates' threads are quiet. */
async function settledRss(): Promise<number> {
  await sleep(1000);
  gc();
  return process.memoryUsage.rss();
}

async function deploy(box: Isobox, i: number): Promise<void> {
  await box.deploy("default", `density-${i}`, { code: code(i), manifest: { routes: { auth: "public" } } });
}

async function invoke(box: Isobox, i: number): Promise<void> {
  const response = await box.fetch(new Request(`http://bench/fn/default/density-${i}/`));
  await response.text();
  if (response.status !== 200) throw new Error(`density-${i}: ${response.status}`);
}

/** Deploys and invokes new functions from `next` on until the process is `GIB` above `start`. */
async function fill(box: Isobox, start: number, next: number): Promise<{ filled: number; fillSeconds: number }> {
  const began = performance.now();
  let i = next;
  while (process.memoryUsage.rss() - start < GIB || (await settledRss()) - start < GIB) {
    for (const end = i + 10; i < end; i++) {
      await deploy(box, i);
      await invoke(box, i);
    }
  }
  return { filled: i, fillSeconds: (performance.now() - began) / 1000 };
}

/** V8 heap of isolates booted, loaded and warmed as the pool does it: used and committed bytes. */
async function heapPerIsolate(): Promise<{ used: number; committed: number }> {
  const used: number[] = [];
  const committed: number[] = [];
  for (let i = 0; i < HEAP_SAMPLES; i++) {
    const sandbox = await Sandbox.boot(128, { warm: true });
    await sandbox.load(code(i), `file:///default/heap-${i}.js`, 1000);
    const stats = await sandbox.heapStatistics();
    used.push(stats.used_heap_size + stats.externally_allocated_size);
    committed.push(stats.total_heap_size + stats.externally_allocated_size);
    sandbox.dispose();
  }
  return { used: median(used), committed: median(committed) };
}

async function measure(box: Isobox, functions: number): Promise<DensityMeasure> {
  const start = await settledRss();
  for (let i = 0; i < functions; i++) await deploy(box, i);
  // Deployed but not yet loaded: what follows is the warm isolates alone.
  const deployed = await settledRss();
  for (let i = 0; i < functions; i++) await invoke(box, i);
  const warm = await settledRss();
  const heap = await heapPerIsolate();
  return {
    functions,
    rssPerFunction: (warm - deployed) / functions,
    heapUsedPerIsolate: heap.used,
    heapCommittedPerIsolate: heap.committed,
    ...(await fill(box, start, functions)),
  };
}

const functions = Number(process.argv[2]);
const dataDir = await mkdtemp(join(tmpdir(), "isobox-bench-density-"));
// Successful runs unrecorded: the run store's growth is not an isolate's cost.
const box = await createIsobox({ dataDir, masterKey: BENCH_MASTER_KEY, adminToken: BENCH_ADMIN_TOKEN, httpRunSampleRate: 0 });
try {
  process.stdout.write(JSON.stringify(await measure(box, functions)));
} finally {
  await box.close();
  await rm(dataDir, { recursive: true, force: true });
}

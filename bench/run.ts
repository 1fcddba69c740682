// npm run bench: every benchmark in one run on this machine, each table with its peer.
// `npm run bench -- --quick` for a short run; `--only jobs` (or http, mcp, cold-start, webhooks, density) for one of them.
import { cpus, totalmem } from "node:os";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createIsobox, type Isobox } from "../src/index.ts";
import { benchColdStart, EVICTING_MAX_ISOLATES } from "./cold-start.ts";
import { benchDensity } from "./density.ts";
import { benchHttp } from "./http.ts";
import { benchJobs } from "./jobs.ts";
import { benchMcp } from "./mcp.ts";
import { benchWebhooks } from "./webhooks.ts";
import { ensurePeers } from "./peers.ts";
import { workerdPackage } from "./workerd.ts";
import { scratchDatabase } from "./postgres.ts";
import { randomBytes } from "node:crypto";
import { BENCH_ADMIN_TOKEN, BENCH_MASTER_KEY } from "./cluster-keys.ts";

const quick = process.argv.includes("--quick");
const onlyAt = process.argv.indexOf("--only");
const only = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;
const wanted = (name: string) => only === undefined || only === name;
ensurePeers();
const dirs: string[] = [];
async function box(httpRunSampleRate: number, databaseUrl = process.env.DATABASE_URL, maxIsolates?: number): Promise<Isobox> {
  const dataDir = await mkdtemp(join(tmpdir(), "isobox-bench-"));
  dirs.push(dataDir);
  // On a shared Postgres each node needs the same master key.
  return createIsobox({ dataDir, databaseUrl, masterKey: BENCH_MASTER_KEY, adminToken: BENCH_ADMIN_TOKEN, httpRunSampleRate, maxIsolates });
}

console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, workerd ${workerdPackage().version}, ${process.env.DATABASE_URL ? "Postgres" : "PGlite"}`);
if (wanted("webhooks")) {
  // Without DATABASE_URL the first row is PGlite; a scratch database adds a Postgres row.
  const database = process.env.DATABASE_URL ? undefined : await scratchDatabase(`isobox_bench_hooks_${randomBytes(4).toString("hex")}`);
  const boxes: [string, () => Promise<Isobox>][] = [[process.env.DATABASE_URL ? "DATABASE_URL" : "PGlite", () => box(1)]];
  if (database) boxes.push(["Postgres", () => box(1, database.url)]);
  try {
    console.log(await benchWebhooks(boxes, { rounds: quick ? 1 : 3, seconds: quick ? 3 : 10, connections: 32 }));
  } finally {
    await database?.drop();
  }
}
if (wanted("http") || wanted("cold-start")) {
  const recorded = await box(1);
  const unrecorded = await box(0);
  try {
    if (wanted("http")) console.log(await benchHttp({ recorded, unrecorded }, { rounds: quick ? 1 : 3, seconds: quick ? 3 : 10, connections: 32 }));
    if (wanted("cold-start")) {
      const evicting = await box(1, undefined, EVICTING_MAX_ISOLATES);
      try {
        console.log(await benchColdStart(recorded, evicting, quick ? 20 : 200));
      } finally {
        await evicting.close();
      }
    }
  } finally {
    await recorded.close();
    await unrecorded.close();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  }
}
if (wanted("mcp")) {
  const recorded = await box(1);
  try {
    console.log(await benchMcp(recorded, { rounds: quick ? 1 : 3, seconds: quick ? 3 : 10, connections: 32 }));
  } finally {
    await recorded.close();
  }
}
// Measured in a fresh process and in workerd's, so this process's memory is not in it.
if (wanted("density")) console.log(await benchDensity({ functions: quick ? 100 : 300 }));
// Its own boxes and databases, after the others are closed so that their runners are not polling.
if (wanted("jobs")) console.log(await benchJobs({ jobs: quick ? 1000 : 5000, samples: quick ? 50 : 200, rounds: quick ? 1 : 3, concurrency: { isobox: 400, graphile: 50 } }));

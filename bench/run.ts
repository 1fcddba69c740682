// npm run bench: every benchmark in one run on this machine, each table with its peer.
// `npm run bench -- --quick` for a short run.
import { cpus, totalmem } from "node:os";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createIsobox, type Isobox } from "../src/index.ts";
import { benchColdStart } from "./cold-start.ts";
import { benchHttp } from "./http.ts";
import { ensurePeers } from "./peers.ts";

const quick = process.argv.includes("--quick");
ensurePeers();
const dirs: string[] = [];
async function box(httpRunSampleRate: number): Promise<Isobox> {
  const dataDir = await mkdtemp(join(tmpdir(), "isobox-bench-"));
  dirs.push(dataDir);
  // On a shared Postgres each node needs the same master key.
  return createIsobox({ dataDir, databaseUrl: process.env.DATABASE_URL, masterKey: process.env.ISOBOX_MASTER_KEY ?? "be1c".repeat(16), httpRunSampleRate });
}

const recorded = await box(1);
const unrecorded = await box(0);
console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.env.DATABASE_URL ? "Postgres" : "PGlite"}`);
try {
  console.log(await benchHttp({ recorded, unrecorded }, { rounds: quick ? 1 : 3, seconds: quick ? 3 : 10, connections: 32 }));
  console.log(await benchColdStart(recorded, quick ? 20 : 200));
} finally {
  await recorded.close();
  await unrecorded.close();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
}

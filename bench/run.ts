// npm run bench: every benchmark in one run on this machine, each table with its peer.
import { cpus, totalmem } from "node:os";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createIsobox } from "../src/index.ts";
import { benchColdStart } from "./cold-start.ts";
import { benchHttp } from "./http.ts";
import { ensurePeers } from "./peers.ts";

const quick = process.argv.includes("--quick");
ensurePeers();
const dataDir = await mkdtemp(join(tmpdir(), "isobox-bench-"));
const box = await createIsobox({ dataDir, databaseUrl: process.env.DATABASE_URL, httpRunSampleRate: Number(process.env.ISOBOX_HTTP_RUN_SAMPLE_RATE ?? 1) });
console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.env.DATABASE_URL ? "Postgres" : "PGlite"}`);
try {
  console.log(await benchHttp(box, { rounds: quick ? 1 : 3, seconds: quick ? 3 : 10, connections: 32 }));
  console.log(await benchColdStart(box, quick ? 20 : 200));
} finally {
  await box.close();
  await rm(dataDir, { recursive: true, force: true });
}

// isobox start: a supervisor and W worker processes on one port (node:cluster). A worker that
// dies is replaced; SIGTERM drains every worker, then exits 0. The supervisor relays metric
// snapshots between workers, so GET /metrics reports the whole node.
import cluster, { type Worker } from "node:cluster";
import { availableParallelism } from "node:os";
import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "@hono/node-server";
import { loadConfig, type ConfigInput } from "../config.ts";
import { createIsobox } from "../isobox.ts";
import { isConnectionError } from "../db/connect.ts";
import { relayNodeMetrics } from "../telemetry/metrics/cluster.ts";
import { consoleFiles } from "../console/assets.ts";
import type { AdminToken } from "../cluster/admin-token.ts";
import { apiClient } from "./client.ts";
import { deployFile } from "./deploy.ts";
import { CliError, output } from "./output.ts";
import { createServer } from "node:net";

export interface StartOptions extends ConfigInput {
  demo?: boolean;
}

/** examples/ at the package root: two levels up from src/cli, three from dist/src/cli. */
const EXAMPLES = [new URL("../../examples", import.meta.url), new URL("../../../examples", import.meta.url)]
  .map((url) => fileURLToPath(url))
  .find((dir) => existsSync(join(dir, "hello.ts")))!;
/** More deaths than this within a minute and the supervisor waits before replacing a worker. */
const RESTART_BURST = 10;
/** Workers in a row that die before serving, after which the supervisor gives up. */
const STARTUP_FAILURES = 3;

export async function start(options: StartOptions): Promise<void> {
  if (cluster.isPrimary) await supervise(options);
  else await runWorker(options);
}

/** Refuses a port that is taken, in one line, before any worker is started on it. */
async function checkPort(port: number, host: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once("error", (error: NodeJS.ErrnoException) => {
      reject(error.code === "EADDRINUSE" ? new CliError(`Port ${port} is in use on ${host}: pass --port <another> or set PORT`) : error);
    });
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

async function supervise(options: StartOptions): Promise<void> {
  const { demo, ...overrides } = options;
  const config = loadConfig(overrides);
  await checkPort(config.port, config.host);
  const embedded = !config.databaseUrl;
  // PGlite lives inside one process: the embedded database allows one worker.
  const workers = embedded ? 1 : config.workers || availableParallelism();
  if (embedded && config.workers > 1) console.error(`isobox: the embedded database serves one worker; set DATABASE_URL for ${config.workers}`);

  let stopping = false;
  const deaths: number[] = [];
  const serving = new WeakSet<Worker>();
  let failedStarts = 0;
  // A worker runs this same command line, so it parses the same options.
  const fork = () => {
    // Each worker enforces its share of a tenant's rate quotas (src/tenancy/quotas.ts).
    if (!stopping) cluster.fork({ ISOBOX_QUOTA_PROCESSES: String(config.quotaProcesses ?? workers) });
  };
  cluster.on("exit", (worker: Worker, code, signal) => {
    if (stopping) return;
    // A worker that dies before serving has a problem a restart will not fix (configuration,
    // database, master key): give up instead of looping.
    if (!serving.has(worker) && ++failedStarts >= STARTUP_FAILURES) {
      console.error(`isobox: ${failedStarts} workers exited before serving; stopping`);
      stopping = true;
      for (const other of Object.values(cluster.workers ?? {})) other?.process.kill("SIGTERM");
      process.exitCode = 1;
      return;
    }
    const now = Date.now();
    deaths.push(now);
    while (deaths.length && deaths[0] < now - 60_000) deaths.shift();
    console.error(`isobox: worker ${worker.process.pid} died (${signal ?? `exit ${code}`}); starting another`);
    setTimeout(fork, deaths.length > RESTART_BURST ? 5_000 : 0);
  });

  const url = `http://${config.host === "0.0.0.0" || config.host === "::" ? "localhost" : config.host}:${config.port}`;
  cluster.on("listening", (worker: Worker) => {
    serving.add(worker);
    failedStarts = 0;
  });
  // The first worker to serve names the cluster's admin token: workers of a fresh cluster share
  // the one generated into the data dir, or the cluster's.
  let announced = false;
  cluster.on("message", (_worker: Worker, message: { isoboxAdminToken?: AdminToken }) => {
    const token = message?.isoboxAdminToken;
    if (!token || announced) return;
    announced = true;
    console.log(`Isobox listening on ${url} (${workers} worker${workers > 1 ? "s" : ""}, ${embedded ? `embedded database in ${config.dataDir}` : "Postgres"})`);
    console.log(adminTokenLine(token));
    if (config.console) console.log(`Console: ${url}/ (sign in with the admin token or a tenant's API key)`);
    console.log(`MCP: ${url}/mcp/<tenant>, e.g. ${url}/mcp/default (Authorization: Bearer <the tenant's API key or the admin token>)`);
    if (demo && token.value) void deployExamples(url, token.value);
    else if (demo) console.error("isobox: --demo needs the admin token: set ISOBOX_ADMIN_TOKEN to the cluster's");
  });
  relayNodeMetrics((worker) => serving.has(worker));
  for (let i = 0; i < workers; i++) fork();

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    console.error(`isobox: ${signal}, draining`);
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGTERM");
    const deadline = setTimeout(() => process.exit(1), config.drainMs + 10_000);
    const check = setInterval(() => {
      if (Object.keys(cluster.workers ?? {}).length > 0) return;
      clearInterval(check);
      clearTimeout(deadline);
      console.error("isobox: stopped");
      process.exit(0);
    }, 50);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

function adminTokenLine(token: AdminToken): string {
  if (token.kind === "configured") return "Admin token: ISOBOX_ADMIN_TOKEN";
  if (token.kind === "cluster") return "Admin token: the cluster's (set by its first node)";
  return token.created ? `Admin token (shown once, saved in ${token.file}): ${token.value}` : `Admin token: in ${token.file}`;
}

async function deployExamples(url: string, token: string): Promise<void> {
  const client = apiClient({ url, token });
  const out = output(false);
  const files = (await readdir(EXAMPLES)).filter((f) => /\.(ts|js)$/.test(f) && !f.endsWith(".d.ts")).sort();
  for (const file of files) {
    try {
      await deployFile(client, out, join(EXAMPLES, file), {});
    } catch (error) {
      console.error(`isobox: demo ${file}: ${(error as Error).message}`);
    }
  }
}

/** How long a worker keeps trying to reach a database that is away (a restart of Postgres) before it gives up. */
const START_RETRY_MS = 120_000;

async function runWorker(options: StartOptions): Promise<void> {
  const { demo: _demo, ...overrides } = options;
  let box: Awaited<ReturnType<typeof createIsobox>>;
  for (let wait = 250, deadline = Date.now() + START_RETRY_MS; ; wait = Math.min(wait * 2, 5000)) {
    try {
      box = await createIsobox({ ...overrides, nodeMetrics: true });
      break;
    } catch (error) {
      // A worker started while the database is away (replacing one, during a restart) waits for it.
      if (isConnectionError(error) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, wait));
        continue;
      }
      console.error(`isobox: ${(error as Error).message}`);
      process.exit(1);
    }
  }
  const server = serve({ fetch: box.app.fetch, port: box.config.port, hostname: box.config.host });
  server.once("listening", () => process.send?.({ isoboxAdminToken: box.adminToken }));
  // A checkout builds the console's files on first use: built now, the first visit does not wait.
  if (box.config.console) void consoleFiles().catch((error: Error) => console.error(`isobox: the console's files: ${error.message}`));
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    server.close();
    await box.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop());
  // Ctrl-C reaches the whole process group; the supervisor decides.
  process.on("SIGINT", () => {});
}

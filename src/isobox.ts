// createIsobox: everything one node needs, assembled; usable on its own or inside another app.
import type { Hono } from "hono";
import type { AppEnv } from "./http/app-env.ts";
import { IsolatePool } from "../sandbox/host/pool.ts";
import { Fetcher, type Lookup } from "./capabilities/fetch.ts";
import { PrivateAllowList } from "./capabilities/egress.ts";
import { SecretStore } from "./capabilities/secrets.ts";
import { loadConfig, type Config, type ConfigInput } from "./config.ts";
import { connect, type Db } from "./db/connect.ts";
import { deployFunction, type Deployed, type DeployInput } from "./functions/deploy.ts";
import { Invoker } from "./functions/invoker.ts";
import { FunctionRegistry } from "./functions/registry.ts";
import { createApp } from "./http/app.ts";
import { Authenticator } from "./http/auth.ts";
import { ConsoleSessions } from "./console/sessions.ts";
import { Housekeeping } from "./housekeeping.ts";
import { RunRecorder } from "./runs/recorder.ts";
import { guestServices } from "./jobs/guest-services.ts";
import { Notifier } from "./jobs/notify.ts";
import { JobRunner } from "./jobs/runner.ts";
import { queueGauges } from "./jobs/queue.ts";
import { Metrics } from "./telemetry/metrics/counters.ts";
import { Scheduler } from "./jobs/cron.ts";
import { LiveLogs } from "./telemetry/live-logs.ts";
import { startTracing } from "./telemetry/tracing.ts";
import type { AdminToken } from "./cluster/admin-token.ts";
import { joinCluster } from "./cluster/join.ts";
import { ensureDefaultTenant } from "./tenancy/tenants.ts";
import { TenantLimiter } from "./tenancy/quotas.ts";

export interface IsoboxOptions extends ConfigInput {
  /** DNS resolution for the guests' fetch (tests use their own). */
  lookup?: Lookup;
  /** The environment the settings not given here are read from; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** GET /metrics sums every worker process of `isobox start` (its workers set this). */
  nodeMetrics?: boolean;
}

export interface Isobox {
  /** The Hono app: mount it with hostApp.route(prefix, box.app). */
  readonly app: Hono<AppEnv>;
  /** The same app as a fetch handler, for any fetch-style server. */
  fetch(request: Request): Promise<Response>;
  deploy(tenant: string, name: string, input: DeployInput): Promise<Deployed>;
  readonly config: Config;
  readonly db: Db;
  /** The admin token: configured, in the data dir (and whether this start generated it), or the cluster's (no value: its first node set it). */
  readonly adminToken: AdminToken;
  /** Waits for in-flight requests and job attempts (up to drainMs), returns unfinished jobs to the queue, flushes runs, closes the pool and the database. */
  close(): Promise<void>;
}

/** Per-function rows of isobox_jobs_queued a scrape reads at most (the rest are summed into "_other"). */
const METRICS_QUEUE_ROWS = 1000;

export async function createIsobox(options: IsoboxOptions = {}): Promise<Isobox> {
  const { lookup, env, nodeMetrics = false, ...overrides } = options;
  const config = loadConfig(overrides, env);
  const flushTraces = await startTracing(config);
  const db = await connect({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, schema: config.dbSchema });
  // The key and token come from the cluster's identity in the database (src/cluster/join.ts).
  const { masterKey, adminToken, adminTokenHash } = await joinCluster(db, config).catch(async (error) => { await db.close(); throw error; });
  await ensureDefaultTenant(db.orm);
  const secrets = new SecretStore(db, masterKey.box);
  await secrets.start().catch(async (error) => { await db.close(); throw error; });

  const defaults = { memoryMb: config.defaultMemoryMb, cpuMs: config.defaultCpuMs, wallMs: config.defaultWallMs, jobWallMs: 900_000 };
  const registry = new FunctionRegistry(db, defaults);
  await registry.start();
  const pool = new IsolatePool({ maxIsolates: config.maxIsolates, spares: config.spareIsolates, spareMemoryMb: config.defaultMemoryMb });
  // A deploy, rollback or delete on any node: old versions' isolates go, the serving one stays.
  registry.onChange((tenant, name) => {
    void registry.get(tenant, name).then(
      (fn) => pool.retire(`${tenant}/${name}@`, fn?.image.key),
      () => pool.retire(`${tenant}/${name}@`),
    );
  });
  void pool.warmUp();
  // PGlite writes on this thread: a batch of 500 runs held the event loop ~15 ms, the HTTP p99
  // (17 ms at 11,700 req/s, hello, 2 cores); batches of 100 give 9 ms for ~7% of the throughput.
  const recorder = new RunRecorder(db, db.kind === "pglite" ? { batchSize: 100 } : {});
  const metrics = new Metrics({ isolates: () => pool.stats(), runs: () => recorder.stats(), jobs: () => queueGauges(db, METRICS_QUEUE_ROWS) });
  const fetcher = new Fetcher({ allowPrivate: new PrivateAllowList(config.egressAllowPrivate), lookup });
  const liveLogs = new LiveLogs(db);
  await liveLogs.start();
  const limiter = new TenantLimiter(db.orm, {
    functions: config.quotaFunctions,
    memoryMb: config.quotaMemoryMb,
    concurrency: config.quotaConcurrency,
    requestsPerSecond: config.quotaRequestsPerSecond,
    cpuMsPerMinute: config.quotaCpuMsPerMinute,
    schedules: config.quotaSchedules,
  }, config.quotaProcesses ?? 1);
  const invoker = new Invoker({
    pool, fetcher, recorder, secrets, limiter, liveLogs,
    httpSampleRate: config.httpRunSampleRate,
    maxSubrequests: config.maxSubrequests,
    services: (fn, traceId) => guestServices(db, fn, traceId),
  });
  const auth = new Authenticator(db, adminTokenHash);
  const sessions = new ConsoleSessions(db, auth, config.consoleSessionIdleHours * 3_600_000);
  const notifier = new Notifier(db, fetcher, secrets);
  const housekeeping = new Housekeeping(db, notifier, sessions, config);
  housekeeping.start();
  const runner = config.jobRunner ? new JobRunner({ db, registry, invoker, notifier, metrics }, {
    concurrency: config.jobConcurrency,
    leaseMs: config.jobLeaseMs,
    pollMs: config.jobPollMs,
    jobCpuMs: config.jobCpuMs,
  }) : undefined;
  await runner?.start();
  const scheduler = config.scheduler ? new Scheduler(db, registry) : undefined;
  scheduler?.start();

  let ready = true;
  let inflight = 0;
  let drained: (() => void) | undefined;
  const app = createApp({ config, db, registry, invoker, auth, sessions, secrets, limiter, notifier, metrics, nodeMetrics, liveLogs, rotateKey: () => masterKey.rotate(secrets), isReady: () => ready }, async (_, next) => {
    // Counts requests, however the app is mounted, so close() can wait for them.
    inflight++;
    try {
      await next();
    } finally {
      if (--inflight === 0) drained?.();
    }
  });

  let closing: Promise<void> | undefined;
  const close = () => closing ??= (async () => {
    ready = false;
    await scheduler?.stop();
    // Followers' log streams would hold the drain below open: they end first.
    await liveLogs.stop();
    const requests = inflight === 0 ? undefined : new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, config.drainMs);
      drained = () => { clearTimeout(timer); resolve(); };
    });
    // Running job attempts get the same drain time; what is left goes back to the queue.
    await Promise.all([requests, runner?.close(config.drainMs)]);
    await registry.stop();
    await secrets.stop();
    // waitUntil work gets the drain time too; then the pool ends what is left.
    await Promise.race([invoker.drain(), new Promise((resolve) => setTimeout(resolve, config.drainMs).unref())]);
    await pool.close();
    await invoker.drain();
    await recorder.close();
    await housekeeping.stop();
    await fetcher.close();
    await flushTraces?.();
    await db.close();
  })();

  return {
    app,
    fetch: (request) => Promise.resolve(app.fetch(request)),
    deploy: (tenant, name, input) => deployFunction(db, registry, limiter, secrets, tenant, name, input),
    config,
    db,
    adminToken,
    close,
  };
}

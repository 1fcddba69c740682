// Metrics: one process's counters for Prometheus and their snapshots as plain data. The request
// path is two Map lookups, a few array increments and a linear scan of 14 bucket bounds, with no
// allocation once a series exists: ≈ 40 ns per recorded request on the 2-vCPU bench machine (5M
// calls), plus the two performance.now() of src/http/function-requests.ts (≈ 65 ns each).
// Hand-written rather than prom-client: its `labels(...).inc()` hashes a label object into a
// string key on every call, and the series bound ("_other" folding) would sit on top of it anyway.
// Snapshots are summed (node-sum.ts) and rendered (render.ts) at scrape time only.
import type { PoolStats } from "../../../sandbox/host/pool.ts";
import type { QueueGauges } from "../../jobs/queue.ts";
import type { RecorderStats } from "../../runs/recorder.ts";
import { renderNode } from "./render.ts";
import { sumSnapshots } from "./node-sum.ts";

/** Upper bounds (seconds) of the invocation duration histogram: 1 ms … 30 s (the default wall clock). */
export const DURATION_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Label value of series folded together once the bound on (tenant, function) series is reached. */
export const OTHER = "_other";

/** Default bound on (tenant, function) series of the HTTP metrics. */
export const MAX_HTTP_SERIES = 2000;

/** The status label: the class of the HTTP status ("2xx" … "5xx"), five values at most per series. */
export const STATUS_CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx"] as const;

/**
 * Scrapes within this long of a job-queue read share it: /metrics may be open, and a flood of
 * scrapes must not become a flood of queries (one a second per process at most).
 */
const JOBS_READ_REUSE_MS = 1000;

export interface HttpSeries {
  tenant: string;
  function: string;
  /**
   * When the series began (ms since the epoch, sub-millisecond): summing several processes keeps
   * the earliest series under the bound, so a series that exists never gives way to a newer one.
   */
  created: number;
  /** Requests by status class: index 0 is 1xx, 4 is 5xx. */
  statuses: Float64Array;
  /** Isobox errors (ERR_ codes) by code. */
  errors: Map<string, number>;
  /** Per-bucket counts, not cumulative; the last one is +Inf. */
  buckets: Float64Array;
  sum: number;
  count: number;
}

/** One HTTP series as plain data (arrays, not typed arrays or maps): snapshots cross the cluster IPC channel as JSON. */
export interface HttpSeriesSnapshot {
  tenant: string;
  function: string;
  created: number;
  statuses: number[];
  errors: [string, number][];
  buckets: number[];
  sum: number;
  count: number;
}

/** The host process's own resource use at snapshot time. */
export interface ProcessStats {
  residentBytes: number;
  heapUsedBytes: number;
  cpuSeconds: number;
  startTimeSeconds: number;
}

/**
 * One process's metrics at one instant, as plain data. The job queue gauges are not in it: they
 * come from the shared database, read once per scrape by the process that renders.
 */
export interface MetricsSnapshot {
  http: HttpSeriesSnapshot[];
  attempts: [string, number][];
  /** MCP tools/call answers by outcome. */
  mcp: [string, number][];
  isolates?: PoolStats;
  runs?: RecorderStats;
  process: ProcessStats;
}

/** What one scrape sums: the snapshots of the worker processes that answered, and how many the node has (NaN: unknown). */
export interface NodeSnapshots {
  snapshots: MetricsSnapshot[];
  workers: number;
}

/** What the process's parts report when a scrape asks. */
export interface MetricSources {
  isolates?(): PoolStats;
  runs?(): RecorderStats;
  jobs?(): Promise<QueueGauges>;
}

export interface MetricsOptions {
  /** (tenant, function) series of the HTTP metrics before new functions fold into "_other". */
  maxSeries?: number;
}

/**
 * HTTP series by (tenant, function), oldest first. They exist only for functions that resolved,
 * so requests for made-up names cannot grow them; past `maxSeries` a new function is counted as
 * function="_other" of its tenant (at most maxSeries/10 of those), and past that as
 * tenant="_other", function="_other". Series live as long as the process, like any counter.
 */
export class HttpSeriesSet {
  private readonly byTenant = new Map<string, Map<string, HttpSeries>>();
  /** Every series, oldest first: what snapshots list, in the order sums need. */
  readonly series: HttpSeries[] = [];
  readonly maxSeries: number;
  private readonly maxOther: number;

  constructor(maxSeries: number) {
    this.maxSeries = maxSeries;
    this.maxOther = Math.max(1, Math.floor(maxSeries / 10));
  }

  /** The series a function's requests count in: its own, or the "_other" one it folds into. */
  of(tenant: string, fn: string): HttpSeries {
    const found = this.byTenant.get(tenant)?.get(fn);
    if (found) return found;
    if (this.series.length < this.maxSeries) return this.create(tenant, fn);
    const own = this.byTenant.get(tenant)?.get(OTHER);
    if (own) return own;
    if (this.series.length < this.maxSeries + this.maxOther) return this.create(tenant, OTHER);
    return this.byTenant.get(OTHER)?.get(OTHER) ?? this.create(OTHER, OTHER);
  }

  /** Adds another process's series into this set (summing a node). */
  add(from: HttpSeriesSnapshot): void {
    const series = this.of(from.tenant, from.function);
    for (let i = 0; i < series.statuses.length; i++) series.statuses[i] += from.statuses[i];
    for (const [code, count] of from.errors) series.errors.set(code, (series.errors.get(code) ?? 0) + count);
    for (let i = 0; i < series.buckets.length; i++) series.buckets[i] += from.buckets[i];
    series.sum += from.sum;
    series.count += from.count;
  }

  private create(tenant: string, fn: string): HttpSeries {
    let byFunction = this.byTenant.get(tenant);
    if (!byFunction) this.byTenant.set(tenant, (byFunction = new Map()));
    const series: HttpSeries = {
      tenant,
      function: fn,
      created: performance.timeOrigin + performance.now(),
      statuses: new Float64Array(STATUS_CLASSES.length),
      errors: new Map(),
      buckets: new Float64Array(DURATION_BUCKETS.length + 1),
      sum: 0,
      count: 0,
    };
    byFunction.set(fn, series);
    this.series.push(series);
    return series;
  }
}

/** The counters of one Isobox (one process). */
export class Metrics {
  private readonly http: HttpSeriesSet;
  private readonly attempts = new Map<string, number>();
  private readonly mcp = new Map<string, number>();
  private readonly sources: MetricSources;
  private jobsRead: { at: number; gauges: Promise<QueueGauges | undefined> } | undefined;

  constructor(sources: MetricSources = {}, options: MetricsOptions = {}) {
    this.sources = sources;
    this.http = new HttpSeriesSet(options.maxSeries ?? MAX_HTTP_SERIES);
  }

  /** One request to a function through /fn/: its HTTP status, duration, and Isobox error code if it failed. */
  httpRequest(tenant: string, fn: string, status: number, seconds: number, errorCode?: string): void {
    const series = this.http.of(tenant, fn);
    const statusClass = Math.trunc(status / 100) - 1;
    if (statusClass >= 0 && statusClass < STATUS_CLASSES.length) series.statuses[statusClass]++;
    if (errorCode !== undefined) series.errors.set(errorCode, (series.errors.get(errorCode) ?? 0) + 1);
    let bucket = 0;
    while (bucket < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[bucket]) bucket++;
    series.buckets[bucket]++;
    series.sum += seconds;
    series.count++;
  }

  /** One ended job attempt (see JobRunner): succeeded, failed, retry, sleep, released or cancelled. */
  jobAttempt(outcome: string): void {
    this.attempts.set(outcome, (this.attempts.get(outcome) ?? 0) + 1);
  }

  /** One MCP tools/call answered: ok, error (isError), task (a task handle) or pending (a job still running). */
  mcpCall(outcome: string): void {
    this.mcp.set(outcome, (this.mcp.get(outcome) ?? 0) + 1);
  }

  /** This process's metrics now, as plain data: what a worker sends for a node-wide scrape. */
  snapshot(): MetricsSnapshot {
    const memory = process.memoryUsage();
    const cpu = process.cpuUsage();
    return {
      http: this.http.series.map((s) => ({
        tenant: s.tenant,
        function: s.function,
        created: s.created,
        statuses: Array.from(s.statuses),
        errors: [...s.errors],
        buckets: Array.from(s.buckets),
        sum: s.sum,
        count: s.count,
      })),
      attempts: [...this.attempts],
      mcp: [...this.mcp],
      isolates: this.sources.isolates?.(),
      runs: this.sources.runs?.(),
      process: {
        residentBytes: memory.rss,
        heapUsedBytes: memory.heapUsed,
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
        startTimeSeconds: Math.round((Date.now() - process.uptime() * 1000) / 1000),
      },
    };
  }

  /**
   * The exposition text of `node`'s snapshots summed; by default this process's alone. The job
   * queue gauges are read here, once, however many processes answered.
   */
  async render(node: NodeSnapshots = { snapshots: [this.snapshot()], workers: 1 }): Promise<string> {
    const jobs = await this.readJobs();
    return renderNode(sumSnapshots(node.snapshots, this.http.maxSeries), node, jobs);
  }

  private readJobs(): Promise<QueueGauges | undefined> {
    const read = this.sources.jobs;
    if (!read) return Promise.resolve(undefined);
    const now = performance.now();
    if (this.jobsRead && now - this.jobsRead.at < JOBS_READ_REUSE_MS) return this.jobsRead.gauges;
    const gauges = read().catch((error: unknown) => {
      // The other metrics are still worth a scrape while the database is away.
      console.error("isobox: metrics: cannot read the job queue", error);
      return undefined;
    });
    this.jobsRead = { at: now, gauges };
    return gauges;
  }
}

// Metrics: per-process counters for Prometheus, their snapshots, and the text exposition (format
// 0.0.4) of one or several processes' snapshots summed (src/telemetry/cluster-metrics.ts gathers
// the workers' of `isobox start`).
//
// Hand-written rather than prom-client (which the registry has, 15.x): prom-client's
// `labels(...).inc()` hashes a label object into a string key on every call, and the cardinality
// bound below ("_other" folding) would sit on top of it anyway. Here the request path is two Map
// lookups, a few array increments and a linear scan of 14 bucket bounds, with no allocation once
// a series exists: ≈ 40 ns per recorded request on the 2-vCPU bench machine (5M calls), plus the
// two performance.now() of src/http/invoke.ts (≈ 65 ns each). Snapshots and sums happen at scrape
// time only. The renderer is ~110 lines; a new runtime dependency is not worth that (DESIGN.md
// section 9).
import type { PoolStats } from "../../sandbox/host/pool.ts";

/** Upper bounds (seconds) of the invocation duration histogram: 1 ms … 30 s (the default wall clock). */
export const DURATION_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Label value of series folded together once the bound on (tenant, function) series is reached. */
export const OTHER = "_other";

/**
 * Scrapes within this long of a job-queue read share it: /metrics may be open, and a flood of
 * scrapes must not become a flood of queries (one a second per process at most).
 */
const JOBS_READ_REUSE_MS = 1000;

/** Default bound on (tenant, function) series of the HTTP metrics. */
export const MAX_HTTP_SERIES = 2000;

/** The status label: the class of the HTTP status ("2xx" … "5xx"), five values at most per series. */
const STATUS_CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx"] as const;

interface HttpSeries {
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

/** What the isolate pool reports at scrape time (IsolatePool.stats()). */
export type IsolateStats = PoolStats;

/** What the job queue reports at scrape time (queueGauges in jobs/queue.ts). */
export interface JobGauges {
  /** Queued jobs (due or waiting for their run time) per function; the largest first, capped. */
  queued: { tenant: string; function: string; count: number }[];
  /** Queued jobs of the functions left out of `queued` by the cap. */
  queuedOther: number;
  running: number;
  /** How long the job that has been due the longest has waited; 0 when none is due. */
  oldestQueuedAgeSeconds: number;
}

/** What the run recorder reports at scrape time. */
export interface RunStats {
  /** Runs written to the database. */
  written: number;
  /** Runs lost: the buffer overflowed while the database was away, or it refused a batch for good. */
  dropped: number;
  /** Successful HTTP runs not stored (ISOBOX_HTTP_RUN_SAMPLE_RATE). */
  sampledOut: number;
  /** Runs waiting to be written. */
  buffered: number;
}

export interface MetricSources {
  isolates?(): IsolateStats;
  runs?(): RunStats;
  jobs?(): Promise<JobGauges>;
}

export interface MetricsOptions {
  /** (tenant, function) series of the HTTP metrics before new functions fold into "_other". */
  maxSeries?: number;
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
  isolates?: IsolateStats;
  runs?: RunStats;
  process: ProcessStats;
}

/** What one scrape sums: the snapshots of the worker processes that answered, and how many the node has (NaN: unknown). */
export interface NodeSnapshots {
  snapshots: MetricsSnapshot[];
  workers: number;
}

/**
 * The counters of one Isobox (one process). HTTP series exist only for functions that resolved, so
 * requests for made-up names cannot grow them; past `maxSeries` a new function is counted as
 * function="_other" of its tenant (at most maxSeries/10 of those), and past that as
 * tenant="_other", function="_other". Series live as long as the process, like any counter.
 */
export class Metrics {
  private readonly http = new Map<string, Map<string, HttpSeries>>();
  /** Every series of `http`, oldest first: what snapshots list, in the order sums need. */
  private readonly series: HttpSeries[] = [];
  private readonly maxSeries: number;
  private readonly maxOther: number;
  private readonly attempts = new Map<string, number>();
  private readonly sources: MetricSources;
  private jobsRead: { at: number; gauges: Promise<JobGauges | undefined> } | undefined;

  constructor(sources: MetricSources = {}, options: MetricsOptions = {}) {
    this.sources = sources;
    this.maxSeries = options.maxSeries ?? MAX_HTTP_SERIES;
    this.maxOther = Math.max(1, Math.floor(this.maxSeries / 10));
  }

  /** One request to a function through /fn/: its HTTP status, duration, and Isobox error code if it failed. */
  httpRequest(tenant: string, fn: string, status: number, seconds: number, errorCode?: string): void {
    const series = this.http.get(tenant)?.get(fn) ?? this.newSeries(tenant, fn);
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

  /** This process's metrics now, as plain data: what a worker sends for a node-wide scrape. */
  snapshot(): MetricsSnapshot {
    const memory = process.memoryUsage();
    const cpu = process.cpuUsage();
    return {
      http: this.series.map((s) => ({
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
   * The exposition text (Prometheus text format 0.0.4) of `node`'s snapshots summed; by default
   * this process's alone. The job queue gauges are read here, once, however many processes answered.
   */
  async render(node: NodeSnapshots = { snapshots: [this.snapshot()], workers: 1 }): Promise<string> {
    const jobs = await this.readJobs();
    const total = this.sum(node.snapshots);
    const out = new Exposition();
    total.renderHttp(out);
    if (jobs) renderJobs(out, jobs);
    if (total.attempts.size > 0) {
      out.family("isobox_job_attempts_total", "counter", "Job attempts the node's worker processes ended, by outcome (succeeded, failed, retry, sleep, released, cancelled).");
      for (const [outcome, count] of total.attempts) out.sample("isobox_job_attempts_total", { outcome }, count);
    }
    renderIsolates(out, node.snapshots);
    renderRuns(out, node.snapshots);
    renderProcess(out, node.snapshots);
    renderWorkers(out, node);
    return out.text();
  }

  private readJobs(): Promise<JobGauges | undefined> {
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

  /**
   * A registry of `snapshots` summed, under this one's bound. Series go in oldest first, across
   * processes, so the ones past the bound fold into "_other" as in their own process, and a series
   * already shown is never pushed out by a newer one (unless a worker holding it is missing).
   */
  private sum(snapshots: readonly MetricsSnapshot[]): Metrics {
    const total = new Metrics({}, { maxSeries: this.maxSeries });
    // A stable sort: one process's series with equal times keep their creation order.
    for (const series of snapshots.flatMap((s) => s.http).sort((a, b) => a.created - b.created)) total.add(series);
    for (const { attempts } of snapshots) {
      for (const [outcome, count] of attempts) total.attempts.set(outcome, (total.attempts.get(outcome) ?? 0) + count);
    }
    return total;
  }

  private add(from: HttpSeriesSnapshot): void {
    const series = this.http.get(from.tenant)?.get(from.function) ?? this.newSeries(from.tenant, from.function);
    for (let i = 0; i < series.statuses.length; i++) series.statuses[i] += from.statuses[i];
    for (const [code, count] of from.errors) series.errors.set(code, (series.errors.get(code) ?? 0) + count);
    for (let i = 0; i < series.buckets.length; i++) series.buckets[i] += from.buckets[i];
    series.sum += from.sum;
    series.count += from.count;
  }

  private renderHttp(out: Exposition): void {
    out.family("isobox_http_requests_total", "counter", "Requests to functions through /fn/, by status class (1xx to 5xx).");
    for (const series of this.series) {
      for (let i = 0; i < STATUS_CLASSES.length; i++) {
        if (series.statuses[i] > 0) out.sample("isobox_http_requests_total", { tenant: series.tenant, function: series.function, status: STATUS_CLASSES[i] }, series.statuses[i]);
      }
    }
    out.family("isobox_http_request_errors_total", "counter", "Requests to functions through /fn/ that ended in an Isobox error, by its code.");
    for (const series of this.series) {
      for (const [code, count] of series.errors) out.sample("isobox_http_request_errors_total", { tenant: series.tenant, function: series.function, code }, count);
    }
    const name = "isobox_http_request_duration_seconds";
    out.family(name, "histogram", "Time from a request's arrival at /fn/ to its response, in seconds.");
    for (const series of this.series) {
      const labels = { tenant: series.tenant, function: series.function, le: "" };
      let cumulative = 0;
      for (let i = 0; i <= DURATION_BUCKETS.length; i++) {
        cumulative += series.buckets[i];
        labels.le = i < DURATION_BUCKETS.length ? String(DURATION_BUCKETS[i]) : "+Inf";
        out.sample(`${name}_bucket`, labels, cumulative);
      }
      out.sample(`${name}_sum`, { tenant: series.tenant, function: series.function }, series.sum);
      out.sample(`${name}_count`, { tenant: series.tenant, function: series.function }, series.count);
    }
  }

  /** A series for a function seen for the first time, or the "_other" series it folds into. */
  private newSeries(tenant: string, fn: string): HttpSeries {
    if (this.series.length < this.maxSeries) return this.create(tenant, fn);
    const own = this.http.get(tenant)?.get(OTHER);
    if (own) return own;
    if (this.series.length < this.maxSeries + this.maxOther) return this.create(tenant, OTHER);
    return this.http.get(OTHER)?.get(OTHER) ?? this.create(OTHER, OTHER);
  }

  private create(tenant: string, fn: string): HttpSeries {
    let byFunction = this.http.get(tenant);
    if (!byFunction) this.http.set(tenant, (byFunction = new Map()));
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

function renderJobs(out: Exposition, jobs: JobGauges): void {
  out.family("isobox_jobs_queued", "gauge", "Queued jobs (due or waiting for their run time) per function, the largest first; past the row cap the rest under tenant and function \"_other\". From the shared database, read once per scrape: every node reports the same.");
  for (const row of jobs.queued) out.sample("isobox_jobs_queued", { tenant: row.tenant, function: row.function }, row.count);
  if (jobs.queuedOther > 0) out.sample("isobox_jobs_queued", { tenant: OTHER, function: OTHER }, jobs.queuedOther);
  out.family("isobox_jobs_running", "gauge", "Jobs running on any node (from the shared database).");
  out.sample("isobox_jobs_running", undefined, jobs.running);
  out.family("isobox_jobs_oldest_queued_age_seconds", "gauge", "How long the job that has been due the longest has waited to start; 0 when none is due.");
  out.sample("isobox_jobs_oldest_queued_age_seconds", undefined, jobs.oldestQueuedAgeSeconds);
}

/** One figure summed over the processes' reports. */
function sumOf<T>(reports: readonly T[], pick: (report: T) => number): number {
  return reports.reduce((sum, report) => sum + pick(report), 0);
}

/** The isolate pools' gauges and kills, summed over the processes that have a pool. */
function renderIsolates(out: Exposition, snapshots: readonly MetricsSnapshot[]): void {
  const pools = snapshots.flatMap((s) => s.isolates ?? []);
  if (pools.length === 0) return;
  const total = (pick: (stats: IsolateStats) => number) => sumOf(pools, pick);
  out.family("isobox_isolates_alive", "gauge", "Isolates holding a loaded function.");
  out.sample("isobox_isolates_alive", undefined, total((s) => s.alive));
  out.family("isobox_isolates_spare", "gauge", "Pre-booted isolates waiting for a function.");
  out.sample("isobox_isolates_spare", undefined, total((s) => s.spare));
  out.family("isobox_limit_kills_total", "counter", "Guest code stopped for a limit: cpu and memory count isolates disposed, wall counts invocations abandoned at their wall-clock limit.");
  for (const limit of ["cpu", "memory", "wall"] as const) out.sample("isobox_limit_kills_total", { limit }, total((s) => s.kills[limit]));
  out.family("isobox_work_stopped_total", "counter", "Timers, fetches and service calls an invocation left running when it ended, stopped then.");
  out.sample("isobox_work_stopped_total", undefined, total((s) => s.stoppedWork ?? 0));
}

/** The run recorders' counts, summed: whether recording keeps up, and what sampling left out. */
function renderRuns(out: Exposition, snapshots: readonly MetricsSnapshot[]): void {
  const recorders = snapshots.flatMap((s) => s.runs ?? []);
  if (recorders.length === 0) return;
  const total = (pick: (stats: RunStats) => number) => sumOf(recorders, pick);
  out.family("isobox_runs_recorded_total", "counter", "Runs written to the database.");
  out.sample("isobox_runs_recorded_total", undefined, total((s) => s.written));
  out.family("isobox_runs_dropped_total", "counter", "Runs lost: the buffer overflowed while the database was away, or the database refused a batch for good.");
  out.sample("isobox_runs_dropped_total", undefined, total((s) => s.dropped));
  out.family("isobox_runs_sampled_out_total", "counter", "Successful HTTP runs not stored (ISOBOX_HTTP_RUN_SAMPLE_RATE); the request counters count them.");
  out.sample("isobox_runs_sampled_out_total", undefined, total((s) => s.sampledOut));
  out.family("isobox_runs_buffered", "gauge", "Runs waiting to be written.");
  out.sample("isobox_runs_buffered", undefined, total((s) => s.buffered));
}

/**
 * Host resource use summed over the worker processes: the node's memory and CPU in one series
 * each, however often workers are replaced (a pid label would add series at every restart).
 */
function renderProcess(out: Exposition, snapshots: readonly MetricsSnapshot[]): void {
  const total = (pick: (stats: ProcessStats) => number) => sumOf(snapshots.map((s) => s.process), pick);
  out.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes, summed over the worker processes.");
  out.sample("process_resident_memory_bytes", undefined, total((s) => s.residentBytes));
  out.family("nodejs_heap_used_bytes", "gauge", "V8 heap used by the hosts, summed over the worker processes (isolates' heaps are not in it).");
  out.sample("nodejs_heap_used_bytes", undefined, total((s) => s.heapUsedBytes));
  out.family("process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds, summed over the worker processes (isolates' threads included).");
  out.sample("process_cpu_seconds_total", undefined, total((s) => s.cpuSeconds));
  out.family("process_start_time_seconds", "gauge", "Start time of the newest worker process since the Unix epoch, in seconds: it moves whenever a worker starts, and with it the sums of counters may drop.");
  out.sample("process_start_time_seconds", undefined, Math.max(...snapshots.map((s) => s.process.startTimeSeconds)));
}

function renderWorkers(out: Exposition, node: NodeSnapshots): void {
  out.family("isobox_workers", "gauge", "Worker processes serving this node (1 when Isobox is embedded in an app); NaN when the supervisor did not answer.");
  out.sample("isobox_workers", undefined, node.workers);
  out.family("isobox_workers_reporting", "gauge", "Worker processes whose metrics this scrape sums. Below isobox_workers when some did not answer in time: every sum then lacks their share, which rate() reads as a counter reset.");
  out.sample("isobox_workers_reporting", undefined, node.snapshots.length);
}

/** Content type of the text exposition format 0.0.4. */
export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Writes the text format: a HELP and TYPE line per family, then its samples, escaped. */
class Exposition {
  private readonly lines: string[] = [];

  family(name: string, type: "counter" | "gauge" | "histogram", help: string): void {
    this.lines.push(`# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`, `# TYPE ${name} ${type}`);
  }

  sample(name: string, labels: Record<string, string> | undefined, value: number): void {
    let line = name;
    if (labels) {
      const pairs: string[] = [];
      for (const key in labels) pairs.push(`${key}="${escapeLabel(labels[key])}"`);
      line += `{${pairs.join(",")}}`;
    }
    this.lines.push(`${line} ${formatValue(value)}`);
  }

  text(): string {
    return this.lines.join("\n") + "\n";
  }
}

/** Label values escape backslash, double quote and line feed (and nothing else). */
export function escapeLabel(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

// The node's metrics as exposition text: families from the summed counters, the job queue's
// gauges, the isolate pools', run recorders' and processes' reports, and the workers that answered.
import type { PoolStats } from "../../../sandbox/host/pool.ts";
import type { QueueGauges } from "../../jobs/queue.ts";
import type { RecorderStats } from "../../runs/recorder.ts";
import { DURATION_BUCKETS, OTHER, STATUS_CLASSES, type HttpSeriesSet, type MetricsSnapshot, type NodeSnapshots, type ProcessStats } from "./counters.ts";
import { Exposition } from "./exposition.ts";
import { sumOf, type Summed } from "./node-sum.ts";

export function renderNode(total: Summed, node: NodeSnapshots, jobs: QueueGauges | undefined): string {
  const out = new Exposition();
  renderHttp(out, total.http);
  if (jobs) renderJobs(out, jobs);
  if (total.attempts.size > 0) {
    out.family("isobox_job_attempts_total", "counter", "Job attempts the node's worker processes ended, by outcome (succeeded, failed, retry, sleep, released, cancelled).");
    for (const [outcome, count] of total.attempts) out.sample("isobox_job_attempts_total", { outcome }, count);
  }
  if (total.mcp.size > 0) {
    out.family("isobox_mcp_calls_total", "counter", "MCP tools/call answers, by outcome (ok, error, task, pending).");
    for (const [outcome, count] of total.mcp) out.sample("isobox_mcp_calls_total", { outcome }, count);
  }
  renderIsolates(out, node.snapshots);
  renderRuns(out, node.snapshots);
  renderProcess(out, node.snapshots);
  renderWorkers(out, node);
  return out.text();
}

function renderHttp(out: Exposition, http: HttpSeriesSet): void {
  out.family("isobox_http_requests_total", "counter", "Requests to functions through /fn/, by status class (1xx to 5xx).");
  for (const series of http.series) {
    for (let i = 0; i < STATUS_CLASSES.length; i++) {
      if (series.statuses[i] > 0) out.sample("isobox_http_requests_total", { tenant: series.tenant, function: series.function, status: STATUS_CLASSES[i] }, series.statuses[i]);
    }
  }
  out.family("isobox_http_request_errors_total", "counter", "Requests to functions through /fn/ that ended in an Isobox error, by its code.");
  for (const series of http.series) {
    for (const [code, count] of series.errors) out.sample("isobox_http_request_errors_total", { tenant: series.tenant, function: series.function, code }, count);
  }
  const name = "isobox_http_request_duration_seconds";
  out.family(name, "histogram", "Time from a request's arrival at /fn/ to its response, in seconds.");
  for (const series of http.series) {
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

function renderJobs(out: Exposition, jobs: QueueGauges): void {
  out.family("isobox_jobs_queued", "gauge", "Queued jobs (due or waiting for their run time) per function, the largest first; past the row cap the rest under tenant and function \"_other\". From the shared database, read once per scrape: every node reports the same.");
  for (const row of jobs.queued) out.sample("isobox_jobs_queued", { tenant: row.tenant, function: row.function }, row.count);
  if (jobs.queuedOther > 0) out.sample("isobox_jobs_queued", { tenant: OTHER, function: OTHER }, jobs.queuedOther);
  out.family("isobox_jobs_running", "gauge", "Jobs running on any node (from the shared database).");
  out.sample("isobox_jobs_running", undefined, jobs.running);
  out.family("isobox_jobs_oldest_queued_age_seconds", "gauge", "How long the job that has been due the longest has waited to start; 0 when none is due.");
  out.sample("isobox_jobs_oldest_queued_age_seconds", undefined, jobs.oldestQueuedAgeSeconds);
}

/** The isolate pools' gauges and kills, summed over the processes that have a pool. */
function renderIsolates(out: Exposition, snapshots: readonly MetricsSnapshot[]): void {
  const pools = snapshots.flatMap((s) => s.isolates ?? []);
  if (pools.length === 0) return;
  const total = (pick: (stats: PoolStats) => number) => sumOf(pools, pick);
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
  const total = (pick: (stats: RecorderStats) => number) => sumOf(recorders, pick);
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

// JobRunner: each worker process claims due jobs in batches, runs each attempt in the function's
// isolate, and records how it ended. Leases are renewed by a heartbeat; a sweeper returns the
// leases of workers that died; NOTIFY wakes an idle runner, a timer covers delayed jobs and lost
// notifications. Execution is at least once: steps make side effects happen once.
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { Db } from "../db/connect.ts";
import { InvocationError, StoppedInvocation, type Invoker } from "../functions/invoker.ts";
import { Stop } from "./stop.ts";
import type { ActiveFunction, FunctionRegistry } from "../functions/registry.ts";
import { guestServices } from "./guest-services.ts";
import type { Notifier } from "./notify.ts";
import type { Metrics } from "../telemetry/metrics/counters.ts";
import {
  analyzeJobs,
  CANCEL_CHANNEL, claimJobs, completeJobs, finishAttempt, JOBS_CHANNEL, nextDueAt, renewLeases, sweepExpiredLeases,
  type JobError, type JobRow, type Outcome,
} from "./queue.ts";
import { MAX_STEP_RESULT_CHARS } from "./guest-services.ts";
import { isDataError, jsonProblem, MAX_JSON_DEPTH, storableJson } from "../db/storable.ts";
import { context, SpanKind, trace } from "@opentelemetry/api";
import { jobTraceContext, tracer } from "../telemetry/tracing.ts";

export interface RunnerOptions {
  /** Attempts this process runs at once. */
  concurrency: number;
  leaseMs: number;
  pollMs: number;
  /** CPU time of one attempt, when the manifest's cpuMs is lower. */
  jobCpuMs: number;
}

interface Running {
  job: JobRow;
  controller: AbortController;
}

/**
 * Most jobs one claim takes. Claims run one at a time per node, and each costs a statement plus
 * its rows (the update writes the row's index entries): a claim of 200 takes ~5 ms on Postgres
 * alone, ~10 ms beside a draining node on the same 2 cores; smaller claims pay the statement more
 * often per job. A node takes no more than its free slots, so a larger batch does not hoard work.
 */
const MAX_BATCH = 200;
/** How long freed slots gather before they are filled (see wakeSoon). */
const CLAIM_GATHER_MS = 5;
/** How often a busy node refreshes the jobs table's statistics at most (see refreshStatistics). */
const STATISTICS_EVERY_MS = 30_000;
const DEFAULT_BACKOFF = { baseMs: 1000, maxMs: 3_600_000 };

/** Exponential backoff with equal jitter: half the delay is fixed, half random, so retries spread out. */
export function backoffMs(attempt: number, backoff: { baseMs?: number; maxMs?: number } = {}): number {
  const base = backoff.baseMs ?? DEFAULT_BACKOFF.baseMs;
  const max = backoff.maxMs ?? DEFAULT_BACKOFF.maxMs;
  const delay = Math.min(max, base * 2 ** Math.min(attempt - 1, 30));
  return Math.round(delay / 2 + Math.random() * (delay / 2));
}

export class JobRunner {
  /** Names this process in `locked_by`; unique per start. */
  readonly worker = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly running = new Map<string, Running>();
  private readonly finishing = new Set<Promise<void>>();
  private readonly db: Db;
  private readonly registry: FunctionRegistry;
  private readonly invoker: Invoker;
  private readonly notifier: Notifier;
  private readonly metrics: Pick<Metrics, "jobAttempt"> | undefined;
  private readonly options: RunnerOptions;
  private stopping = false;
  /** Attempts whose invocation is running (the concurrency limit counts these). */
  private executing = 0;
  private claiming = false;
  private again = false;
  private wakeTimer: NodeJS.Timeout | undefined;
  private gatherTimer: NodeJS.Timeout | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private unlisten: (() => Promise<void>)[] = [];
  /** Database failures in a row; spaces out retries while the database is away. */
  private failures = 0;
  /** When this node last refreshed the jobs table's statistics (see refreshStatistics). */
  private analyzedAt = 0;
  /** Succeeded attempts waiting to be written together (see completeJobs). */
  private completions: { id: string; result: string; version: number; written(held: boolean): void; failed(error: unknown): void }[] = [];

  constructor(deps: { db: Db; registry: FunctionRegistry; invoker: Invoker; notifier: Notifier; metrics?: Pick<Metrics, "jobAttempt"> }, options: RunnerOptions) {
    this.db = deps.db;
    this.registry = deps.registry;
    this.invoker = deps.invoker;
    this.notifier = deps.notifier;
    this.metrics = deps.metrics;
    this.options = options;
  }

  async start(): Promise<void> {
    this.unlisten.push(await this.db.listen(JOBS_CHANNEL, () => this.wake()));
    this.unlisten.push(await this.db.listen(CANCEL_CHANNEL, (id) => this.stop(id, new Stop("cancel", "The job was cancelled"))));
    const every = (ms: number, work: () => Promise<unknown>) => {
      const timer = setInterval(() => void work().catch(() => {}), ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(Math.max(100, this.options.leaseMs / 3), () => this.heartbeat());
    every(Math.max(250, this.options.leaseMs / 2), () => sweepExpiredLeases(this.db));
    this.wake();
  }

  /** Jobs running in this process now. */
  get active(): number {
    return this.running.size;
  }

  /**
   * Stops claiming, lets running attempts finish for up to `graceMs`, then ends the rest and
   * returns them to the queue (not counted as attempts) for another worker.
   */
  async close(graceMs: number): Promise<void> {
    this.stopping = true;
    clearTimeout(this.wakeTimer);
    clearTimeout(this.gatherTimer);
    for (const timer of this.timers) clearInterval(timer);
    await Promise.allSettled(this.unlisten.map((unlisten) => unlisten()));
    const deadline = Date.now() + graceMs;
    while (this.running.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    for (const id of this.running.keys()) this.stop(id, new Stop("shutdown", "The worker shut down; the job goes back to the queue"));
    while (this.finishing.size > 0) await Promise.allSettled([...this.finishing]);
    await this.notifier.drain();
  }

  /** Looks for due work now (a NOTIFY, a finished attempt, a timer). */
  wake(): void {
    if (this.stopping) return;
    if (this.claiming) {
      this.again = true;
      return;
    }
    clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    void this.claimLoop();
  }

  /**
   * Looks for work shortly: slots freed within CLAIM_GATHER_MS share one claim. Waking on every
   * freed slot made claims of one or two jobs (PGlite: 1,560 claims for 3,000 no-op jobs, 400
   * jobs/s; with the gathering, see MAX_BATCH).
   */
  private wakeSoon(): void {
    if (this.stopping || this.gatherTimer) return;
    this.gatherTimer = setTimeout(() => {
      this.gatherTimer = undefined;
      this.wake();
    }, CLAIM_GATHER_MS);
  }

  private async claimLoop(): Promise<void> {
    this.claiming = true;
    let nextIn = this.options.pollMs;
    try {
      do {
        this.again = false;
        // A slot is free once its invocation ended: its outcome is written while the next job runs.
        // Attempts waiting for their write are bounded too, so a slow database slows the claims.
        const free = Math.min(this.options.concurrency - this.executing, 2 * this.options.concurrency - this.running.size);
        if (free <= 0) return;
        const want = Math.min(free, MAX_BATCH);
        const jobs = await claimJobs(this.db, this.worker, want, this.options.leaseMs);
        this.failures = 0;
        for (const job of jobs) this.startAttempt(job);
        if (jobs.length === want) {
          this.again = true;
          this.refreshStatistics();
        }
      } while (this.again && !this.stopping);
      // A due job that was not claimed waits on its function's concurrency (freed by another
      // node's attempt, which sends no NOTIFY): look again soon, not in a busy loop.
      const due = await nextDueAt(this.db);
      if (due) nextIn = Math.min(nextIn, Math.max(due.getTime() - Date.now(), 0) || 250);
    } catch {
      // The database is away (restarting, unreachable): try again, less often the longer it lasts.
      nextIn = Math.min(5000, 250 * 2 ** Math.min(this.failures++, 5));
    } finally {
      this.claiming = false;
      if (!this.stopping) {
        if (this.again) this.wake();
        else if (!this.wakeTimer) {
          this.wakeTimer = setTimeout(() => { this.wakeTimer = undefined; this.wake(); }, nextIn);
          this.wakeTimer.unref();
        }
      }
    }
  }

  /**
   * A full claim means a backlog: the table's statistics may predate it (see analyzeJobs).
   * Refreshed in the background, at most every STATISTICS_EVERY_MS per node; a database role
   * that may not analyze the table only loses the refresh.
   */
  private refreshStatistics(): void {
    const now = Date.now();
    if (now - this.analyzedAt < STATISTICS_EVERY_MS) return;
    this.analyzedAt = now;
    analyzeJobs(this.db).catch(() => {});
  }

  private startAttempt(job: JobRow): void {
    const controller = new AbortController();
    this.running.set(job.id, { job, controller });
    this.executing++;
    let slot = true;
    const ran = () => {
      if (!slot) return;
      slot = false;
      this.executing--;
      this.wakeSoon();
    };
    const done = this.attempt(job, controller, ran)
      .catch((error) => console.error(`isobox: job ${job.id} attempt failed in the runner`, error))
      .finally(() => {
        if (this.running.get(job.id)?.controller === controller) this.running.delete(job.id);
        this.finishing.delete(done);
        ran();
      });
    this.finishing.add(done);
  }

  private stop(id: string, reason: Stop): void {
    this.running.get(id)?.controller.abort(reason);
  }

  /** Runs one attempt and writes its outcome; `ran` frees its slot as soon as the invocation ended. */
  private async attempt(job: JobRow, controller: AbortController, ran: () => void): Promise<void> {
    const fn = await this.registry.get(job.tenant, job.function);
    if (!fn) {
      this.metrics?.jobAttempt("failed");
      await this.finish(job, { kind: "failed", error: { code: "ERR_NOT_FOUND", message: `Function ${job.tenant}/${job.function} does not exist (deleted?)` } });
      return;
    }
    const service = guestServices(this.db, fn, job.traceId, {
      job,
      worker: this.worker,
      sleep: (ms) => controller.abort(new Stop("sleep", `The job sleeps for ${ms} ms`, ms)),
    });
    const kind = job.trigger === "cron" ? "scheduled" : "job";
    // Every attempt of a job is in the job's trace: the wait in the queue, then the attempt.
    const parent = jobTraceContext(job.traceId);
    const due = Math.min(job.runAt.getTime(), Date.now());
    tracer.startSpan("queue wait", { startTime: due, attributes: { "isobox.job_id": job.id } }, parent).end();
    const span = tracer.startSpan(`job ${fn.name} attempt ${job.attempts}`, { kind: SpanKind.CONSUMER, attributes: { "isobox.job_id": job.id, "isobox.attempt": job.attempts, "isobox.trigger": job.trigger } }, parent);
    let outcome: Outcome | undefined;
    try {
      const { value } = await context.with(trace.setSpan(parent, span), () => this.invoker.invoke(fn, kind, job.payload, job.trigger, {
        traceId: job.traceId,
        job: { id: job.id, attempt: job.attempts },
        service,
        signal: controller.signal,
        limits: { wallMs: fn.limits.jobWallMs, cpuMs: Math.max(fn.limits.cpuMs, this.options.jobCpuMs) },
      }));
      outcome = succeeded(value, fn.version);
    } catch (error) {
      const stop = error instanceof StoppedInvocation ? error.stop : undefined;
      if (stop?.why === "sleep") outcome = { kind: "sleep", delayMs: stop.delayMs, version: fn.version };
      else if (stop?.why === "shutdown") outcome = { kind: "released" };
      else if (stop?.why === "cancel") {
        this.metrics?.jobAttempt("cancelled");
        return; // the job is cancelled already (or another worker holds it)
      } else outcome = this.failure(job, fn, error);
    } finally {
      span.end();
      ran();
    }
    this.metrics?.jobAttempt(outcome.kind);
    if (await this.finish(job, outcome)) {
      if (outcome.kind === "succeeded" || outcome.kind === "failed") this.notifier.notify({ ...job, status: outcome.kind, finishedAt: new Date(), ...(outcome.kind === "succeeded" ? { result: JSON.parse(outcome.result) } : { error: outcome.error }) });
    }
  }

  private failure(job: JobRow, fn: ActiveFunction, error: unknown): Outcome {
    const failure = error instanceof InvocationError ? error : undefined;
    const jobError: JobError = {
      code: failure?.code ?? "ERR_INTERNAL",
      message: failure?.message ?? "The job could not be run",
      ...(failure?.guestStack ? { stack: failure.guestStack } : {}),
      ...(failure?.guestName ? { name: failure.guestName } : {}),
    };
    const final = failure?.retry === "never" || failure?.code === "ERR_NO_HANDLER";
    if (final || job.attempts >= job.maxAttempts) return { kind: "failed", error: jobError, version: fn.version };
    const retryAfter = typeof failure?.retry === "object" ? failure.retry.afterMs : undefined;
    return { kind: "retry", error: jobError, delayMs: retryAfter ?? backoffMs(job.attempts, fn.manifest.jobs?.backoff), version: fn.version };
  }

  /**
   * Writes the attempt's outcome, retrying while the database is away: a finished attempt is not
   * given up for a restart of Postgres. Stops once the lease cannot be ours any more.
   */
  private async finish(job: JobRow, outcome: Outcome): Promise<boolean> {
    const leaseEnds = Date.now() + this.options.leaseMs;
    for (let wait = 100; ; wait = Math.min(wait * 2, 2000)) {
      try {
        if (outcome.kind === "succeeded") return await this.complete(job.id, outcome.result, outcome.version);
        return await finishAttempt(this.db, this.worker, job.id, outcome);
      } catch {
        // Past the lease, the sweeper may have handed the job to another worker: stop trying.
        if (Date.now() > leaseEnds + 60_000) return false;
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  /** Queues a success for the next batch: the attempts that end within one turn of the event loop share a statement. */
  private complete(id: string, result: string, version: number): Promise<boolean> {
    return new Promise((written, failed) => {
      if (this.completions.length === 0) setImmediate(() => void this.flushCompletions());
      this.completions.push({ id, result, version, written, failed });
    });
  }

  private async flushCompletions(): Promise<void> {
    await this.writeCompletions(this.completions.splice(0));
  }

  /**
   * One statement for the batch; one the database refuses for its data (not its connection) is
   * halved until the completion it refuses is alone, and that job fails with the reason: one
   * tenant's result never holds up another tenant's jobs.
   */
  private async writeCompletions(batch: typeof this.completions): Promise<void> {
    try {
      const held = await completeJobs(this.db, this.worker, batch.map(({ id, result, version }) => ({ id, result, version })));
      for (const item of batch) item.written(held.has(item.id));
    } catch (error) {
      if (!isDataError(error)) {
        for (const item of batch) item.failed(error);
        return;
      }
      if (batch.length > 1) {
        const half = Math.ceil(batch.length / 2);
        await this.writeCompletions(batch.slice(0, half));
        await this.writeCompletions(batch.slice(half));
        return;
      }
      const [item] = batch;
      const message = `The job's result could not be stored: ${(error as Error).message}`.slice(0, 1000);
      finishAttempt(this.db, this.worker, item.id, { kind: "failed", error: { code: "ERR_INTERNAL", message }, version: item.version }).then(item.written, item.failed);
    }
  }

  /** Renews the leases of running jobs; an attempt whose lease was lost is stopped (another worker has the job). */
  private async heartbeat(): Promise<void> {
    const attempts = [...this.running];
    if (attempts.length === 0) return;
    const held = await renewLeases(this.db, this.worker, attempts.map(([id]) => id), this.options.leaseMs);
    for (const [id, attempt] of attempts) {
      // Only the attempt whose lease was asked about: one that finished meanwhile is not running
      // any more, and a new attempt of the same job (retried and claimed again by this worker)
      // holds its own fresh lease.
      if (this.running.get(id) === attempt && !held.has(id) && !attempt.controller.signal.aborted) this.stop(id, new Stop("cancel", "The job's lease was lost"));
    }
  }
}

function succeeded(value: unknown, version: number): Outcome {
  if (jsonProblem(value)?.kind === "depth") {
    return { kind: "failed", error: { code: "ERR_FUNCTION_THREW", message: `The job's result nests deeper than ${MAX_JSON_DEPTH} levels` }, version };
  }
  let result: string | undefined;
  try {
    // A NUL or lone surrogate in it is stored as U+FFFD (src/db/storable.ts).
    result = storableJson(value === undefined ? null : value);
  } catch (error) {
    return { kind: "failed", error: { code: "ERR_FUNCTION_THREW", message: `The job's result is not JSON-serialisable: ${(error as Error).message}` }, version };
  }
  if (result === undefined) result = "null";
  if (result.length > MAX_STEP_RESULT_CHARS) {
    return { kind: "failed", error: { code: "ERR_RESULT_TOO_LARGE", message: `The job returned ${result.length} characters of JSON; a result may hold at most ${MAX_STEP_RESULT_CHARS}` }, version };
  }
  return { kind: "succeeded", result, version };
}

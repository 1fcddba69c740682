// The job queue: every statement about jobs and their steps, one function per operation, the
// database passed in. Times come from the database clock, so nodes with skewed clocks agree.
import { sql } from "drizzle-orm";
import type { jobs, jobSteps } from "../../schema/tables.ts";
import type { JobError, JobStatus, JobTrigger } from "../../sandbox/protocol.ts";
import type { Db } from "../db/connect.ts";
import { storableJson, storableJsonText } from "../db/storable.ts";
import { afterCursor, pageOf, type Cursor } from "../db/cursor.ts";

/** NOTIFY channel that wakes idle runners when a job is due now. */
export const JOBS_CHANNEL = "jobs";
/** NOTIFY channel that tells the runner holding a job that it was cancelled. */
export const CANCEL_CHANNEL = "jobs_cancel";

/** A job row as the queries below return it (every column the claim and the API read). */
export type JobRow = Omit<typeof jobs.$inferSelect, "concurrency">;

/** A stored step, as getSteps returns it. */
export type StepRow = Omit<typeof jobSteps.$inferSelect, "jobId">;

export type { JobError };

const COLUMNS = sql.raw(`jobs.id, jobs.tenant, jobs.function, jobs.version, jobs.trigger, jobs.payload, jobs.status, jobs.attempts, jobs.max_attempts as "maxAttempts", jobs.run_at as "runAt", jobs.priority, jobs.key, jobs.locked_by as "lockedBy", jobs.locked_until as "lockedUntil", jobs.result, jobs.error, jobs.notify, jobs.notified_at as "notifiedAt", jobs.trace_id as "traceId", jobs.created_at as "createdAt", jobs.started_at as "startedAt", jobs.finished_at as "finishedAt"`);

// postgres.js hands back timestamptz as Date and PGlite too, but jsonb null and SQL null differ
// by driver; rows are normalised here so callers see one shape.
function toJob(row: Record<string, unknown>): JobRow {
  const job = row as unknown as JobRow;
  for (const key of ["runAt", "lockedUntil", "createdAt", "startedAt", "finishedAt", "notifiedAt"] as const) {
    const value = job[key] as unknown;
    if (value !== null && value !== undefined && !(value instanceof Date)) (job as unknown as Record<string, unknown>)[key] = new Date(value as string);
  }
  return job;
}

export interface NewJob {
  id: string;
  tenant: string;
  function: string;
  trigger?: JobTrigger;
  /** JSON text of the payload. */
  payload: string;
  maxAttempts: number;
  delayMs: number;
  priority: number;
  key?: string;
  concurrency?: number;
  notify?: string;
  traceId: string;
}

/**
 * Inserts a job, or returns the one that already holds its key: `created` says which. A due job
 * wakes idle runners on every node through NOTIFY in the same statement.
 */
export async function enqueueJob(db: Db, job: NewJob): Promise<{ id: string; status: JobStatus; created: boolean }> {
  const [inserted] = await db.rows<{ id: string; status: JobStatus }>(sql`
    with inserted as (
      insert into jobs (id, tenant, function, trigger, payload, status, max_attempts, run_at, priority, key, concurrency, notify, trace_id)
      values (${job.id}, ${job.tenant}, ${job.function}, ${job.trigger ?? "job"}, ${storableJsonText(job.payload)}::jsonb, 'queued', ${job.maxAttempts},
        now() + ${job.delayMs}::float8 * interval '1 millisecond', ${job.priority}, ${job.key ?? null}, ${job.concurrency ?? null}, ${job.notify ?? null}, ${job.traceId})
      on conflict (tenant, function, key) where key is not null do nothing
      returning id, status
    )
    select id, status, case when ${job.delayMs}::float8 = 0 then pg_notify(${db.channel(JOBS_CHANNEL)}, '') end as woke from inserted`);
  if (inserted) return { id: inserted.id, status: inserted.status, created: true };
  const [existing] = await db.rows<{ id: string; status: JobStatus }>(sql`
    select id, status from jobs where tenant = ${job.tenant} and function = ${job.function} and key = ${job.key ?? null}`);
  if (!existing) throw new Error("enqueueJob: the job's key conflicted, but no job holds it");
  return { id: existing.id, status: existing.status, created: false };
}

/**
 * Claims up to `limit` due jobs for `worker` and leases them for `leaseMs`. Candidates are locked
 * with SKIP LOCKED so claimers on other nodes pass over them instead of waiting; a function's
 * `concurrency` bounds how many of its jobs run at once (counted at the claim: two nodes
 * claiming in the same instant may together pass it, by at most one batch).
 */
export async function claimJobs(db: Db, worker: string, limit: number, leaseMs: number): Promise<JobRow[]> {
  const rows = await db.rows(sql`
    with candidates as (
      select id, tenant, function, concurrency, priority, run_at from jobs j
      where status = 'queued' and run_at <= now()
        -- A function at its concurrency is passed over here, not after the limit: otherwise its
        -- backlog would fill every batch and starve the functions queued behind it.
        and (concurrency is null or (select count(*) from jobs r where r.status = 'running' and r.tenant = j.tenant and r.function = j.function) < concurrency)
      order by priority desc nulls last, run_at, id
      limit ${limit * 2}::int
      for update skip locked
    ),
    ranked as (
      select c.id, c.concurrency, row_number() over (partition by c.tenant, c.function order by c.priority desc, c.run_at, c.id) as rank,
        -- Counted only for functions with a limit: the count visits the running rows' index
        -- entries, dead ones included (2.5 of a 4 ms claim of 50 with no limit, before).
        case when c.concurrency is null then 0
          else (select count(*) from jobs r where r.status = 'running' and r.tenant = c.tenant and r.function = c.function) end as running
      from candidates c
    ),
    chosen as (
      select id from ranked where concurrency is null or rank + running <= concurrency
      limit ${limit}::int
    )
    update jobs set status = 'running', attempts = attempts + 1, locked_by = ${worker},
      locked_until = now() + ${leaseMs}::float8 * interval '1 millisecond', started_at = coalesce(started_at, now())
    -- By primary key, whatever the statistics say: a hash join scanned the whole table per claim.
    where jobs.id = any(array(select id from chosen))
    returning ${COLUMNS}`);
  return rows.map(toJob);
}

/** Extends the leases `worker` holds; returns the ids it still holds (the rest were lost). */
export async function renewLeases(db: Db, worker: string, ids: string[], leaseMs: number): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db.rows<{ id: string }>(sql`
    update jobs set locked_until = now() + ${leaseMs}::float8 * interval '1 millisecond'
    where id in (select jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb)) and status = 'running' and locked_by = ${worker}
    returning id`);
  return new Set(rows.map((row) => row.id));
}

export type Outcome =
  | { kind: "succeeded"; result: string; version: number }
  | { kind: "failed"; error: JobError; version?: number }
  | { kind: "retry"; error: JobError; delayMs: number; version?: number }
  /** step.sleep: the job waits without holding anything; the wait is not an attempt. */
  | { kind: "sleep"; delayMs: number; version: number }
  /** The worker stopped before the attempt ended: back to the queue, not counted. */
  | { kind: "released" };

/**
 * Ends an attempt. Only the lease holder can: when the lease was lost (it expired and another
 * worker took the job, or the job was cancelled) nothing changes and false is returned.
 */
export async function finishAttempt(db: Db, worker: string, id: string, outcome: Outcome): Promise<boolean> {
  const version = "version" in outcome ? outcome.version ?? null : null;
  const owned = sql`where id = ${id} and status = 'running' and locked_by = ${worker}`;
  const unlocked = sql`locked_by = null, locked_until = null, version = coalesce(${version}::int, version)`;
  let rows: unknown[];
  switch (outcome.kind) {
    case "succeeded":
      rows = await db.rows(sql`update jobs set status = 'succeeded', result = ${outcome.result}::jsonb, error = null, finished_at = now(), ${unlocked} ${owned} returning id`);
      break;
    case "failed":
      rows = await db.rows(sql`update jobs set status = 'failed', error = ${storableJson(outcome.error)}::jsonb, finished_at = now(), ${unlocked} ${owned} returning id`);
      break;
    case "retry":
      rows = await db.rows(sql`update jobs set status = 'queued', error = ${storableJson(outcome.error)}::jsonb,
        run_at = now() + ${outcome.delayMs}::float8 * interval '1 millisecond', ${unlocked} ${owned} returning id`);
      break;
    case "sleep":
      rows = await db.rows(sql`update jobs set status = 'queued', attempts = attempts - 1,
        run_at = now() + ${outcome.delayMs}::float8 * interval '1 millisecond', ${unlocked} ${owned} returning id`);
      break;
    case "released":
      rows = await db.rows(sql`update jobs set status = 'queued', attempts = greatest(attempts - 1, 0), run_at = now(), ${unlocked} ${owned}
        returning pg_notify(${db.channel(JOBS_CHANNEL)}, '')`);
      break;
  }
  return rows.length > 0;
}

/**
 * Ends many succeeded attempts in one statement: one commit (one WAL flush) for a batch instead of
 * one each, which bounded no-op jobs at ~1,700/s on Postgres (2 cores). Returns the ids whose
 * lease was still held (the others were written by no one: see finishAttempt).
 */
export async function completeJobs(db: Db, worker: string, done: { id: string; result: string; version: number }[]): Promise<Set<string>> {
  const rows = await db.rows<{ id: string }>(sql`
    update jobs set status = 'succeeded', result = r.result::jsonb, error = null, finished_at = now(), locked_by = null, locked_until = null, version = r.version
    from jsonb_to_recordset(${storableJson(done)}::jsonb) as r(id text, result text, version int)
    where jobs.id = r.id and jobs.status = 'running' and jobs.locked_by = ${worker}
    returning jobs.id`);
  return new Set(rows.map((row) => row.id));
}

/**
 * Returns jobs whose lease ran out (their worker died or lost the database) to the queue; the
 * interrupted attempt counts, so a job that kills its worker every time ends as failed.
 */
export async function sweepExpiredLeases(db: Db): Promise<{ requeued: number; failed: number }> {
  const rows = await db.rows<{ status: JobStatus }>(sql`
    update jobs set
      status = case when attempts >= max_attempts then 'failed' else 'queued' end,
      error = case when attempts >= max_attempts
        then jsonb_build_object('code', 'ERR_LEASE_EXPIRED', 'message', 'The worker running the last attempt stopped answering (lease expired)')
        else error end,
      finished_at = case when attempts >= max_attempts then now() end,
      run_at = now(), locked_by = null, locked_until = null
    where status = 'running' and locked_until < now()
    returning status`);
  const failed = rows.filter((row) => row.status === "failed").length;
  if (rows.length > failed) await db.notify(JOBS_CHANNEL, "");
  return { requeued: rows.length - failed, failed };
}

/**
 * Refreshes the planner's statistics of the jobs table. A queue's size swings faster than
 * autovacuum analyzes (a minute apart at best): statistics from while the table was nearly empty
 * made the planner read every queued job and sort them for each claim, and join completions by
 * scanning the table, in the middle of a burst (20,000 jobs: claims of 200 took 24–37 ms instead
 * of 5–10, completions 13 ms instead of 8; 4,000 jobs/s instead of 8,800, 2 cores).
 */
export async function analyzeJobs(db: Db): Promise<void> {
  await db.rows(sql`analyze jobs`);
}

/** When the next queued job is due (for a runner's timer), or null when none is queued. */
export async function nextDueAt(db: Db): Promise<Date | null> {
  const [row] = await db.rows<{ at: Date | string | null }>(sql`select min(run_at) as at from jobs where status = 'queued'`);
  return row?.at ? new Date(row.at) : null;
}

/** Deletes up to `limit` jobs (with their steps) that finished before `before`. */
export async function deleteFinishedJobs(db: Db, before: Date, limit: number): Promise<number> {
  const rows = await db.rows(sql`
    delete from jobs where id in (
      select id from jobs where finished_at < ${before.toISOString()}::timestamptz and status in ('succeeded', 'failed', 'cancelled') limit ${limit}::int)
    returning id`);
  return rows.length;
}

/** Finished jobs with a notify URL that was not called yet (a crash between the two). */
export async function unnotifiedJobs(db: Db, olderThanMs: number, limit: number): Promise<JobRow[]> {
  const rows = await db.rows(sql`
    select ${COLUMNS} from jobs
    where notify is not null and notified_at is null and finished_at < now() - ${olderThanMs}::float8 * interval '1 millisecond'
    order by finished_at limit ${limit}::int`);
  return rows.map(toJob);
}

export async function markNotified(db: Db, id: string): Promise<void> {
  await db.rows(sql`update jobs set notified_at = now() where id = ${id}`);
}

export async function getJob(db: Db, tenant: string, id: string): Promise<JobRow | undefined> {
  const [row] = await db.rows(sql`select ${COLUMNS} from jobs where tenant = ${tenant} and id = ${id}`);
  return row ? toJob(row) : undefined;
}

export interface JobFilter {
  function?: string;
  status?: JobStatus;
  limit: number;
  cursor?: Cursor;
}

export async function listJobs(db: Db, tenant: string, filter: JobFilter): Promise<{ page: JobRow[]; nextCursor: string | null }> {
  const conditions = [sql`tenant = ${tenant}`];
  if (filter.function) conditions.push(sql`function = ${filter.function}`);
  if (filter.status) conditions.push(sql`status = ${filter.status}`);
  if (filter.cursor) conditions.push(afterCursor(sql`created_at`, filter.cursor));
  const rows = await db.rows(sql`
    select ${COLUMNS} from jobs where ${sql.join(conditions, sql` and `)}
    order by created_at desc, id desc limit ${filter.limit + 1}::int`);
  return pageOf(rows.map(toJob), filter.limit, (job) => ({ at: job.createdAt, id: job.id }));
}

export async function countJobs(db: Db, tenant: string, fn?: string): Promise<Record<JobStatus, number>> {
  const rows = await db.rows<{ status: JobStatus; n: number | string }>(sql`
    select status, count(*) as n from jobs where tenant = ${tenant} ${fn ? sql`and function = ${fn}` : sql``} group by status`);
  const counts: Record<JobStatus, number> = { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 };
  for (const row of rows) counts[row.status] = Number(row.n);
  return counts;
}

export interface QueueGauges {
  /** Queued jobs per function, the most first, at most `maxRows`. */
  queued: { tenant: string; function: string; count: number }[];
  /** Queued jobs of the functions past `maxRows`. */
  queuedOther: number;
  running: number;
  /** Seconds since the longest-due queued job became due (0 when none is due). */
  oldestQueuedAgeSeconds: number;
}

/**
 * The queue's depth and age for metrics, in one statement: it reads only queued and running rows
 * (the partial indexes jobs_due and jobs_running cover them), groups them per function once, and
 * returns the `maxRows` largest groups plus one row of totals (tenant null).
 */
export async function queueGauges(db: Db, maxRows: number): Promise<QueueGauges> {
  const rows = await db.rows<{ tenant: string | null; function: string | null; queued: number | string; running: number | string; age: number | string | null }>(sql`
    with per_function as (
      select tenant, function,
        count(*) filter (where status = 'queued') as queued,
        count(*) filter (where status = 'running') as running,
        min(run_at) filter (where status = 'queued' and run_at <= now()) as oldest_due
      from jobs where status in ('queued', 'running')
      group by tenant, function
    )
    (select tenant, function, queued::float8 as queued, running::float8 as running, null::float8 as age
      from per_function where queued > 0 order by queued desc, tenant, function limit ${maxRows}::int)
    union all
    (select null, null, coalesce(sum(queued), 0)::float8, coalesce(sum(running), 0)::float8,
      coalesce(extract(epoch from now() - min(oldest_due)), 0)::float8
      from per_function)`);
  const gauges: QueueGauges = { queued: [], queuedOther: 0, running: 0, oldestQueuedAgeSeconds: 0 };
  let shown = 0;
  for (const row of rows) {
    if (row.tenant === null) {
      gauges.queuedOther = Number(row.queued);
      gauges.running = Number(row.running);
      gauges.oldestQueuedAgeSeconds = Math.max(0, Number(row.age ?? 0));
    } else {
      const count = Number(row.queued);
      gauges.queued.push({ tenant: row.tenant, function: row.function!, count });
      shown += count;
    }
  }
  gauges.queuedOther -= shown;
  return gauges;
}

/** Cancels a queued or running job; the runner holding a running one learns it through NOTIFY. */
export async function cancelJob(db: Db, tenant: string, id: string): Promise<JobRow | undefined> {
  const [row] = await db.rows(sql`
    update jobs set status = 'cancelled', finished_at = now(), locked_by = null, locked_until = null,
      error = jsonb_build_object('code', 'ERR_CANCELLED', 'message', 'The job was cancelled')
    where tenant = ${tenant} and id = ${id} and status in ('queued', 'running')
    returning ${COLUMNS}, pg_notify(${db.channel(CANCEL_CHANNEL)}, id)`);
  return row ? toJob(row) : undefined;
}

/** Queues a failed or cancelled job again with fresh attempts; its succeeded steps stay done. */
export async function retryJob(db: Db, tenant: string, id: string): Promise<JobRow | undefined> {
  const [row] = await db.rows(sql`
    update jobs set status = 'queued', attempts = 0, run_at = now(), error = null, result = null, finished_at = null, notified_at = null
    where tenant = ${tenant} and id = ${id} and status in ('failed', 'cancelled')
    returning ${COLUMNS}, pg_notify(${db.channel(JOBS_CHANNEL)}, '')`);
  return row ? toJob(row) : undefined;
}

export async function getSteps(db: Db, jobId: string): Promise<StepRow[]> {
  const rows = await db.rows<StepRow>(sql`
    select name, kind, status, result, error, attempt, started_at as "startedAt", duration_ms as "durationMs"
    from job_steps where job_id = ${jobId} order by started_at, name`);
  return rows.map((row) => ({ ...row, startedAt: new Date(row.startedAt), durationMs: Number(row.durationMs) }));
}

export interface StepWrite {
  jobId: string;
  name: string;
  kind: "run" | "sleep";
  status: "succeeded" | "failed";
  /** JSON text. */
  result: string | null;
  error: { name: string; message: string } | null;
  attempt: number;
  startedAt: Date;
  durationMs: number;
}

/**
 * Stores a step's outcome, but only while `worker` holds the job: a worker that lost its lease
 * must not write over the attempt that replaced it. A success is final; a failure is replaced by
 * the next attempt's outcome.
 */
export async function saveStep(db: Db, worker: string, step: StepWrite): Promise<boolean> {
  const rows = await db.rows(sql`
    insert into job_steps (job_id, name, kind, status, result, error, attempt, started_at, duration_ms)
    select ${step.jobId}, ${step.name}, ${step.kind}, ${step.status}, ${step.result}::jsonb, ${step.error ? storableJson(step.error) : null}::jsonb,
      ${step.attempt}, ${step.startedAt.toISOString()}::timestamptz, ${step.durationMs}
    where exists (select 1 from jobs where id = ${step.jobId} and status = 'running' and locked_by = ${worker})
    on conflict (job_id, name) do update set status = excluded.status, result = excluded.result, error = excluded.error,
      attempt = excluded.attempt, started_at = excluded.started_at, duration_ms = excluded.duration_ms
      where job_steps.status <> 'succeeded'
    returning name`);
  return rows.length > 0;
}

export async function jobStatus(db: Db, id: string): Promise<JobStatus | undefined> {
  const [row] = await db.rows<{ status: JobStatus }>(sql`select status from jobs where id = ${id}`);
  return row?.status;
}

export interface NewDelivery {
  eventId: string;
  hook: string;
  deliveryId: string;
  headers: Record<string, string>;
  body: string;
}

/**
 * Stores an accepted webhook delivery and its job in one statement (so one is never without the
 * other), keyed by the provider's delivery id: a redelivery gets the first delivery's event and
 * job back and starts nothing.
 */
export async function acceptDelivery(db: Db, delivery: NewDelivery, job: NewJob): Promise<{ eventId: string; jobId: string; created: boolean }> {
  const [row] = await db.rows<{ eventId: string; jobId: string }>(sql`
    with event as (
      insert into webhook_events (id, tenant, function, hook, delivery_id, status, headers, body, job_id)
      values (${delivery.eventId}, ${job.tenant}, ${job.function}, ${delivery.hook}, ${delivery.deliveryId}, 'accepted', ${JSON.stringify(delivery.headers)}::jsonb, ${delivery.body}, ${job.id})
      on conflict (tenant, function, hook, delivery_id) where status = 'accepted' do nothing
      returning id, job_id
    ),
    job as (
      insert into jobs (id, tenant, function, trigger, payload, status, max_attempts, priority, key, concurrency, trace_id)
      select ${job.id}, ${job.tenant}, ${job.function}, 'webhook', ${job.payload}::jsonb, 'queued', ${job.maxAttempts}, ${job.priority},
        ${job.key ?? null}, ${job.concurrency ?? null}, ${job.traceId}
      from event
      returning id
    )
    select event.id as "eventId", job.id as "jobId", pg_notify(${db.channel(JOBS_CHANNEL)}, '') from event join job on true`);
  if (row) return { ...row, created: true };
  const [existing] = await db.rows<{ eventId: string; jobId: string }>(sql`
    select id as "eventId", job_id as "jobId" from webhook_events
    where tenant = ${job.tenant} and function = ${job.function} and hook = ${delivery.hook} and delivery_id = ${delivery.deliveryId} and status = 'accepted'`);
  if (!existing) throw new Error("acceptDelivery: the delivery id conflicted, but no event holds it");
  return { ...existing, created: false };
}

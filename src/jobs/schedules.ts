// Schedules: the statements about the schedules table (their jobs go through queue.ts).
import { sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import type { ScheduleSpec } from "../functions/manifest.ts";
import { nextFire } from "./fire-times.ts";

export interface ScheduleRow {
  tenant: string;
  function: string;
  name: string;
  cron: string;
  timezone: string | null;
  payload: unknown;
  overlap: "skip" | "allow";
  missed: "skip" | "once" | "all";
  paused: boolean;
  nextAt: Date;
  lastScheduledAt: Date | null;
  lastJobId: string | null;
}

const COLUMNS = sql.raw(`tenant, function, name, cron, timezone, payload, overlap, missed, paused, next_at as "nextAt",
  last_scheduled_at as "lastScheduledAt", last_job_id as "lastJobId"`);

function toRow(row: Record<string, unknown>): ScheduleRow {
  const schedule = row as unknown as ScheduleRow;
  schedule.nextAt = new Date(schedule.nextAt);
  if (schedule.lastScheduledAt) schedule.lastScheduledAt = new Date(schedule.lastScheduledAt);
  return schedule;
}

/**
 * Makes a function's schedules those of its serving manifest: removed ones go, changed ones start
 * from their next fire after `now`, unchanged ones keep their place (a redeploy neither skips nor
 * repeats a fire).
 */
export async function replaceSchedules(db: Db, tenant: string, fn: string, specs: ScheduleSpec[], now = new Date()): Promise<void> {
  const rows = specs.map((spec, i) => ({
    name: spec.name ?? String(i),
    cron: spec.cron,
    timezone: spec.timezone ?? null,
    payload: spec.payload === undefined ? null : spec.payload,
    overlap: spec.overlap ?? "skip",
    missed: spec.missed ?? "skip",
    nextAt: nextFire(spec, now).toISOString(),
  }));
  await db.rows(sql`
    delete from schedules where tenant = ${tenant} and function = ${fn}
      and name not in (select value->>'name' from jsonb_array_elements(${JSON.stringify(rows)}::jsonb))`);
  if (rows.length === 0) return;
  await db.rows(sql`
    insert into schedules (tenant, function, name, cron, timezone, payload, overlap, missed, next_at)
    select ${tenant}, ${fn}, r.name, r.cron, r.timezone, r.payload, r.overlap, r.missed, r."nextAt"
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as r(name text, cron text, timezone text, payload jsonb, overlap text, missed text, "nextAt" timestamptz)
    on conflict (tenant, function, name) do update set payload = excluded.payload, overlap = excluded.overlap, missed = excluded.missed,
      next_at = case when schedules.cron = excluded.cron and schedules.timezone is not distinct from excluded.timezone then schedules.next_at else excluded.next_at end,
      cron = excluded.cron, timezone = excluded.timezone`);
}

/** The tenant's schedules in functions other than `except`. */
export async function countSchedules(db: Db, tenant: string, except: string): Promise<number> {
  const [row] = await db.rows<{ count: number }>(sql`select count(*)::int as count from schedules where tenant = ${tenant} and function <> ${except}`);
  return row?.count ?? 0;
}

export async function deleteSchedules(db: Db, tenant: string, fn: string): Promise<void> {
  await db.rows(sql`delete from schedules where tenant = ${tenant} and function = ${fn}`);
}

export async function dueSchedules(db: Db, now: Date): Promise<ScheduleRow[]> {
  const rows = await db.rows(sql`select ${COLUMNS} from schedules where not paused and next_at <= ${now.toISOString()}::timestamptz order by next_at limit 500`);
  return rows.map(toRow);
}

/** Moves the schedule on, unless another node already did (compare-and-set on next_at). */
export async function advanceSchedule(db: Db, schedule: ScheduleRow, next: Date, lastAt: Date | null, lastJobId: string | null): Promise<boolean> {
  const rows = await db.rows(sql`
    update schedules set next_at = ${next.toISOString()}::timestamptz, last_scheduled_at = ${lastAt?.toISOString() ?? null}::timestamptz, last_job_id = ${lastJobId}
    where tenant = ${schedule.tenant} and function = ${schedule.function} and name = ${schedule.name} and next_at = ${schedule.nextAt.toISOString()}::timestamptz
    returning name`);
  return rows.length > 0;
}

export async function listSchedules(db: Db, tenant: string): Promise<(ScheduleRow & { lastStatus: string | null })[]> {
  const rows = await db.rows(sql`
    select ${sql.raw(`s.tenant, s.function, s.name, s.cron, s.timezone, s.payload, s.overlap, s.missed, s.paused, s.next_at as "nextAt",
      s.last_scheduled_at as "lastScheduledAt", s.last_job_id as "lastJobId"`)}, j.status as "lastStatus"
    from schedules s left join jobs j on j.id = s.last_job_id
    where s.tenant = ${tenant} order by s.function, s.name`);
  return rows.map((row) => toRow(row) as ScheduleRow & { lastStatus: string | null });
}

export async function getSchedule(db: Db, tenant: string, fn: string, name: string): Promise<ScheduleRow | undefined> {
  const [row] = await db.rows(sql`select ${COLUMNS} from schedules where tenant = ${tenant} and function = ${fn} and name = ${name}`);
  return row ? toRow(row) : undefined;
}

/** Pauses or resumes; a resumed schedule starts from its next fire after now (what fell in the pause is not run). */
export async function setPaused(db: Db, schedule: ScheduleRow, paused: boolean, now = new Date()): Promise<void> {
  const nextAt = paused ? schedule.nextAt : nextFire(schedule, now);
  await db.rows(sql`
    update schedules set paused = ${paused}, next_at = ${nextAt.toISOString()}::timestamptz
    where tenant = ${schedule.tenant} and function = ${schedule.function} and name = ${schedule.name}`);
}

// Reading runs back: a page of runs with a keyset cursor, one run with its logs.
import { and, asc, desc, eq, gte, lt, sql, type SQL } from "drizzle-orm";
import { runLogs, runs, runSteps } from "../../schema/tables.ts";
import type { Database } from "../db/connect.ts";
import { afterCursor, pageOf, type Cursor } from "../db/cursor.ts";

export interface RunFilter {
  function?: string;
  trigger?: string;
  status?: string;
  /** The attempts of one job. */
  job?: string;
  /** Runs started at or after. */
  since?: Date;
  /** Runs started before. */
  until?: Date;
  limit: number;
  /** The last run of the previous page (a decoded cursor). */
  after?: Cursor;
}

type RunRow = typeof runs.$inferSelect;

export async function listRuns(db: Database, tenant: string, filter: RunFilter): Promise<{ runs: RunRow[]; nextCursor: string | null }> {
  const where: (SQL | undefined)[] = [eq(runs.tenant, tenant)];
  if (filter.function) where.push(eq(runs.function, filter.function));
  if (filter.trigger) where.push(eq(runs.trigger, filter.trigger as RunRow["trigger"]));
  if (filter.status) where.push(eq(runs.status, filter.status as RunRow["status"]));
  if (filter.job) where.push(eq(runs.jobId, filter.job));
  if (filter.since) where.push(gte(runs.startedAt, filter.since));
  if (filter.until) where.push(lt(runs.startedAt, filter.until));
  if (filter.after) where.push(afterCursor(sql`started_at`, filter.after));
  const rows = await db.select().from(runs).where(and(...where)).orderBy(desc(runs.startedAt), desc(runs.id)).limit(filter.limit + 1);
  const { page, nextCursor } = pageOf(rows, filter.limit, (run) => ({ at: run.startedAt, id: run.id }));
  return { runs: page, nextCursor };
}

export async function getRun(db: Database, tenant: string, id: string) {
  const [run] = await db.select().from(runs).where(and(eq(runs.tenant, tenant), eq(runs.id, id)));
  if (!run) return undefined;
  const logsRead = db.select({ time: runLogs.time, level: runLogs.level, message: runLogs.message, fields: runLogs.fields })
    .from(runLogs).where(eq(runLogs.runId, id)).orderBy(asc(runLogs.seq));
  const stepsRead = db.select({
    name: runSteps.name, status: runSteps.status, offsetMs: runSteps.offsetMs, durationMs: runSteps.durationMs,
    outputBytes: runSteps.outputBytes, preview: runSteps.preview, error: runSteps.error,
  }).from(runSteps).where(eq(runSteps.runId, id)).orderBy(asc(runSteps.seq));
  const [logs, steps] = await Promise.all([logsRead, stepsRead]);
  return { ...run, steps, logs };
}

/**
 * A function's latest log lines, oldest first. "Latest" by their runs' start (the
 * runs_tenant_function_started index drives the join and it stops at the limit; ordering by the
 * lines' own time sorted every line of every stored run): a long run's late lines can give way to
 * a newer run's. Within the page, by time, and lines of one millisecond in the order written.
 */
export async function recentLogs(db: Database, tenant: string, fn: string, limit: number) {
  const rows = await db.select({ runId: runLogs.runId, time: runLogs.time, level: runLogs.level, message: runLogs.message, fields: runLogs.fields })
    .from(runLogs).innerJoin(runs, eq(runs.id, runLogs.runId))
    .where(and(eq(runs.tenant, tenant), eq(runs.function, fn)))
    .orderBy(desc(runs.startedAt), desc(runLogs.seq)).limit(limit);
  // Read newest first; reversed before the (stable) sort so that lines of one millisecond keep their order.
  return rows.reverse().sort((a, b) => a.time.getTime() - b.time.getTime());
}

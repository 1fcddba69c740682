// Run retention: runs (with their logs and steps) older than the retention period go, and the
// table never holds more than a set number of runs. Every node prunes once a minute; the deletes
// are idempotent, so nodes pruning at once only share the work.
import { sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";

const EVERY_MS = 60_000;

export interface RetentionOptions {
  hours: number;
  maxRuns: number;
}

/**
 * Retention: deletes runs (their logs and steps with them) started before `before`, and the
 * oldest beyond the newest `maxRuns`; in batches, so no statement holds its locks for long.
 * Returns how many were deleted.
 */
export async function pruneRuns(db: Db, before: Date, maxRuns: number, batch = 5000): Promise<number> {
  // The cap's edge is read once per pass: finding it walks maxRuns index entries.
  const [edge] = await db.rows<{ at: string }>(sql`select started_at::text as at from runs order by started_at desc offset ${maxRuns} limit 1`);
  const cutoff = edge ? sql`greatest(${before.toISOString()}::timestamptz, ${edge.at}::timestamptz + interval '1 microsecond')` : sql`${before.toISOString()}::timestamptz`;
  let deleted = 0;
  for (;;) {
    const rows = await db.rows<{ id: string }>(sql`
      delete from runs where id in (select id from runs where started_at < ${cutoff} limit ${batch})
      returning id`);
    deleted += rows.length;
    if (rows.length < batch) return deleted;
  }
}

export class RunRetention {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private readonly db: Db;
  private readonly options: RetentionOptions;

  constructor(db: Db, options: RetentionOptions) {
    this.db = db;
    this.options = options;
  }

  start(): void {
    this.timer = setInterval(() => void this.prune(), EVERY_MS);
    this.timer.unref();
  }

  /** One pass; a failure (database away) waits for the next minute. */
  prune(): Promise<unknown> {
    const before = new Date(Date.now() - this.options.hours * 3_600_000);
    return this.running ??= pruneRuns(this.db, before, this.options.maxRuns)
      .catch(() => 0)
      .finally(() => { this.running = undefined; });
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}

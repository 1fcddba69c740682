// Run retention: runs (with their logs and steps) older than the retention period go, and the
// table never holds more than a set number of runs (src/housekeeping.ts prunes once a minute).
import { sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";

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

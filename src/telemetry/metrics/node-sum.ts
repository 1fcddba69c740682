// The sum of several processes' snapshots: the node's metrics under `isobox start`.
import { HttpSeriesSet, type MetricsSnapshot } from "./counters.ts";

export interface Summed {
  http: HttpSeriesSet;
  attempts: Map<string, number>;
  mcp: Map<string, number>;
}

/**
 * `snapshots` summed under a bound of `maxSeries`. Series go in oldest first, across processes,
 * so the ones past the bound fold into "_other" as in their own process, and a series already
 * shown is never pushed out by a newer one (unless a worker holding it is missing).
 */
export function sumSnapshots(snapshots: readonly MetricsSnapshot[], maxSeries: number): Summed {
  const http = new HttpSeriesSet(maxSeries);
  // A stable sort: one process's series with equal times keep their creation order.
  for (const series of snapshots.flatMap((s) => s.http).sort((a, b) => a.created - b.created)) http.add(series);
  return { http, attempts: summedCounts(snapshots.map((s) => s.attempts)), mcp: summedCounts(snapshots.map((s) => s.mcp ?? [])) };
}

function summedCounts(lists: [string, number][][]): Map<string, number> {
  const sum = new Map<string, number>();
  for (const list of lists) for (const [key, count] of list) sum.set(key, (sum.get(key) ?? 0) + count);
  return sum;
}

/** One figure summed over the processes' reports. */
export function sumOf<T>(reports: readonly T[], pick: (report: T) => number): number {
  return reports.reduce((sum, report) => sum + pick(report), 0);
}

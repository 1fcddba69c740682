// When a schedule fires: croner reads the expression in the schedule's time zone (DST included);
// the missed policy decides what happens to fires no node was there for.
import { Cron } from "croner";

export interface CronSpec {
  cron: string;
  timezone?: string | null;
}

/** A fire later than this (no node ran, the database was away) is "missed" and follows the missed policy. */
export const MISSED_AFTER_MS = 60_000;
/** Most missed fires `missed: "all"` catches up on. */
export const MAX_CATCH_UP = 100;

function cronOf(schedule: CronSpec): Cron {
  return new Cron(schedule.cron, { timezone: schedule.timezone ?? undefined, paused: true });
}

/** The first fire strictly after `after`. */
export function nextFire(schedule: CronSpec, after: Date): Date {
  const next = cronOf(schedule).nextRun(after);
  // croner returns null only past its search horizon (an expression like "0 0 30 2 *").
  return next ?? new Date(8.64e15);
}

/**
 * The fires of a schedule that are due at `now`, starting at `from` (its stored next fire), after
 * the missed policy: fires within MISSED_AFTER_MS all run; older ones are skipped, reduced to the
 * latest, or all run (up to MAX_CATCH_UP). Also the next fire after `now`.
 */
export function dueFires(schedule: CronSpec & { missed: "skip" | "once" | "all" }, from: Date, now: Date): { fires: Date[]; next: Date } {
  const cron = cronOf(schedule);
  const recent = new Date(now.getTime() - MISSED_AFTER_MS);
  const missed: Date[] = [];
  if (from < recent) {
    if (schedule.missed === "all") {
      for (let at: Date | null = from; at && at < recent && missed.length < MAX_CATCH_UP; at = cron.nextRun(at)) missed.push(at);
    } else if (schedule.missed === "once") {
      const latest = cron.previousRuns(1, recent)[0];
      if (latest && latest >= from) missed.push(latest);
    }
  }
  const fires = [...missed];
  // The first recent fire: `from` itself when it is recent, else the first one after the window opened.
  let at: Date | null = from >= recent ? from : cron.nextRun(new Date(recent.getTime() - 1));
  for (; at && at <= now; at = cron.nextRun(at)) fires.push(at);
  return { fires, next: at ?? new Date(8.64e15) };
}

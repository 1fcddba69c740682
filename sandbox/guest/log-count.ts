// Lines each invocation has sent so far: log lines and span operations, which reach the host
// through ignored (fire and forget) callbacks that isolated-vm may deliver after the result of the
// call they were sent in; the result carries this count, so the host waits for them before it
// records the run and ends its spans.
const counts = new Map<string, number>();

/** A dispatch begins: its lines are counted until it is forgotten. */
export function startLines(run: string): void {
  counts.set(run, 0);
}

/** Counts a line of a run still in progress (a timer's line after its run ended reaches nobody). */
export function countLine(run: string): void {
  const count = counts.get(run);
  if (count !== undefined) counts.set(run, count + 1);
}

/** The invocation is over for the host: its count goes too. */
export function forgetLines(run: string): number {
  const count = counts.get(run) ?? 0;
  counts.delete(run);
  return count;
}

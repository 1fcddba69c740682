// What each invocation sends the host: log lines and span operations travel by fire-and-forget
// callbacks that isolated-vm may deliver after the result of the call they were sent in, so the
// result carries the count and the host waits for them before it records the run and ends its
// spans. The limits hold here, before a line crosses: 300,000 console.log calls in one request
// would otherwise each cost the host's event loop a callback before any cap on the host applied.
import { RUN_LINE_LIMITS } from "../protocol.ts";

interface Lines {
  /** Lines sent (log lines and span operations). */
  sent: number;
  logLines: number;
  chars: number;
  traceOps: number;
  /** Set once the log limit was reached and its notice sent. */
  capped: boolean;
}

const runs = new Map<string, Lines>();

/** The line sent once, when an invocation reaches its log limit. */
export const LOG_LIMIT_NOTICE = `Log limit reached: an invocation keeps at most ${RUN_LINE_LIMITS.lines} lines and ${RUN_LINE_LIMITS.chars} characters of logs; its later lines are dropped`;

/** A log line cut to RUN_LINE_LIMITS.lineChars, never inside a surrogate pair. */
export function cutLine(message: string): string {
  const max = RUN_LINE_LIMITS.lineChars;
  if (message.length <= max) return message;
  const last = message.charCodeAt(max - 1);
  return message.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}

/** A dispatch begins: its lines are counted until it ends. */
export function startLines(run: string): void {
  runs.set(run, { sent: 0, logLines: 0, chars: 0, traceOps: 0, capped: false });
}

/** Whether a log line of `run` may still go out (checked before the line is formatted). */
export function mayLog(run: string): boolean {
  const lines = runs.get(run);
  return lines !== undefined && !lines.capped;
}

/**
 * Counts a log line of `chars` characters about to be sent: "send" it, "notice" (send the limit's
 * notice instead: this line passes the limit) or "drop" it (the invocation ended or is capped).
 */
export function admitLogLine(run: string, chars: number): "send" | "notice" | "drop" {
  const lines = runs.get(run);
  if (!lines || lines.capped) return "drop";
  if (lines.logLines + 1 > RUN_LINE_LIMITS.lines || lines.chars + chars > RUN_LINE_LIMITS.chars) {
    lines.capped = true;
    lines.sent++;
    return "notice";
  }
  lines.logLines++;
  lines.chars += chars;
  lines.sent++;
  return "send";
}

/** Counts a span operation about to be sent; false drops it (the invocation ended or sent too many). */
export function admitTraceOp(run: string): boolean {
  const lines = runs.get(run);
  if (!lines || lines.traceOps >= RUN_LINE_LIMITS.traceOps) return false;
  lines.traceOps++;
  lines.sent++;
  return true;
}

/** The invocation is over: its count goes, and is returned. */
export function endLines(run: string): number {
  const sent = runs.get(run)?.sent ?? 0;
  runs.delete(run);
  return sent;
}

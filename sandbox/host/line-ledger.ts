// The lines each invocation sent (log lines, span operations) reach the host by fire-and-forget
// callbacks, which isolated-vm may deliver after the answer of the call they were sent in. The
// answer says how many there were; an invocation is recorded once they all arrived.
import type { InvocationHost } from "./host-work.ts";

/**
 * How long an ended invocation waits for lines it sent before its answer: they normally arrive
 * within a millisecond; this bounds a line that never comes (a failed callback).
 */
const LATE_LINES_MS = 1000;

interface Ledger {
  host: InvocationHost;
  arrived: number;
  /** Set once the invocation ended: the count it reported, and who waits for it. */
  expected?: number;
  done?: () => void;
}

export class LineLedger {
  private readonly runs = new Map<string, Ledger>();

  open(run: string, host: InvocationHost): void {
    this.runs.set(run, { host, arrived: 0 });
  }

  /** A line of `run` arrived; it reaches the invocation's host if the ledger still knows it. */
  line(run: string, deliver: (host: InvocationHost) => void): void {
    const ledger = this.runs.get(run);
    if (!ledger) return;
    ledger.arrived++;
    deliver(ledger.host);
    if (ledger.expected !== undefined && ledger.arrived >= ledger.expected) ledger.done?.();
  }

  /**
   * The invocation ended having sent `expected` lines (undefined: unknown, wait for none): resolves
   * once they arrived, or after LATE_LINES_MS; the ledger forgets it then.
   */
  close(run: string, expected: number | undefined): Promise<void> {
    const ledger = this.runs.get(run);
    if (!ledger || expected === undefined || ledger.arrived >= expected) {
      this.runs.delete(run);
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => ledger.done?.(), LATE_LINES_MS);
      ledger.expected = expected;
      ledger.done = () => {
        clearTimeout(timer);
        if (this.runs.get(run) === ledger) this.runs.delete(run);
        resolve();
      };
    });
  }

  /** Releases every wait (the isolate is gone: no more lines will come). */
  closeAll(): void {
    for (const ledger of [...this.runs.values()]) ledger.done?.();
    this.runs.clear();
  }
}

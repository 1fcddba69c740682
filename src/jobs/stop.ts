// Why a job attempt is stopped from outside its code: it went to sleep (ctx.step.sleep), it was
// cancelled or lost its lease, or its worker shuts down. The Stop is the attempt's AbortSignal
// reason, the one way a stop is told: the sandbox abandons the invocation, the invoker throws a
// StoppedInvocation carrying it, and the runner reads what to do from it.
import type { ErrorCode } from "../errors.ts";

export class Stop extends Error {
  readonly why: "sleep" | "cancel" | "shutdown";
  /** For a sleep: how long until the job is due again. */
  readonly delayMs: number;
  constructor(why: Stop["why"], message: string, delayMs = 0) {
    super(message);
    this.name = "Stop";
    this.why = why;
    this.delayMs = delayMs;
  }

  /** How the stopped attempt's run is recorded: a sleep suspends it, the others fail it. */
  get runError(): { code: ErrorCode; message: string } | undefined {
    if (this.why === "sleep") return undefined;
    return { code: this.why === "cancel" ? "ERR_CANCELLED" : "ERR_SHUTDOWN", message: this.message };
  }
}

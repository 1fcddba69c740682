// One call in flight per isolate. Calls into an isolate run one after another on its thread
// anyway; sending the next only once the last came back costs one hand-over between threads per
// call, and buys exact accounting: what the isolate's clocks advanced meanwhile is that call's
// cost (cpu-meter.ts). Every call is followed by a probe (GuestRuntime.probe) sent with it, so the
// pair runs back to back and the probe's answer, the call's end, carries what the call produced.
import type { Probe } from "../protocol.ts";
import type { CpuMeter } from "./cpu-meter.ts";

/** A call started: the invocations it serves and isolated-vm's promises for it and its probe. */
export interface StartedCall {
  owners: string[];
  work: Promise<unknown>;
  probe: Promise<Probe>;
}

export interface IsolateCall {
  /** Sends the call; undefined when there is nothing left to send (its work was taken meanwhile). */
  start(): StartedCall | undefined;
  /** How the call's CPU splits among its owners (one weight each), from what its probe says. */
  weights?(probe: Probe, owners: string[]): number[];
  /** The call ended: its probe's answer, or undefined when the probe failed; `failure`: the call's own rejection. */
  finished(probe: Probe | undefined, failure: unknown): void;
}

export class CallQueue {
  private readonly meter: CpuMeter;
  private readonly queue: IsolateCall[] = [];
  private current: IsolateCall | undefined;
  private closed = false;

  constructor(meter: CpuMeter) {
    this.meter = meter;
  }

  /** Queues a call; `first` puts it before the others (work a call left unstarted). */
  push(call: IsolateCall, first = false): void {
    if (this.closed) return;
    if (first) this.queue.unshift(call);
    else this.queue.push(call);
    this.pump();
  }

  /** No call is sent any more (the isolate is gone). */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  private pump(): void {
    while (!this.current && !this.closed && this.queue.length > 0) {
      const call = this.queue.shift()!;
      const started = call.start();
      if (!started) continue;
      this.current = call;
      this.meter.begin(started.owners);
      // isolated-vm hands calls back in order: a rejection of the call is known before its probe's answer.
      let failure: { error: unknown } | undefined;
      started.work.catch((error: unknown) => { failure = { error }; });
      started.probe.then(
        (probe) => {
          this.meter.end(call.weights?.(probe, started.owners));
          call.finished(probe, failure?.error);
        },
        (error: unknown) => {
          this.meter.end();
          call.finished(undefined, failure?.error ?? error);
        },
      ).finally(() => {
        this.current = undefined;
        this.pump();
      });
    }
  }
}

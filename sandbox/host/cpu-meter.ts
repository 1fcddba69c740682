// All CPU accounting of one isolate. The host has one call in flight per isolate (call-queue.ts),
// so what the isolate's clocks advanced between a call's start and its end is that call's cost,
// idle time costing nothing. A call belongs to the invocation it serves (a dispatch, a completed
// host call, a timer, the wait for its waitUntil work, its abort), and is charged to it alone: invocations parked on a
// never-settling ctx.waitUntil are charged nothing, and cannot dilute another's spin. A chain of
// dispatches in one call is split by the milliseconds each ran (the guest's own clock). Code that
// runs in one invocation's call on behalf of another (a promise shared through module state) is
// charged to the invocation whose call it ran in: every invocation stays within its limit.
import { CHAIN_SLICE_MS } from "../protocol.ts";

/** The isolate's clocks, in nanoseconds. */
export interface CpuClock {
  cpuNs(): number;
  /** Time the isolate's thread was held: CPU time plus synchronous host callbacks. */
  wallNs(): number;
}

/**
 * Held time counts at 1/HELD_FACTOR of CPU time. isolated-vm stops cpuTime while the guest waits
 * in a synchronous host callback, and the callback's own plumbing grows with the guest's stack
 * depth: recursing through crypto.getRandomValues burned ~19 s of the node's CPU against a 1 s
 * cpuMs. Counted at a tenth, a 100 MB digest (≈300 ms held, ≈40 ms of guest CPU) stays within
 * 50 ms, and such a callback loop is stopped after 10 × cpuMs.
 */
const HELD_FACTOR = 10;

interface Metered {
  usedNs: number;
  limitNs: number;
}

interface CallInProgress {
  owners: string[];
  cpu: number;
  wall: number;
  budgetNs: number;
}

export class CpuMeter {
  private readonly clock: CpuClock;
  private readonly runs = new Map<string, Metered>();
  private call: CallInProgress | undefined;
  /** The budget of a call that serves no invocation in flight. */
  backgroundLimitNs: number;

  /** `backgroundLimitNs`: the budget of a call that serves no invocation (the image's cpuMs). */
  constructor(clock: CpuClock, backgroundLimitNs: number) {
    this.clock = clock;
    this.backgroundLimitNs = backgroundLimitNs;
  }

  /** Meters an invocation from now on. */
  track(run: string, limitNs: number): void {
    this.runs.set(run, { usedNs: 0, limitNs });
  }

  /** Stops metering an invocation; returns its CPU in ms. */
  forget(run: string): number {
    const usedMs = this.usedMs(run);
    this.runs.delete(run);
    return usedMs;
  }

  usedMs(run: string): number {
    return (this.runs.get(run)?.usedNs ?? 0) / 1e6;
  }

  /** Whether an invocation used more than its limit. */
  over(run: string): boolean {
    const metered = this.runs.get(run);
    return metered !== undefined && metered.usedNs > metered.limitNs;
  }

  /**
   * A call starts for `owners` (the isolate is idle: nothing else is in flight). Its budget is
   * what its invocation has left; a chain may run a slice plus the most any of its owners has
   * left; a call for none of them (nothing in flight any more) the image's limit.
   */
  begin(owners: string[]): void {
    let left = -Infinity;
    for (const run of owners) {
      const metered = this.runs.get(run);
      if (metered) left = Math.max(left, metered.limitNs - metered.usedNs);
    }
    const budgetNs = left === -Infinity ? this.backgroundLimitNs : owners.length > 1 ? left + CHAIN_SLICE_MS * 1e6 : left;
    this.call = { owners, cpu: this.clock.cpuNs(), wall: this.clock.wallNs(), budgetNs };
  }

  /**
   * The call ended: its cost goes to its owners, split by `weights` (one per owner, the guest's
   * milliseconds) when there are several; in equal shares when the weights say nothing.
   */
  end(weights?: number[]): void {
    const call = this.call;
    if (!call) return;
    this.call = undefined;
    const cost = this.cost(call);
    const owners = call.owners;
    let total = 0;
    for (let i = 0; i < owners.length; i++) total += Math.max(0, weights?.[i] ?? 0);
    for (let i = 0; i < owners.length; i++) {
      const metered = this.runs.get(owners[i]);
      if (!metered) continue;
      metered.usedNs += total > 0 ? (cost * Math.max(0, weights?.[i] ?? 0)) / total : cost / owners.length;
    }
  }

  /** The watchdog's question: has the call in flight used more than its budget? */
  overBudget(): boolean {
    return this.call !== undefined && this.cost(this.call) > this.call.budgetNs;
  }

  /** Charges every invocation the call in flight serves with all it used (it is being stopped for it). */
  chargeWhole(): void {
    const call = this.call;
    if (!call) return;
    this.call = undefined;
    const cost = this.cost(call);
    for (const run of call.owners) {
      const metered = this.runs.get(run);
      if (metered) metered.usedNs = Math.max(metered.usedNs + cost / call.owners.length, metered.limitNs);
    }
  }

  private cost(call: CallInProgress): number {
    return Math.max(this.clock.cpuNs() - call.cpu, (this.clock.wallNs() - call.wall) / HELD_FACTOR);
  }
}

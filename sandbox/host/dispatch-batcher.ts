// Dispatches gather into calls: those of one event-loop turn, and all those that arrived while the
// isolate's last call was in flight, cross in one call. A call into an isolate costs ~40–60 µs of
// CPU (both threads) when its thread must be woken and ~2.3 µs a dispatch for 32 sent in one (2
// cores), which is ~50% of hello's throughput at 32 connections. Inside, they run one after
// another (sandbox/guest/dispatch-chain.ts); those a chain did not start wait in the guest, and
// the next call resumes them before the ones it brings. One batcher per lane: requests and jobs
// chain apart, each under limits of its own kind.
import type { DispatchEntry, Probe } from "../protocol.ts";
import type { CallQueue, IsolateCall, StartedCall } from "./call-queue.ts";

/** Where dispatches go: gathered with the others of their lane into the next call. */
export interface DispatchSink {
  add(entry: DispatchEntry, run: string): void;
}

/** How dispatches reach the isolate and what becomes of the probe. */
export interface BatchChannel {
  /** Whether dispatch `id` still waits for its answer (one abandoned meanwhile is left out). */
  waiting(id: number): boolean;
  /** Sends dispatches to chain behind those of the lane waiting in the guest (none: resume them). */
  chain(entries: DispatchEntry[]): Omit<StartedCall, "owners">;
  /** What a call produced; `sent`: the dispatches of the call, by id, with their invocations. */
  received(probe: Probe | undefined, failure: unknown, sent: Map<number, string>): void;
}

interface Pending {
  entry: DispatchEntry;
  run: string;
}

export class DispatchBatcher implements DispatchSink {
  private readonly queue: CallQueue;
  private readonly channel: BatchChannel;
  /** Dispatches not sent yet, for the next chained call. */
  private gathered: Pending[] = [];
  /** Dispatches sent that no chain has started yet: they wait in the guest. */
  private inGuest = new Map<number, Pending>();
  /** Whether a chained call is queued (it takes whatever gathered until it is sent). */
  private queued = false;

  constructor(queue: CallQueue, channel: BatchChannel) {
    this.queue = queue;
    this.channel = channel;
  }

  add(entry: DispatchEntry, run: string): void {
    this.gathered.push({ entry, run });
    if (this.queued) return;
    this.queued = true;
    // At the end of the turn: the turn's other dispatches join it.
    setImmediate(() => this.queue.push(this.chainCall()));
  }

  /** After every call of this lane: which of its dispatches still wait in the guest; a chained call resumes them soon. */
  private waitingInGuest(rest: number[]): void {
    const before = this.inGuest;
    this.inGuest = new Map();
    for (const id of rest) {
      const pending = before.get(id);
      if (pending && this.channel.waiting(id)) this.inGuest.set(id, pending);
    }
    if (this.inGuest.size > 0 && !this.queued) {
      this.queued = true;
      this.queue.push(this.chainCall(), true);
    }
  }

  /** A chained call: it resumes the dispatches waiting in the guest, then runs those gathered when it is sent. */
  private chainCall(): IsolateCall {
    let inner: IsolateCall | undefined;
    return {
      start: () => {
        this.queued = false;
        const taken = this.gathered.filter(({ entry }) => this.channel.waiting(entry[0]));
        this.gathered = [];
        for (const pending of taken) this.inGuest.set(pending.entry[0], pending);
        const owners = [...this.inGuest.values()].filter(({ entry }) => this.channel.waiting(entry[0]));
        if (owners.length === 0) return undefined;
        const sent = new Map(owners.map(({ entry, run }) => [entry[0], run]));
        inner = this.call(owners.map(({ run }) => run), () => this.channel.chain(taken.map(({ entry }) => entry)), sent);
        return inner.start();
      },
      weights: (probe, owners) => inner!.weights!(probe, owners),
      finished: (probe, failure) => inner!.finished(probe, failure),
    };
  }

  private call(owners: string[], send: () => Omit<StartedCall, "owners">, sent: Map<number, string>): IsolateCall {
    return {
      start: () => ({ ...send(), owners }),
      weights: (probe) => {
        const ran = new Map<string, number>();
        const walls = probe[2];
        for (let i = 0; i + 1 < walls.length; i += 2) {
          const run = sent.get(walls[i]);
          if (run !== undefined && typeof walls[i + 1] === "number") ran.set(run, walls[i + 1]);
        }
        return owners.map((run) => ran.get(run) ?? 0);
      },
      finished: (probe, failure) => {
        this.channel.received(probe, failure, sent);
        if (probe) this.waitingInGuest(Array.isArray(probe[1]) ? probe[1].filter((id): id is number => typeof id === "number") : []);
      },
    };
  }
}

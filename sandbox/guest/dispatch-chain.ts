// The dispatches of one call (GuestRuntime.dispatch) run one after another. Logs and host calls
// are attributed to the invocation that entered last (current-run.ts), so a chain never has two
// invocations running at once: the next starts once the one before has answered with no work
// left behind (no ctx.waitUntil). One that awaits the host (a fetch, a timer) stops the chain, and
// so does the call's CHAIN_SLICE_MS: the dispatches not started wait here, the probe that follows
// every call names them, and the host's next call resumes them (before any it brings).
import { CHAIN_SLICE_MS, type Answer, type Delivery, type DispatchEntry, type DispatchLane, type Probe } from "../protocol.ts";

/** A dispatch's answer, and whether its invocation is over (nothing of it can run later). */
export interface Answered {
  answer: Answer;
  over: boolean;
}

type RunEntry = (entry: DispatchEntry) => Promise<Answered>;

interface Chain {
  /** The dispatches this call started: their ids, when each began and, once answered, ended (clock ms). */
  ids: number[];
  starts: number[];
  ends: number[];
}

/** Dispatches not started yet, oldest first, from `head` on: a chain that stopped leaves them for the next call. */
interface Lane {
  waiting: DispatchEntry[];
  head: number;
}

// The runtime's own clock: user code may replace Date.now.
const clock = Date.now;
let runEntry: RunEntry | undefined;
/** Requests and jobs wait apart: a chain runs one lane's, each under limits of its own kind. */
const lanes: Lane[] = [{ waiting: [], head: 0 }, { waiting: [], head: 0 }];
let current: Chain | undefined;
/** Answers posted since the last probe. */
let outbox: Delivery[] = [];

export function useChain(run: RunEntry): void {
  runEntry = run;
}

/** Adds dispatches behind those waiting in `lane` and runs a chain over them (an empty list resumes the waiting ones). */
export function dispatch(lane: DispatchLane, entries: DispatchEntry[]): void {
  const queue = lanes[lane];
  if (!queue) return;
  for (let i = 0; i < entries.length; i++) queue.waiting[queue.waiting.length] = entries[i];
  const chain: Chain = { ids: [], starts: [], ends: [] };
  current = chain;
  void run(chain, queue, clock() + CHAIN_SLICE_MS);
}

/** An invocation the host gave up on before it started never starts. */
export function dropWaiting(drop: (entry: DispatchEntry) => boolean): void {
  for (const lane of lanes) {
    const kept: DispatchEntry[] = [];
    for (let i = lane.head; i < lane.waiting.length; i++) if (!drop(lane.waiting[i])) kept[kept.length] = lane.waiting[i];
    lane.waiting = kept;
    lane.head = 0;
  }
}

/** An answer for the host, handed over by the probe that ends the call it was posted in. */
export function post(id: number, answer: Answer): void {
  outbox[outbox.length] = [id, answer];
}

export function probe(): Probe {
  const now = clock();
  const rest: number[] = [];
  const walls: number[] = [];
  for (const lane of lanes) {
    const kept: DispatchEntry[] = [];
    for (let i = lane.head; i < lane.waiting.length; i++) {
      rest[rest.length] = lane.waiting[i][0];
      kept[kept.length] = lane.waiting[i];
    }
    lane.waiting = kept;
    lane.head = 0;
  }
  const chain = current;
  current = undefined;
  if (chain) {
    for (let i = 0; i < chain.ids.length; i++) {
      walls[walls.length] = chain.ids[i];
      walls[walls.length] = (chain.ends[i] ?? now) - chain.starts[i];
    }
  }
  const answers = outbox;
  outbox = [];
  return [answers, rest, walls];
}

// Indexes and assignments, not iterators, destructuring or push: user code may have replaced
// Array.prototype's methods by the time a chain runs.
async function run(chain: Chain, lane: Lane, sliceEnd: number): Promise<void> {
  while (current === chain && lane.head < lane.waiting.length) {
    if (chain.ids.length > 0 && clock() >= sliceEnd) return;
    const entry = lane.waiting[lane.head++];
    const i = chain.ids.length;
    chain.ids[i] = entry[0];
    chain.starts[i] = clock();
    let answered: Answered;
    try {
      answered = await runEntry!(entry);
    } catch {
      answered = { answer: [UNREADABLE, null], over: true };
    }
    chain.ends[i] = clock();
    post(entry[0], answered.answer);
    if (!answered.over) return;
    // Continuations the finished invocation left queued (a promise it did not await) run first.
    await undefined;
    await undefined;
  }
}
/** A dispatch that failed outside the handler's try (its error bent by user code beyond reading). */
const UNREADABLE = JSON.stringify({ ok: false, error: { name: "Error", message: "The handler failed with an error that could not be read" } });

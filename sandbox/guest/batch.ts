// Fetch dispatches that reach the isolate together (GuestRuntime.dispatchBatch), run one after
// another in a single call. Logs and host calls are attributed to the invocation that entered
// last (current-run.ts), so a batch never has two invocations running at once: the next starts
// once the one before has answered with no work left behind (no ctx.waitUntil). One that awaits
// the host (a fetch, a timer) stops the chain; the host asks (probe) which entries did not start
// and sends each of those in a call of its own.
import { MAX_DELIVERIES, type BatchEntry, type Delivery, type FetchDispatch, type HostBindings } from "../protocol.ts";

/** A fetch dispatch's answer, and whether its invocation is over (nothing of it can run later). */
export interface Answered {
  answer: FetchDispatch;
  over: boolean;
}

type DispatchFetch = (info: string, head: string, body: ArrayBuffer | null) => Promise<Answered>;

let dispatchFetch: DispatchFetch | undefined;
let deliver: HostBindings["deliver"] | undefined;
let entries: BatchEntry[] = [];
let started = 0;
/** Answers of this batch, handed to the host by probe(); undefined between batches. */
let answers: Delivery[] | undefined;
/** Bumped by probe(): a chain still waiting for its entry stops there. */
let generation = 0;
/** Answers of entries that finished after their batch's probe, sent through bindings.deliver. */
let outbox: Delivery[] = [];

export function useBatches(bindings: HostBindings, dispatch: DispatchFetch): void {
  deliver = bindings.deliver;
  dispatchFetch = dispatch;
}

export function dispatchBatch(batch: BatchEntry[]): void {
  entries = batch;
  started = 0;
  answers = [];
  void chain(++generation);
}

/**
 * Called by the host in the call right after dispatchBatch's: the answers so far and the ids of
 * the entries that never started. The batch is over; later answers go through bindings.deliver.
 */
export function probe(): [Delivery[], number[]] {
  const rest: number[] = [];
  for (let i = started; i < entries.length; i++) rest[rest.length] = entries[i][0];
  const done = answers ?? [];
  entries = [];
  started = 0;
  answers = undefined;
  generation++;
  return [done, rest];
}

// Indexes and assignments, not iterators, destructuring or push: user code may have replaced
// Array.prototype's methods by the time a batch runs.
async function chain(batch: number): Promise<void> {
  while (batch === generation && started < entries.length) {
    const entry = entries[started++];
    let answered: Answered;
    try {
      answered = await dispatchFetch!(entry[1], entry[2], entry[3]);
    } catch {
      answered = { answer: [UNREADABLE, null], over: true };
    }
    post(entry[0], answered.answer);
    if (!answered.over) return;
    // Continuations the finished invocation left queued (a promise it did not await) run first.
    await undefined;
    await undefined;
  }
}

/** A dispatch that failed outside the handler's try (its error bent by user code beyond reading). */
const UNREADABLE = JSON.stringify({ ok: false, error: { name: "Error", message: "The handler failed with an error that could not be read" } });

function post(id: number, answer: FetchDispatch): void {
  if (answers) {
    answers[answers.length] = [id, answer];
    return;
  }
  if (outbox.length === 0) void sendSoon();
  outbox[outbox.length] = [id, answer];
  if (outbox.length >= MAX_DELIVERIES) send();
}

/** After the microtasks already queued: answers they finish go in the same delivery. */
async function sendSoon(): Promise<void> {
  // `await` queues a microtask without user-replaceable globals (Promise.prototype.then, queueMicrotask).
  await undefined;
  if (outbox.length > 0) send();
}

function send(): void {
  const sending = outbox;
  outbox = [];
  deliver!(sending);
}

// One isolate serving one function: its invocations, from dispatch to the end of their ctx.waitUntil
// work, with their host calls, lines and CPU. The parts: the isolate's life (guest-isolate.ts),
// one call at a time (call-queue.ts), CPU per invocation (cpu-meter.ts), dispatches gathered into
// calls (dispatch-batcher.ts), late lines (line-ledger.ts) and the invocations' host work (host-work.ts).
import { DISPATCH_LANES, type DispatchEntry, type DispatchLane, type DispatchResult, type InvocationInfo, type Probe, type TriggerKind, type WireRequest, type WireResponse } from "../protocol.ts";
import { CallQueue, type IsolateCall } from "./call-queue.ts";
import { CpuMeter } from "./cpu-meter.ts";
import { DispatchBatcher } from "./dispatch-batcher.ts";
import { GuestIsolate, isAllocationFailure } from "./guest-isolate.ts";
import { HostWork, type InvocationHost } from "./host-work.ts";
import type { LimitCode, SandboxFailure } from "./limits.ts";
import { LineLedger } from "./line-ledger.ts";
import { checkWireResponse } from "./wire-checks.ts";
import { readWireError } from "../wire-error.ts";

/** The first answer of an invocation: its value, or why it failed. */
export type Answered = { ok: true; value: unknown } | { ok: false; failure: SandboxFailure };

/** How an invocation ended, once its waitUntil work is done and its lines arrived. */
export interface RunEnd {
  /** CPU time it was charged in all, its waitUntil work included. */
  cpuMs: number;
  /** Set when it failed, with its answer or after it (waitUntil work stopped at a limit). */
  failure?: SandboxFailure;
}

export interface Dispatched {
  answer: Promise<Answered>;
  done: Promise<RunEnd>;
}

export interface DispatchLimits {
  /** CPU time the invocation may use. */
  cpuLimitNs: number;
  /** When its wall-clock limit ends (performance.now() time). */
  deadline: number;
}

interface Run {
  runId: string;
  /** Its dispatch's id. */
  id: number;
  /** The id of the wait for its waitUntil work, once asked. */
  waitId?: number;
  kind: TriggerKind;
  host: InvocationHost;
  deadline: number;
  /** Resolves the first answer while it is awaited. */
  answer?: (answered: Answered) => void;
  end: (ended: RunEnd) => void;
}

/** The background budget until a function is loaded (only the runtime's own calls run before). */
const DEFAULT_BACKGROUND_CPU_MS = 1000;

/** What an id the guest answers stands for: a dispatch, or the end of an invocation's waitUntil work. */
type Awaited = { run: Run; waitUntil: boolean };

export class Sandbox {
  private readonly guest: GuestIsolate;
  private readonly meter: CpuMeter;
  private readonly queue: CallQueue;
  /** One per lane (DISPATCH_LANES): requests, and job attempts. */
  private readonly batchers: [DispatchBatcher, DispatchBatcher];
  private readonly ledger = new LineLedger();
  private readonly work: HostWork;
  private readonly runs = new Map<string, Run>();
  private readonly awaited = new Map<number, Awaited>();
  private nextId = 1;
  private readonly counts = { calls: 0, dispatched: 0 };
  /** Answers of host calls that arrived after their invocation ended (see stoppedWork). */
  private droppedAnswers = 0;
  /** Set when the host killed the isolate for a limit; explains the failure of what was in flight. */
  killedFor: LimitCode | undefined;

  private constructor(guest: GuestIsolate) {
    this.guest = guest;
    this.meter = new CpuMeter(guest, DEFAULT_BACKGROUND_CPU_MS * 1e6);
    this.queue = new CallQueue(this.meter);
    this.work = new HostWork({
      host: (run) => this.runs.get(run)?.host,
      complete: (run, id, result) => {
        if (this.runs.has(run)) this.queue.push(this.single(run, "complete", [id, result]));
      },
    });
    const batcher = (lane: DispatchLane) => new DispatchBatcher(this.queue, {
      waiting: (id) => this.awaited.has(id),
      chain: (entries) => this.send("dispatch", [lane, entries], entries.length),
      received: (probe, failure, entries) => this.received(probe, failure, entries),
    });
    this.batchers = [batcher(DISPATCH_LANES.requests), batcher(DISPATCH_LANES.jobs)];
    guest.onDispose(() => this.teardown());
  }

  /** A booted isolate, not yet loaded; `backgroundCpuMs` bounds a call that serves no invocation. */
  static async boot(memoryMb: number, options: { warm?: boolean } = {}): Promise<Sandbox> {
    let sandbox: Sandbox | undefined;
    const guest = await GuestIsolate.boot(memoryMb, {
      log: (run, level, message, fields) => sandbox?.ledger.line(run, (host) => host.log(level, message, fields)),
      trace: (run, op) => sandbox?.ledger.line(run, (host) => op && host.trace?.(op)),
      call: (run, id, op, arg) => sandbox?.work.start(run, id, op, arg),
    }, options);
    sandbox = new Sandbox(guest);
    return sandbox;
  }

  get memoryMb(): number {
    return this.guest.memoryMb;
  }

  /** The budget of a call that serves no invocation in flight any more: the loaded function's cpuMs. */
  limitBackground(cpuMs: number): void {
    this.meter.backgroundLimitNs = cpuMs * 1e6;
  }

  /** CPU charged to an invocation in flight so far. */
  usedMs(runId: string): number {
    return this.meter.usedMs(runId);
  }

  /** Compiles and evaluates the function's module; returns its handlers, or throws a SandboxError. */
  load(code: string, filename: string, timeoutMs: number): Promise<string[]> {
    return this.guest.load(code, filename, timeoutMs);
  }

  /**
   * Runs one handler. Dispatches share calls with the others of their lane gathered meanwhile
   * (requests with requests, job attempts with job attempts). `answer` resolves with the handler's
   * result, `done` once its waitUntil work is over too.
   */
  dispatch(kind: TriggerKind, info: InvocationInfo, arg: unknown, host: InvocationHost, limits: DispatchLimits): Dispatched {
    const id = this.nextId++;
    let done!: (ended: RunEnd) => void;
    const ended = new Promise<RunEnd>((resolve) => { done = resolve; });
    const answer = new Promise<Answered>((resolve) => {
      const run: Run = { runId: info.runId, id, kind, host, deadline: limits.deadline, answer: resolve, end: done };
      if (this.guest.disposed) {
        resolve({ ok: false, failure: this.goneFailure() });
        done({ cpuMs: 0, failure: this.goneFailure() });
        return;
      }
      this.runs.set(info.runId, run);
      this.awaited.set(id, { run, waitUntil: false });
      this.meter.track(info.runId, limits.cpuLimitNs);
      this.ledger.open(info.runId, host);
      let entry: DispatchEntry;
      try {
        entry = toEntry(id, kind, info, arg);
      } catch (error) {
        return this.endRun(run, undefined, threw(`TypeError: The ${kind} handler's argument could not be passed: ${(error as Error).message}`));
      }
      this.batchers[kind === "fetch" || kind === "tool" ? DISPATCH_LANES.requests : DISPATCH_LANES.jobs].add(entry, info.runId);
    });
    return { answer, done: ended };
  }

  /**
   * The host gives up on an invocation (its wall clock, a step.sleep, a cancel): it ends with
   * `failure`, and its signal is aborted inside the guest. False when it had ended already.
   */
  abandon(runId: string, failure: SandboxFailure): boolean {
    const run = this.runs.get(runId);
    if (!run) return false;
    this.endRun(run, undefined, failure);
    if (!this.guest.disposed) this.queue.push(this.single(runId, "abort", [runId, run.id]));
    return true;
  }

  /** The watchdog's look: an isolate whose call in flight used more than its budget is killed. */
  checkCpu(): boolean {
    if (this.guest.disposed || !this.meter.overBudget()) return false;
    this.kill("ERR_CPU_LIMIT");
    return true;
  }

  /** Invocations in flight. */
  get inflight(): number {
    return this.runs.size;
  }

  /** When the last wall clock of the invocations in flight runs out. */
  latestDeadline(): number {
    let latest = -Infinity;
    for (const run of this.runs.values()) latest = Math.max(latest, run.deadline);
    return latest;
  }

  /** Heap in use; the limit for an isolate killed over it. */
  heapBytes(): Promise<number | undefined> {
    if (this.killedFor === "ERR_MEMORY_LIMIT" || this.guest.overMemory) return Promise.resolve(this.guest.memoryMb * 1024 * 1024);
    return this.guest.heapBytes();
  }

  /** V8's heap statistics of the isolate (the density benchmark reads them). */
  heapStatistics(): Promise<{ used_heap_size: number; total_heap_size: number; externally_allocated_size: number }> {
    return this.guest.isolate.getHeapStatistics();
  }

  kill(reason: LimitCode): void {
    this.killedFor ??= reason;
    this.meter.chargeWhole();
    this.dispose();
  }

  dispose(): void {
    this.guest.dispose();
  }

  onDispose(listener: () => void): void {
    this.guest.onDispose(listener);
  }

  drained(): Promise<unknown> {
    return this.guest.drained();
  }

  get disposed(): boolean {
    return this.guest.disposed;
  }

  /** Work stopped when its invocation ended (timers, fetches left behind), its answer dropped if it had one. */
  get stoppedWork(): number {
    return this.work.stopped + this.droppedAnswers;
  }

  /** Calls sent into the isolate so far, and dispatches they carried. */
  stats(): { calls: number; dispatched: number } {
    return { ...this.counts };
  }

  /** Sends a call and the probe behind it. */
  private send(name: "dispatch" | "complete" | "awaitWaitUntil" | "abort", args: unknown[], dispatches = 0): { work: Promise<unknown>; probe: Promise<Probe> } {
    this.counts.calls++;
    this.counts.dispatched += dispatches;
    return { work: this.guest.call(name, args), probe: this.guest.probe() as Promise<Probe> };
  }

  /** A call for one invocation (a host call's answer, the wait for its waitUntil work, an abort). */
  private single(runId: string, name: "complete" | "awaitWaitUntil" | "abort", args: unknown[]): IsolateCall {
    return {
      start: () => {
        if (this.guest.disposed) return undefined;
        // A host call's answer for an invocation that ended meanwhile: its work stopped with it.
        if (name === "complete" && !this.runs.has(runId)) {
          this.droppedAnswers++;
          return undefined;
        }
        return { owners: [runId], ...this.send(name, args) };
      },
      finished: (probe) => this.received(probe, undefined),
    };
  }

  /**
   * What a call produced. `failure`: the call itself failed, which with the isolate alive means
   * a guest promise was rejected without a handler during it (isolated-vm checks at the end of
   * each call and cannot say whose): the dispatches answered in it fail with it.
   */
  private received(probe: Probe | undefined, failure: unknown, batch?: Map<number, string>): void {
    if (!probe || this.guest.disposed) return;
    const deliveries = Array.isArray(probe[0]) ? probe[0] : [];
    for (const delivery of deliveries) {
      if (!Array.isArray(delivery) || typeof delivery[0] !== "number") continue;
      const awaited = this.awaited.get(delivery[0]);
      if (!awaited) continue;
      this.awaited.delete(delivery[0]);
      const rejected = failure !== undefined && batch?.has(delivery[0]) ? rejection(failure) : undefined;
      this.answered(awaited, delivery[1], rejected);
    }
  }

  private answered({ run, waitUntil }: Awaited, answer: unknown, rejected: SandboxFailure | undefined): void {
    const [json, body] = Array.isArray(answer) ? answer : [];
    let result: DispatchResult<unknown> | undefined;
    try {
      result = typeof json === "string" ? JSON.parse(json) as DispatchResult<unknown> : undefined;
    } catch {
      result = undefined;
    }
    const lines = typeof result?.lines === "number" ? result.lines : undefined;
    if (!result || typeof result !== "object") return this.endRun(run, undefined, threw("TypeError: The runtime's answer could not be read"));
    if (rejected) return this.endRun(run, lines, rejected);
    if (!result.ok) return this.endRun(run, lines, this.guestFailure(result.error));
    if (this.meter.over(run.runId)) return this.endRun(run, lines, this.cpuFailure());
    if (waitUntil) return this.endRun(run, lines);
    let value = result.value;
    if (run.kind === "fetch") {
      try {
        value = checkWireResponse({ ...(value as object), body: body instanceof ArrayBuffer ? body : null } as WireResponse);
      } catch (error) {
        return this.endRun(run, lines, threw(`TypeError: ${(error as Error).message}`));
      }
    }
    run.answer?.({ ok: true, value });
    run.answer = undefined;
    if (result.over === true) return this.endRun(run, lines);
    const id = this.nextId++;
    run.waitId = id;
    this.awaited.set(id, { run, waitUntil: true });
    this.queue.push(this.single(run.runId, "awaitWaitUntil", [id, run.runId]));
  }

  /** The invocation is over: its answer (if still awaited) and its end tell `failure`, once its lines arrived. */
  private endRun(run: Run, lines: number | undefined, failure?: SandboxFailure): void {
    if (this.runs.get(run.runId) !== run) return;
    this.runs.delete(run.runId);
    this.awaited.delete(run.id);
    if (run.waitId !== undefined) this.awaited.delete(run.waitId);
    run.answer?.(failure ? { ok: false, failure } : { ok: true, value: undefined });
    run.answer = undefined;
    this.work.end(run.runId);
    const cpuMs = this.meter.forget(run.runId);
    void this.ledger.close(run.runId, lines).then(() => run.end({ cpuMs, ...(failure ? { failure } : {}) }));
  }

  /** A guest error as the failure it stands for; an allocation refused at the limit kills the isolate. */
  private guestFailure(value: unknown): SandboxFailure {
    const error = readWireError(value);
    if (error.code === "ERR_NO_HANDLER") return { code: "ERR_NO_HANDLER", message: error.message };
    if (isAllocationFailure(error)) {
      this.kill("ERR_MEMORY_LIMIT");
      return { code: "ERR_MEMORY_LIMIT", message: error.message };
    }
    return { code: "ERR_FUNCTION_THREW", message: `${error.name}: ${error.message}`, guestStack: error.stack, guest: { name: error.name, ...(error.retry ? { retry: error.retry } : {}) } };
  }

  private cpuFailure(): SandboxFailure {
    return { code: "ERR_CPU_LIMIT", message: "The function used more than its CPU time" };
  }

  private goneFailure(): SandboxFailure {
    const code = this.killedFor ?? (this.guest.overMemory ? "ERR_MEMORY_LIMIT" : "ERR_ISOLATE_DISPOSED");
    return { code, message: code === "ERR_ISOLATE_DISPOSED" ? "The isolate was disposed" : `The function was stopped (${code})` };
  }

  /** The isolate is gone: nothing in it will answer. */
  private teardown(): void {
    if (this.guest.overMemory) this.killedFor ??= "ERR_MEMORY_LIMIT";
    this.queue.close();
    this.work.endAll();
    const failure = this.goneFailure();
    for (const run of [...this.runs.values()]) this.endRun(run, undefined, failure);
    this.ledger.closeAll();
  }
}

/** A dispatch as it crosses: for a fetch, the request's head as JSON beside its body. */
function toEntry(id: number, kind: TriggerKind, info: InvocationInfo, arg: unknown): DispatchEntry {
  if (kind !== "fetch") return [id, kind, JSON.stringify(info), JSON.stringify(arg ?? null), null];
  const { body, ...head } = arg as WireRequest;
  return [id, kind, JSON.stringify(info), JSON.stringify(head), body];
}

function threw(message: string): SandboxFailure {
  return { code: "ERR_FUNCTION_THREW", message };
}

/** isolated-vm's error for a promise rejected without a handler, as the handler's failure. */
function rejection(error: unknown): SandboxFailure {
  const message = error instanceof Error ? error.message : typeof error === "string" ? error.slice(0, 10_000) : "A promise was rejected without a handler";
  const named = error instanceof Error ? `${error.name}: ${message}` : message;
  return { code: "ERR_FUNCTION_THREW", message: named, guestStack: error instanceof Error ? error.stack : undefined };
}

// One isolate with the guest runtime booted and, once loaded, one function's module.
import ivm from "isolated-vm";
import type { BatchEntry, Delivery, DispatchResult, FetchDispatch, InvocationInfo, TriggerKind, WireRequest, WireResponse } from "../protocol.ts";
import { BOOT_BINDINGS_GLOBAL, BOOT_RUNTIME_GLOBAL } from "../protocol.ts";
import { checkWireError, checkWireResponse, createBindings, type InvocationHooks } from "./bindings.ts";
import { SandboxError, type LimitCode } from "./limits.ts";
import { guestRuntimeSource } from "./runtime-bundle.ts";

/** Code cache of the guest runtime, shared by every isolate of the process. */
let runtimeCache: ivm.ExternalCopy<ArrayBuffer> | undefined;

/** One invocation in flight: its hooks and the CPU time charged to it. */
export interface Inflight {
  hooks: InvocationHooks;
  cpuNs: number;
  /** Lines (log lines, span operations) that reached the host so far. */
  lines: number;
  /** This invocation's CPU limit when it is not the image's (a job attempt). */
  cpuLimitNs?: number;
  /** When its wall-clock limit ends (performance.now() time). */
  deadline: number;
  /** Its id as a batch entry (see Sandbox.flush). */
  dispatchId: number;
}

/** A fetch dispatch waiting to be sent, or sent in a batch and not answered yet. */
interface Waiting {
  entry: BatchEntry;
  resolve(answer: unknown): void;
  reject(error: unknown): void;
}

/**
 * After a batch stopped at an entry that awaited the host, this function's requests go one call
 * each for this long: its handlers do (fetch, timers), and a batch would only add the probe.
 */
const SOLO_AFTER_STALL_MS = 1000;

/** An invocation the host is done with whose last log lines are still on their way. */
interface Late {
  entry: Inflight;
  expected: number;
  done(): void;
}

/**
 * How long a finished invocation waits for log lines the guest wrote before its result: they
 * normally arrive within a millisecond; this bounds a line that never comes (a failed callback).
 */
const LATE_LINES_MS = 1000;
const HEAP_SAMPLE_MS = 100;

type RuntimeRefs = Record<"setModule" | "dispatch" | "dispatchBatch" | "probe" | "settle" | "abort" | "complete" | "warmUp", ivm.Reference<Function>>;

const COPY_ARGUMENTS = { arguments: { copy: true } } as const;
const COPY = { arguments: { copy: true }, result: { copy: true } } as const;
const COPY_PROMISE = { arguments: { copy: true }, result: { copy: true, promise: true } } as const;

export class Sandbox {
  readonly isolate: ivm.Isolate;
  readonly memoryMb: number;
  readonly inflight = new Map<string, Inflight>();
  private readonly late = new Map<string, Late>();
  /** The last heap reading (see heapBytes). */
  private heap: { at: number; bytes: Promise<number | undefined> } | undefined;
  /** Set when the host killed the isolate for a limit; explains failures of calls in flight. */
  killedFor: LimitCode | undefined;
  /** CPU time (ns) at the watchdog's last look. */
  lastCpuNs = 0;
  /** Wall time (ns) the isolate's thread was held, at the watchdog's last look. */
  lastWallNs = 0;
  /**
   * Calls into the isolate not yet settled. Guest code runs only inside one of them (a timer's
   * callback too: it runs in the call that completes the host's sleep), so with none pending the
   * isolate is idle and the watchdog need not look at it.
   */
  calls = 0;
  /** CPU (ns) used with no invocation in flight since the watchdog last saw the isolate idle. */
  backgroundNs = 0;
  private context!: ivm.Context;
  private runtime!: RuntimeRefs;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly cancellers = new Map<number, AbortController>();
  /** True once the host disposed the isolate (a limit, eviction, close) rather than isolated-vm. */
  private disposedByHost = false;
  /**
   * Rejects when the isolate is disposed. isolated-vm leaves a call that awaits a guest promise
   * pending for ever when the isolate goes away, so every call races this.
   */
  private readonly gone: Promise<never>;
  private markGone!: (error: Error) => void;
  /** isolated-vm's own promises of the calls not yet handed back (see drained()). */
  private readonly raw = new Set<Promise<unknown>>();
  private readonly disposeListeners: Array<() => void> = [];
  /** Fetch dispatches of this event-loop turn, sent together once it ends (see flush). */
  private queued: BatchEntry[] = [];
  private readonly waiting = new Map<number, Waiting>();
  private nextDispatchId = 1;
  /** Until when (performance.now()) fetch dispatches go one call each (see SOLO_AFTER_STALL_MS). */
  private soloUntil = 0;

  private constructor(memoryMb: number) {
    this.gone = new Promise<never>((_, reject) => { this.markGone = reject; });
    this.gone.catch(() => {});
    this.memoryMb = memoryMb;
    this.isolate = new ivm.Isolate({ memoryLimit: memoryMb });
  }

  /**
   * A fresh isolate with the guest runtime evaluated and no user code; `warm` also runs the
   * request path once (a spare's cold start then skips ~5 ms, for ~0.5 MB more heap that any
   * isolate serving HTTP ends up with anyway).
   */
  static async boot(memoryMb: number, options: { warm?: boolean } = {}): Promise<Sandbox> {
    const sandbox = new Sandbox(memoryMb);
    try {
      await sandbox.bootRuntime();
      if (options.warm) await sandbox.track(sandbox.runtime.warmUp.apply(undefined, [], { result: { promise: true } }));
    } catch (error) {
      sandbox.dispose();
      throw error;
    }
    return sandbox;
  }

  private async bootRuntime(): Promise<void> {
    const source = await guestRuntimeSource();
    this.context = await this.isolate.createContext();
    const global = this.context.global;
    await global.set("globalThis", global.derefInto());
    const bindings = createBindings({
      hooks: (run) => this.inflight.get(run)?.hooks,
      log: (run, level, message, fields) => this.arrived(run, (hooks) => hooks.log(level, message, fields)),
      trace: (run, op) => this.arrived(run, (hooks) => op && hooks.trace?.(op)),
      complete: (id, result) => this.complete(id, result),
      deliver: (answers) => this.take(answers),
      timer: (ms, done) => this.timer(ms, done),
      cancellers: this.cancellers,
    });
    await global.set(BOOT_BINDINGS_GLOBAL, bindings, { copy: true });
    const script = await this.isolate.compileScript(source, {
      filename: "isobox:runtime",
      cachedData: runtimeCache,
      produceCachedData: runtimeCache === undefined,
    });
    const produced = (script as ivm.Script & ivm.CachedDataResult).cachedData;
    if (produced) runtimeCache = produced;
    await script.run(this.context);
    const runtime = (await global.get(BOOT_RUNTIME_GLOBAL, { reference: true })) as ivm.Reference<Record<string, Function>>;
    await global.delete(BOOT_RUNTIME_GLOBAL);
    const get = async (name: keyof RuntimeRefs) => (await runtime.get(name, { reference: true })) as ivm.Reference<Function>;
    this.runtime = {
      setModule: await get("setModule"),
      dispatch: await get("dispatch"),
      dispatchBatch: await get("dispatchBatch"),
      probe: await get("probe"),
      settle: await get("settle"),
      abort: await get("abort"),
      complete: await get("complete"),
      warmUp: await get("warmUp"),
    };
  }

  /** Compiles and evaluates the function's module and hands it to the runtime. */
  async load(code: string, filename: string, evaluateTimeoutMs: number): Promise<string[]> {
    const module = await compileModule(this.isolate, code, filename);
    await module.instantiate(this.context, (specifier) => {
      throw new SandboxError("ERR_COMPILE", `Cannot import "${specifier}": deploy one self-contained module (isobox deploy bundles imports)`);
    });
    try {
      await module.evaluate({ timeout: evaluateTimeoutMs });
    } catch (error) {
      throw this.translate(error, "ERR_FUNCTION_THREW");
    }
    let result: DispatchResult<string[]>;
    try {
      // The timeout: reading the handlers runs user code too (a getter, a Proxy trap).
      result = (await this.track(this.runtime.setModule.apply(undefined, [module.namespace.derefInto()], { result: { copy: true }, timeout: evaluateTimeoutMs }))) as DispatchResult<string[]>;
    } catch (error) {
      throw this.translate(error, "ERR_FUNCTION_THREW");
    }
    if (!result.ok) throw new SandboxError("ERR_FUNCTION_THREW", checkWireError(result.error).message);
    return result.value;
  }

  /**
   * Runs one handler; resolves with the guest's result, and `settled` when it registered no
   * ctx.waitUntil work (then settle() is not needed), or rejects with a SandboxError.
   */
  async dispatch(kind: TriggerKind, info: InvocationInfo, arg: unknown, hooks: InvocationHooks, limits: Pick<Inflight, "cpuLimitNs" | "deadline"> = { deadline: Infinity }): Promise<{ value: unknown; settled: boolean; lines?: number }> {
    const dispatchId = this.nextDispatchId++;
    this.inflight.set(info.runId, { hooks, cpuNs: 0, lines: 0, ...limits, dispatchId });
    let result: DispatchResult<unknown>;
    try {
      result = await this.call(dispatchId, kind, info, arg);
    } catch (error) {
      // With the isolate alive, the call failed on a guest promise rejected without a handler:
      // isolated-vm fails the call that was running when it happened.
      throw this.translate(error, "ERR_FUNCTION_THREW");
    }
    const lines = typeof result.lines === "number" ? result.lines : undefined;
    if (result.ok) {
      const settled = result.settled === true;
      if (kind !== "fetch") return { value: result.value, settled, lines };
      try {
        return { value: checkWireResponse(result.value), settled, lines };
      } catch (error) {
        throw new SandboxError("ERR_FUNCTION_THREW", `TypeError: ${(error as Error).message}`);
      }
    }
    const error = checkWireError(result.error);
    if (error.code === "ERR_NO_HANDLER") throw new SandboxError("ERR_NO_HANDLER", error.message);
    if (isAllocationFailure(error)) {
      this.kill("ERR_MEMORY_LIMIT");
      throw new SandboxError("ERR_MEMORY_LIMIT", error.message);
    }
    const thrown = new SandboxError("ERR_FUNCTION_THREW", `${error.name}: ${error.message}`, error.stack, { name: error.name, retryAfterMs: error.retryAfterMs });
    thrown.lines = lines;
    throw thrown;
  }

  /**
   * One dispatch. A fetch crosses as JSON text with the body beside it: the host spent ~19 µs per
   * call copying the request and response objects, ~9 µs with JSON (2 cores). Running the handler
   * on the event loop's thread instead (applySync to start it, a second to take its answer: ~4 µs
   * of calls) measured slower end to end, 9,100 → 5,300 req/s for hello on 2 cores: the guest's
   * work and its GC then share one thread with the HTTP server, where isolated-vm's own thread
   * runs them beside it. Fetches wait for the end of the event-loop turn to go in one batch.
   */
  private call(id: number, kind: TriggerKind, info: InvocationInfo, arg: unknown): Promise<DispatchResult<unknown>> {
    if (kind !== "fetch") return this.dispatchAlone(kind, JSON.stringify(info), arg, null) as Promise<DispatchResult<unknown>>;
    const { body, ...head } = arg as WireRequest;
    const entry: BatchEntry = [id, JSON.stringify(info), JSON.stringify(head), body];
    const answer = new Promise((resolve, reject) => this.waiting.set(id, { entry, resolve, reject }));
    if (this.queued.length === 0) setImmediate(this.flush);
    this.queued.push(entry);
    return this.track(answer, false).then(readFetchAnswer);
  }

  /**
   * Sends the fetches of one event-loop turn. A call into the isolate costs ~40–60 µs of CPU
   * (both threads) when its thread must be woken, ~10 µs each for 32 sent in one turn, ~2.3 µs
   * each for 32 in one call (microbenchmark, 2 cores): hello at 32 connections went from
   * ~10,800 to ~16,000 req/s (npm run bench). The batch runs its entries one after another
   * (sandbox/guest/batch.ts); the probe, queued right behind it, takes their answers and names
   * the entries that did not start because one before them awaited the host: those go one call
   * each. A promise rejected without a handler fails the call it happened in (isolated-vm checks
   * at the end of each call), so it fails the entries answered in that batch; isolated-vm hands
   * calls back in order, so the batch's failure is known before its probe's answers arrive.
   */
  private readonly flush = (): void => {
    const entries = this.queued;
    this.queued = [];
    if (this.isolate.isDisposed) return;
    if (entries.length === 1 || performance.now() < this.soloUntil) {
      for (const entry of entries) this.sendAlone(entry);
      return;
    }
    let failure: { error: unknown } | undefined;
    this.track(this.runtime.dispatchBatch.apply(undefined, [entries], COPY_ARGUMENTS)).catch((error: unknown) => { failure = { error }; });
    this.track(this.runtime.probe.apply(undefined, [], COPY)).then((probed) => {
      const [answers, rest] = probed as [Delivery[], number[]];
      this.take(answers, failure);
      if (rest.length > 0) this.soloUntil = performance.now() + SOLO_AFTER_STALL_MS;
      for (const id of rest) {
        const waiting = this.waiting.get(id);
        if (waiting) this.sendAlone(waiting.entry);
      }
    }, () => {
      // The isolate is gone: every dispatch waiting on it fails with it (track).
    });
  };

  private sendAlone(entry: BatchEntry): void {
    const waiting = this.waiting.get(entry[0]);
    if (!waiting) return;
    this.waiting.delete(entry[0]);
    this.dispatchAlone("fetch", entry[1], entry[2], entry[3]).then(waiting.resolve, waiting.reject);
  }

  /** One dispatch in a call of its own (GuestRuntime.dispatch). */
  private dispatchAlone(kind: TriggerKind, info: string, arg: unknown, body: ArrayBuffer | null): Promise<unknown> {
    return this.track(this.runtime.dispatch.apply(undefined, [kind, info, arg, body], COPY_PROMISE));
  }

  /** Answers of batch entries (a probe's, or HostBindings.deliver's); ids this isolate did not send are ignored. */
  private take(answers: unknown, failure?: { error: unknown }): void {
    if (!Array.isArray(answers)) return;
    for (const delivery of answers) {
      if (!Array.isArray(delivery) || typeof delivery[0] !== "number") continue;
      const waiting = this.waiting.get(delivery[0]);
      if (!waiting) continue;
      this.waiting.delete(delivery[0]);
      if (failure) waiting.reject(failure.error);
      else waiting.resolve(delivery[1]);
    }
  }

  /** Waits for ctx.waitUntil work of a finished invocation and its log lines, then forgets it. */
  async settle(runId: string): Promise<void> {
    let lines: unknown;
    try {
      lines = await this.track(this.runtime.settle.apply(undefined, [runId], COPY_PROMISE));
    } catch {
      // The isolate died; there is nothing left to wait for.
    }
    await this.release(runId, typeof lines === "number" ? lines : undefined);
  }

  /**
   * The host is done with an invocation: it is forgotten once the `expected` log lines the guest
   * reported have arrived (isolated-vm may deliver them after the result), or after LATE_LINES_MS.
   */
  release(runId: string, expected?: number): Promise<void> {
    const entry = this.inflight.get(runId);
    this.inflight.delete(runId);
    if (!entry || expected === undefined || entry.lines >= expected || this.isolate.isDisposed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(), LATE_LINES_MS);
      const done = () => {
        clearTimeout(timer);
        this.late.delete(runId);
        resolve();
      };
      this.late.set(runId, { entry, expected, done });
    });
  }

  /** A line the guest sent (a log line, a span operation) reaches its invocation, in flight or late. */
  private arrived(run: string, deliver: (hooks: InvocationHooks) => void): void {
    const late = this.late.get(run);
    const entry = this.inflight.get(run) ?? late?.entry;
    if (!entry) return;
    entry.lines++;
    deliver(entry.hooks);
    if (late && entry.lines >= late.expected) late.done();
  }

  /** Abandons an invocation (wall-clock limit): aborts its signal inside the guest. */
  abandon(runId: string): void {
    const entry = this.inflight.get(runId);
    this.inflight.delete(runId);
    if (entry) this.waiting.delete(entry.dispatchId);
    // Abort listeners are guest code: tracked like any call, so the watchdog sees a runaway one.
    if (!this.isolate.isDisposed) this.track(this.runtime.abort.apply(undefined, [runId], COPY)).catch(() => {});
  }

  /**
   * Heap in use (V8 heap plus external buffers), undefined once disposed; read at most every
   * HEAP_SAMPLE_MS (reading it for every recorded run cost 6% of the host's time at 5,500 req/s).
   * The asynchronous read never blocks the event loop behind guest code running in the isolate.
   */
  heapBytes(): Promise<number | undefined> {
    if (this.isolate.isDisposed) return Promise.resolve(this.killedFor === "ERR_MEMORY_LIMIT" ? this.memoryMb * 1024 * 1024 : undefined);
    const now = performance.now();
    if (this.heap && now - this.heap.at < HEAP_SAMPLE_MS) return this.heap.bytes;
    const bytes = this.isolate.getHeapStatistics().then((stats) => stats.used_heap_size + stats.externally_allocated_size, () => undefined);
    this.heap = { at: now, bytes };
    return bytes;
  }

  /** CPU time of the isolate so far, in nanoseconds (0 once disposed). */
  cpuNs(): number {
    return this.isolate.isDisposed ? this.lastCpuNs : Number(this.isolate.cpuTime);
  }

  /**
   * Time the isolate's thread has been held so far, in nanoseconds: CPU time plus time spent in
   * synchronous host callbacks (isolated-vm's wallTime; awaiting asynchronous host work is not in it).
   */
  wallNs(): number {
    return this.isolate.isDisposed ? this.lastWallNs : Number(this.isolate.wallTime);
  }

  kill(reason: LimitCode): void {
    this.killedFor ??= reason;
    this.dispose();
  }

  dispose(): void {
    for (const { done } of [...this.late.values()]) done();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const controller of this.cancellers.values()) controller.abort();
    this.cancellers.clear();
    // Their callers see the isolate gone (track races every call with it).
    this.waiting.clear();
    this.queued = [];
    if (!this.isolate.isDisposed) {
      this.disposedByHost = true;
      this.isolate.dispose();
    }
    this.markGone(new Error("Isolate was disposed"));
    for (const listener of this.disposeListeners.splice(0)) listener();
  }

  onDispose(listener: () => void): void {
    if (this.isolate.isDisposed) listener();
    else this.disposeListeners.push(listener);
  }

  /**
   * Settles once isolated-vm has handed back every call made into this isolate. After dispose()
   * they fail soon, except one awaiting a guest promise, which may never settle: wait with a bound.
   */
  drained(): Promise<unknown> {
    return Promise.allSettled([...this.raw]);
  }

  get disposed(): boolean {
    return this.isolate.isDisposed;
  }

  private complete(id: number, result: DispatchResult<unknown>): void {
    if (this.isolate.isDisposed) return;
    this.track(this.runtime.complete.apply(undefined, [id, result], COPY)).catch(() => {
      // The isolate was disposed between the check and the call, or the guest left a promise
      // rejected without a handler (isolated-vm fails the call it happened in).
    });
  }

  /**
   * Counts a call into the isolate while it is pending (see `calls`); `raw`: the promise is
   * isolated-vm's own (drained() waits for it), not a batch entry waiting for its answer.
   */
  private track<T>(call: Promise<T>, raw = true): Promise<T> {
    // From idle: the CPU time until now was not this call's (nothing ran).
    if (this.calls++ === 0) {
      this.lastCpuNs = this.cpuNs();
      this.lastWallNs = this.wallNs();
    }
    if (raw) {
      this.raw.add(call);
      call.then(() => this.raw.delete(call), () => {
        this.raw.delete(call);
        // isolated-vm disposed the isolate by itself (its memory limit): nothing in it will answer.
        if (this.isolate.isDisposed) this.dispose();
      });
    }
    return Promise.race([call, this.gone]).finally(() => this.calls--);
  }

  private timer(ms: number, done: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      done();
    }, ms);
    this.timers.add(timer);
  }

  /** Maps an isolated-vm failure to the limit that caused it. */
  private translate(error: unknown, fallback: "ERR_FUNCTION_THREW" | "ERR_ISOLATE_DISPOSED"): SandboxError {
    if (error instanceof SandboxError) return error;
    // isolated-vm disposes an isolate by itself only over its memory limit (the message says so
    // only on the call that was running then); release whatever else waits on it.
    const overMemory = this.isolate.isDisposed && !this.disposedByHost;
    if (this.isolate.isDisposed) this.dispose();
    const message = error instanceof Error ? error.message : typeof error === "string" ? error.slice(0, 10_000) : `a ${typeof error} was thrown`;
    if (this.killedFor) return new SandboxError(this.killedFor, message);
    if (overMemory) {
      this.killedFor = "ERR_MEMORY_LIMIT";
      return new SandboxError("ERR_MEMORY_LIMIT", message);
    }
    if (error instanceof Error && isAllocationFailure(error)) {
      this.kill("ERR_MEMORY_LIMIT");
      return new SandboxError("ERR_MEMORY_LIMIT", message);
    }
    if (/timed out/i.test(message)) {
      this.kill("ERR_CPU_LIMIT");
      return new SandboxError("ERR_CPU_LIMIT", message);
    }
    if (this.isolate.isDisposed) return new SandboxError("ERR_ISOLATE_DISPOSED", message);
    // Same shape as a handler's error: "TypeError: message".
    const named = error instanceof Error && fallback === "ERR_FUNCTION_THREW" ? `${error.name}: ${message}` : message;
    return new SandboxError(fallback, named, error instanceof Error ? error.stack : undefined);
  }
}

/** A fetch dispatch's answer (FetchDispatch) as the DispatchResult it carries, the response body put back. */
function readFetchAnswer(answer: unknown): DispatchResult<unknown> {
  const [json, responseBody] = Array.isArray(answer) ? (answer as FetchDispatch) : [undefined, null];
  const result = typeof json === "string" ? JSON.parse(json) as DispatchResult<unknown> : undefined;
  if (!result || typeof result !== "object") throw new SandboxError("ERR_FUNCTION_THREW", "TypeError: The runtime's answer could not be read");
  if (result.ok && typeof result.value === "object" && result.value !== null) (result.value as WireResponse).body = responseBody;
  return result;
}

/**
 * isolated-vm's allocator refuses an ArrayBuffer that would take the isolate past its memory limit,
 * and V8 throws this RangeError instead of stopping the isolate: it is the memory limit all the
 * same. (A guest that throws the same error itself only ends its own isolate.)
 */
function isAllocationFailure(error: { name: string; message: string }): boolean {
  return error.name === "RangeError" && error.message === "Array buffer allocation failed";
}

/** Compiles a module, turning V8's "message [file:line:col]" into an ERR_COMPILE. */
export async function compileModule(isolate: ivm.Isolate, code: string, filename: string): Promise<ivm.Module> {
  try {
    return await isolate.compileModule(code, { filename });
  } catch (error) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new SandboxError("ERR_COMPILE", message);
  }
}

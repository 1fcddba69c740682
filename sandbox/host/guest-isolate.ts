// One isolate's life: booted with the guest runtime (from a code cache shared by the process),
// loaded with one function's module, called, and disposed, by the host or by isolated-vm itself.
import ivm from "isolated-vm";
import type { DispatchResult, GuestRuntime } from "../protocol.ts";
import { BOOT_BINDINGS_GLOBAL, BOOT_RUNTIME_GLOBAL } from "../protocol.ts";
import { createBindings, type BindingTarget } from "./bindings.ts";
import { SandboxError } from "./limits.ts";
import { guestRuntimeSource } from "./runtime-bundle.ts";
import { readWireError } from "../wire-error.ts";

/** Code cache of the guest runtime, shared by every isolate of the process. */
let runtimeCache: ivm.ExternalCopy<ArrayBuffer> | undefined;

const HEAP_SAMPLE_MS = 100;

/** Options of a call whose answer is copied out; arguments are always copied in. */
const COPY = { arguments: { copy: true }, result: { copy: true } } as const;
const COPY_ARGUMENTS = { arguments: { copy: true } } as const;

export class GuestIsolate {
  readonly isolate: ivm.Isolate;
  readonly memoryMb: number;
  private context!: ivm.Context;
  private runtime!: Record<keyof GuestRuntime, ivm.Reference<Function>>;
  /** True once the host disposed the isolate (a limit, eviction, close) rather than isolated-vm. */
  private disposedByHost = false;
  /**
   * Rejects when the isolate is disposed: a call isolated-vm leaves pending when its isolate goes
   * away then fails with it.
   */
  private readonly gone: Promise<never>;
  private markGone!: (error: Error) => void;
  /** isolated-vm's own promises of the calls not yet handed back (see drained()). */
  private readonly raw = new Set<Promise<unknown>>();
  private readonly disposeListeners: Array<() => void> = [];
  /** The last heap reading (see heapBytes). */
  private heap: { at: number; bytes: Promise<number | undefined> } | undefined;

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
  static async boot(memoryMb: number, target: BindingTarget, options: { warm?: boolean } = {}): Promise<GuestIsolate> {
    const guest = new GuestIsolate(memoryMb);
    try {
      await guest.bootRuntime(target);
      if (options.warm) await guest.call("warmUp", []);
    } catch (error) {
      guest.dispose();
      throw error;
    }
    return guest;
  }

  private async bootRuntime(target: BindingTarget): Promise<void> {
    const source = await guestRuntimeSource();
    this.context = await this.isolate.createContext();
    const global = this.context.global;
    await global.set("globalThis", global.derefInto());
    await global.set(BOOT_BINDINGS_GLOBAL, createBindings(target), { copy: true });
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
    const names: Array<keyof GuestRuntime> = ["setModule", "dispatch", "probe", "awaitWaitUntil", "abort", "complete", "warmUp"];
    const refs: Partial<Record<keyof GuestRuntime, ivm.Reference<Function>>> = {};
    for (const name of names) refs[name] = (await runtime.get(name, { reference: true })) as ivm.Reference<Function>;
    this.runtime = refs as Record<keyof GuestRuntime, ivm.Reference<Function>>;
  }

  /** Compiles and evaluates the function's module and hands it to the runtime; returns its handlers. */
  async load(code: string, filename: string, timeoutMs: number): Promise<string[]> {
    const module = await compileModule(this.isolate, code, filename);
    await module.instantiate(this.context, (specifier) => {
      throw new SandboxError("ERR_COMPILE", `Cannot import "${specifier}": deploy one self-contained module (isobox deploy bundles imports)`);
    });
    try {
      await module.evaluate({ timeout: timeoutMs });
    } catch (error) {
      throw this.translate(error);
    }
    let result: DispatchResult<string[]>;
    try {
      // The timeout: reading the handlers runs user code too (a getter, a Proxy trap).
      result = (await this.track(this.runtime.setModule.apply(undefined, [module.namespace.derefInto()], { result: { copy: true }, timeout: timeoutMs }))) as DispatchResult<string[]>;
    } catch (error) {
      throw this.translate(error);
    }
    if (!result.ok) throw new SandboxError("ERR_FUNCTION_THREW", readWireError(result.error).message);
    return result.value;
  }

  /** Calls the runtime, its answer ignored (the probe that follows carries what it produced). */
  call(name: Exclude<keyof GuestRuntime, "setModule" | "probe">, args: unknown[]): Promise<unknown> {
    return this.track(this.runtime[name].apply(undefined, args, COPY_ARGUMENTS));
  }

  /** GuestRuntime.probe, sent right behind a call. */
  probe(): Promise<unknown> {
    return this.track(this.runtime.probe.apply(undefined, [], COPY));
  }

  /**
   * Heap in use (V8 heap plus external buffers), undefined once disposed; read at most every
   * HEAP_SAMPLE_MS (reading it for every recorded run cost 6% of the host's time at 5,500 req/s).
   * The asynchronous read never blocks the event loop behind guest code running in the isolate.
   */
  heapBytes(): Promise<number | undefined> {
    if (this.isolate.isDisposed) return Promise.resolve(undefined);
    const now = performance.now();
    if (this.heap && now - this.heap.at < HEAP_SAMPLE_MS) return this.heap.bytes;
    const bytes = this.isolate.getHeapStatistics().then((stats) => stats.used_heap_size + stats.externally_allocated_size, () => undefined);
    this.heap = { at: now, bytes };
    return bytes;
  }

  /** CPU time of the isolate so far, in nanoseconds (the last reading once disposed). */
  cpuNs(): number {
    if (!this.isolate.isDisposed) this.lastCpu = Number(this.isolate.cpuTime);
    return this.lastCpu;
  }

  /** Time the isolate's thread has been held so far (CPU plus synchronous host callbacks), in nanoseconds. */
  wallNs(): number {
    if (!this.isolate.isDisposed) this.lastWall = Number(this.isolate.wallTime);
    return this.lastWall;
  }

  private lastCpu = 0;
  private lastWall = 0;

  /** Whether isolated-vm disposed the isolate by itself: only over its memory limit. */
  get overMemory(): boolean {
    return this.isolate.isDisposed && !this.disposedByHost;
  }

  get disposed(): boolean {
    return this.isolate.isDisposed;
  }

  dispose(): void {
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
   * they fail soon; wait with a bound all the same.
   */
  drained(): Promise<unknown> {
    return Promise.allSettled([...this.raw]);
  }

  /** A call into the isolate, raced with its disposal; a failure after isolated-vm disposed it ends the rest too. */
  private track<T>(call: Promise<T>): Promise<T> {
    this.raw.add(call);
    call.then(() => this.raw.delete(call), () => {
      this.raw.delete(call);
      if (this.isolate.isDisposed) this.dispose();
    });
    return Promise.race([call, this.gone]);
  }

  /** An isolated-vm failure of loading, as the limit or error it stands for. */
  private translate(error: unknown): SandboxError {
    if (error instanceof SandboxError) return error;
    const overMemory = this.overMemory;
    if (this.isolate.isDisposed) this.dispose();
    const message = error instanceof Error ? error.message : typeof error === "string" ? error.slice(0, 10_000) : `a ${typeof error} was thrown`;
    if (overMemory || (error instanceof Error && isAllocationFailure(error))) return new SandboxError("ERR_MEMORY_LIMIT", message);
    if (/timed out/i.test(message)) return new SandboxError("ERR_CPU_LIMIT", message);
    // Same shape as a handler's error: "TypeError: message".
    const named = error instanceof Error ? `${error.name}: ${message}` : message;
    return new SandboxError("ERR_FUNCTION_THREW", named, error instanceof Error ? error.stack : undefined);
  }
}

/**
 * isolated-vm's allocator refuses an ArrayBuffer that would take the isolate past its memory limit,
 * and V8 throws this RangeError instead of stopping the isolate: it is the memory limit all the
 * same. (A guest that throws the same error itself only ends its own isolate.)
 */
export function isAllocationFailure(error: { name: string; message: string }): boolean {
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

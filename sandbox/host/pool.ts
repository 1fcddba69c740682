// IsolatePool: one warm isolate per (tenant, function, version), serving concurrent invocations,
// with pre-booted spares so a cold start is only a compile, LRU eviction, and the CPU watchdog.
import type { InvocationInfo, TriggerKind } from "../protocol.ts";
import type { InvocationHooks } from "./bindings.ts";
import { LIMIT_MESSAGES, SandboxError, type InvocationLimits, type Limits } from "./limits.ts";
import { Sandbox } from "./sandbox.ts";

/** One deployed version, as the pool needs it. */
export interface FunctionImage {
  /** Unique per (tenant, function, version), e.g. "acme/summarize@3". */
  key: string;
  code: string;
  /** Shown in guest stacks, e.g. "file:///acme/summarize.js". */
  filename: string;
  limits: Limits;
}

export interface PoolOptions {
  maxIsolates: number;
  /** Bare isolates kept booted for `spareMemoryMb`, the most common memory limit. */
  spares: number;
  spareMemoryMb: number;
  /** How often the watchdog samples CPU time. */
  watchdogMs?: number;
}

export interface InvokeOptions {
  /** Limits of this invocation when they differ from the image's (a job attempt's longer wall clock). */
  limits?: InvocationLimits;
  /** Ends the invocation early (a step.sleep, a cancelled job, a shutdown): rejects with ERR_ABORTED. */
  signal?: AbortSignal;
}

export interface Invocation {
  value: unknown;
  /** CPU time charged to this invocation (shared fairly among concurrent ones). */
  cpuMs: number;
  /** Resolves when ctx.waitUntil work is done (or the wall clock ran out) and every log line arrived. */
  settled: Promise<void>;
  /** The isolate's heap in use, read when asked (a run that is not recorded does not pay for it). */
  memoryBytes(): Promise<number | undefined>;
}

/** Disposes an isolate once nothing runs in it, or once the last invocation's wall clock ran out. */
function disposeWhenIdle(sandbox: Sandbox): void {
  const idle = () => {
    if (sandbox.inflight.size === 0) return true;
    return Math.max(...[...sandbox.inflight.values()].map((entry) => entry.deadline)) < performance.now();
  };
  if (idle()) return sandbox.dispose();
  const timer = setInterval(() => {
    if (!idle() && !sandbox.disposed) return;
    clearInterval(timer);
    sandbox.dispose();
  }, 250);
  timer.unref();
}

/** How long close() waits for disposed isolates' threads to hand back their last calls. */
const CLOSE_SETTLE_MS = 2000;

/** What the pool holds and has stopped, for metrics. */
export interface PoolStats {
  /** Isolates holding a loaded function. */
  alive: number;
  /** Pre-booted isolates waiting for a function. */
  spare: number;
  /** Limit kills so far: cpu and memory count isolates disposed, wall counts invocations abandoned at their wall clock. */
  kills: { cpu: number; memory: number; wall: number };
}

/** Held time (see IsolatePool.used) counts at 1/HELD_FACTOR of CPU time. */
const HELD_FACTOR = 10;

interface Warm {
  sandbox: Sandbox;
  limits: Limits;
}

export class IsolatePool {
  private readonly options: Required<PoolOptions>;
  private readonly warm = new Map<string, Warm>();
  private readonly loading = new Map<string, Promise<Warm>>();
  private readonly spares: Sandbox[] = [];
  /** Every isolate the pool booted and has not seen disposed: close() ends them all, retired ones too. */
  private readonly live = new Set<Sandbox>();
  private refilling: Promise<void> | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly kills = { cpu: 0, memory: 0, wall: 0 };
  /** Isolates already counted in `kills` (concurrent invocations of a killed isolate all fail with its limit). */
  private readonly counted = new WeakSet<Sandbox>();

  constructor(options: PoolOptions) {
    this.options = { watchdogMs: 5, ...options };
  }

  /** Counts for metrics; read-only. */
  stats(): PoolStats {
    let alive = 0;
    for (const { sandbox } of this.warm.values()) if (!sandbox.disposed) alive++;
    return { alive, spare: this.spares.length, kills: { ...this.kills } };
  }

  /** Boots the spares; optional, invoke works without it. */
  async warmUp(): Promise<void> {
    await this.refillSpares();
  }

  async invoke(image: FunctionImage, kind: TriggerKind, info: InvocationInfo, arg: unknown, hooks: InvocationHooks, options: InvokeOptions = {}): Promise<Invocation> {
    if (this.closed) throw new SandboxError("ERR_ISOLATE_DISPOSED", "The isolate pool is closed");
    const started = performance.now();
    const warm = await this.acquire(image);
    const { sandbox } = warm;
    const limits = { ...warm.limits, ...options.limits };
    this.account(sandbox);
    const remaining = limits.wallMs - (performance.now() - started);
    let timer: NodeJS.Timeout | undefined;
    let stop: (() => void) | undefined;
    const wall = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SandboxError("ERR_WALL_TIMEOUT", LIMIT_MESSAGES.ERR_WALL_TIMEOUT(limits))), Math.max(0, remaining));
      const signal = options.signal;
      if (!signal) return;
      stop = () => reject(new SandboxError("ERR_ABORTED", String(signal.reason ?? "The invocation was stopped")));
      if (signal.aborted) stop();
      else signal.addEventListener("abort", stop, { once: true });
    });
    const cleanup = () => {
      clearTimeout(timer);
      if (stop) options.signal?.removeEventListener("abort", stop);
    };
    try {
      const cpuLimitNs = options.limits ? limits.cpuMs * 1e6 : undefined;
      const { value, settled: done, lines } = await Promise.race([sandbox.dispatch(kind, info, arg, hooks, { cpuLimitNs, deadline: started + limits.wallMs }), wall]);
      const cpuMs = this.chargedMs(sandbox, info.runId);
      if (done) {
        // No waitUntil work: one call into the isolate instead of two.
        cleanup();
        return { value, cpuMs, settled: sandbox.release(info.runId, lines), memoryBytes: () => sandbox.heapBytes() };
      }
      const settled = Promise.race([sandbox.settle(info.runId), wall]).catch(() => sandbox.abandon(info.runId)).finally(cleanup);
      return { value, cpuMs, settled, memoryBytes: () => sandbox.heapBytes() };
    } catch (error) {
      cleanup();
      const failure = this.failure(sandbox, limits, error);
      failure.memoryBytes = () => sandbox.heapBytes();
      // A CPU-limit kill used the whole limit, whatever the last sample saw.
      failure.cpuMs = failure.code === "ERR_CPU_LIMIT" ? Math.max(limits.cpuMs, this.chargedMs(sandbox, info.runId)) : this.chargedMs(sandbox, info.runId);
      this.countKill(sandbox, failure.code);
      if (failure.code === "ERR_WALL_TIMEOUT" || failure.code === "ERR_ABORTED") sandbox.abandon(info.runId);
      else failure.logged = sandbox.release(info.runId, failure.lines);
      if (sandbox.disposed) this.forget(image.key, sandbox);
      throw failure;
    }
  }

  /**
   * Retires the isolates of every version whose key starts with `prefix`, except `keep` (the
   * version that serves now): no new invocation reaches them, and each is disposed once the
   * invocations in flight in it can have finished (its wall-clock limit), never under them.
   */
  retire(prefix: string, keep?: string): void {
    for (const [key, { sandbox }] of this.warm) {
      if (!key.startsWith(prefix) || key === keep) continue;
      this.warm.delete(key);
      disposeWhenIdle(sandbox);
    }
  }

  /**
   * Disposes every isolate, then waits (bounded) until their threads have handed back the calls
   * still in flight: a process that exits while an isolate's thread is about to call back into
   * Node aborts in isolated-vm (`IsolateEnvironment::GetCurrent` assertion).
   */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.watchdog);
    await Promise.allSettled([...this.loading.values(), this.refilling]);
    const sandboxes = [...this.live];
    for (const sandbox of sandboxes) sandbox.dispose();
    this.live.clear();
    this.warm.clear();
    this.spares.length = 0;
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => { timer = setTimeout(resolve, CLOSE_SETTLE_MS); });
    await Promise.race([Promise.allSettled(sandboxes.map((sandbox) => sandbox.drained())), bound]);
    clearTimeout(timer);
  }

  private async acquire(image: FunctionImage): Promise<Warm> {
    const found = this.warm.get(image.key);
    if (found && !found.sandbox.disposed) {
      // Re-insert to keep the Map in least-recently-used order.
      this.warm.delete(image.key);
      this.warm.set(image.key, found);
      return found;
    }
    let loading = this.loading.get(image.key);
    if (!loading) {
      loading = this.load(image).finally(() => this.loading.delete(image.key));
      this.loading.set(image.key, loading);
    }
    return loading;
  }

  private async load(image: FunctionImage): Promise<Warm> {
    const sandbox = await this.takeSpare(image.limits.memoryMb);
    try {
      await sandbox.load(image.code, image.filename, Math.max(image.limits.cpuMs, 1000));
    } catch (error) {
      // A module that loops or allocates without end at the top level is killed for it too.
      if (sandbox.killedFor) this.countKill(sandbox, sandbox.killedFor);
      sandbox.dispose();
      throw error;
    }
    const warm = { sandbox, limits: image.limits };
    this.warm.set(image.key, warm);
    this.evictOverflow();
    this.startWatchdog();
    return warm;
  }

  private async takeSpare(memoryMb: number): Promise<Sandbox> {
    const spare = memoryMb === this.options.spareMemoryMb ? this.spares.pop() : undefined;
    void this.refillSpares();
    return spare ?? this.boot(memoryMb);
  }

  /** Boots an isolate the pool then owns until it is disposed (a pool closed meanwhile disposes it). */
  private async boot(memoryMb: number): Promise<Sandbox> {
    const sandbox = await Sandbox.boot(memoryMb, { warm: true });
    if (this.closed) {
      sandbox.dispose();
      throw new SandboxError("ERR_ISOLATE_DISPOSED", "The isolate pool is closed");
    }
    this.live.add(sandbox);
    sandbox.onDispose(() => this.live.delete(sandbox));
    return sandbox;
  }

  /** Boots spares in the background, one at a time, off the request path. */
  private refillSpares(): Promise<void> {
    if (this.refilling || this.closed) return this.refilling ?? Promise.resolve();
    this.refilling = (async () => {
      try {
        while (!this.closed && this.spares.length < this.options.spares) {
          this.spares.push(await this.boot(this.options.spareMemoryMb));
        }
      } catch {
        // Closed while booting; a failed boot is retried by the next cold start.
      } finally {
        this.refilling = undefined;
      }
    })();
    return this.refilling;
  }

  private evictOverflow(): void {
    for (const [key, warm] of this.warm) {
      if (this.warm.size <= this.options.maxIsolates) return;
      if (warm.sandbox.inflight.size > 0) continue;
      this.warm.delete(key);
      warm.sandbox.dispose();
    }
  }

  private forget(key: string, sandbox: Sandbox): void {
    if (this.warm.get(key)?.sandbox === sandbox) this.warm.delete(key);
  }

  private startWatchdog(): void {
    if (this.watchdog) return;
    this.watchdog = setInterval(() => this.checkCpu(), this.options.watchdogMs);
    this.watchdog.unref();
  }

  /**
   * Charges the CPU an isolate used since the last look to the invocations in flight in it, in
   * equal shares: V8 cannot say which invocation a slice belonged to, and concurrent invocations
   * of one function share its isolate. A runaway loop is charged to everyone in flight.
   */
  private account(sandbox: Sandbox): void {
    const delta = this.used(sandbox);
    if (delta <= 0 || sandbox.inflight.size === 0) return;
    const share = delta / sandbox.inflight.size;
    for (const entry of sandbox.inflight.values()) entry.cpuNs += share;
  }

  private chargedMs(sandbox: Sandbox, runId: string): number {
    this.account(sandbox);
    return (sandbox.inflight.get(runId)?.cpuNs ?? 0) / 1e6;
  }

  private checkCpu(): void {
    for (const [key, { sandbox, limits }] of this.warm) {
      if (sandbox.disposed) continue;
      const limitNs = limits.cpuMs * 1e6;
      if (sandbox.inflight.size === 0) {
        if (this.background(sandbox) > limitNs) this.killForCpu(key, sandbox);
        continue;
      }
      sandbox.backgroundNs = 0;
      this.account(sandbox);
      for (const entry of sandbox.inflight.values()) {
        if (entry.cpuNs <= (entry.cpuLimitNs ?? limitNs)) continue;
        this.killForCpu(key, sandbox);
        break;
      }
    }
  }

  /**
   * CPU an isolate burns with no invocation in flight: a timer callback that outlived its
   * invocation, or an invocation abandoned at its wall-clock limit while still computing (without
   * this, a loop that passed the wall clock before the CPU limit ran on unwatched, a core for ever).
   * Counted from the last tick at which the isolate was seen idle; more than one invocation's CPU
   * limit of it without a pause is a runaway.
   */
  private background(sandbox: Sandbox): number {
    if (sandbox.calls === 0) {
      sandbox.backgroundNs = 0;
      return 0;
    }
    const delta = this.used(sandbox);
    sandbox.backgroundNs = delta > 0 ? sandbox.backgroundNs + delta : 0;
    return sandbox.backgroundNs;
  }

  /**
   * What an isolate used since the last look, in CPU nanoseconds. isolated-vm stops cpuTime while
   * the guest waits in a synchronous host callback, and the callback's own plumbing grows with the
   * guest's stack depth: recursing through crypto.getRandomValues burned ~19 s of the node's CPU
   * against a 1 s cpuMs, stopped only by the wall clock. So the time the isolate's thread is held
   * counts too, at a tenth: a 100 MB digest (≈300 ms held, ≈40 ms of guest CPU) stays within 50 ms,
   * a callback loop or such a recursion is stopped after 10 × cpuMs.
   */
  private used(sandbox: Sandbox): number {
    const cpu = sandbox.cpuNs();
    const wall = sandbox.wallNs();
    const delta = Math.max(cpu - sandbox.lastCpuNs, (wall - sandbox.lastWallNs) / HELD_FACTOR);
    sandbox.lastCpuNs = cpu;
    sandbox.lastWallNs = wall;
    return delta;
  }

  private killForCpu(key: string, sandbox: Sandbox): void {
    sandbox.kill("ERR_CPU_LIMIT");
    this.countKill(sandbox, "ERR_CPU_LIMIT");
    this.forget(key, sandbox);
  }

  /** Counts a limit kill: an isolate once (cpu, memory), an invocation each time (wall). */
  private countKill(sandbox: Sandbox, code: SandboxError["code"]): void {
    if (code === "ERR_WALL_TIMEOUT") this.kills.wall++;
    else if (code !== "ERR_CPU_LIMIT" && code !== "ERR_MEMORY_LIMIT") return;
    else if (!this.counted.has(sandbox)) {
      this.counted.add(sandbox);
      this.kills[code === "ERR_CPU_LIMIT" ? "cpu" : "memory"]++;
    }
  }

  private failure(sandbox: Sandbox, limits: Limits, error: unknown): SandboxError {
    if (!(error instanceof SandboxError)) return new SandboxError("ERR_FUNCTION_THREW", String(error));
    if (error.code === "ERR_MEMORY_LIMIT" || error.code === "ERR_CPU_LIMIT") {
      return new SandboxError(error.code, LIMIT_MESSAGES[error.code](limits));
    }
    if (error.code === "ERR_ISOLATE_DISPOSED" && sandbox.killedFor) {
      return new SandboxError(sandbox.killedFor, LIMIT_MESSAGES[sandbox.killedFor](limits));
    }
    return error;
  }
}

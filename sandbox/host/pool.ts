// IsolatePool: one warm isolate per (tenant, function, version), serving concurrent invocations,
// with pre-booted spares so a cold start is only a compile, LRU eviction, and the CPU watchdog.
import type { InvocationInfo, TriggerKind } from "../protocol.ts";
import type { InvocationHost } from "./host-work.ts";
import { LIMIT_MESSAGES, SandboxError, type InvocationLimits, type Limits, type SandboxFailure } from "./limits.ts";
import { Sandbox, type RunEnd } from "./sandbox.ts";

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
  /** Ends the invocation early (a step.sleep, a cancelled job, a shutdown): it fails with ERR_ABORTED. */
  signal?: AbortSignal;
}

/** How an invocation ended, with what it used, success or failure alike. */
export type InvocationOutcome = ({ ok: true; value: unknown } | { ok: false; failure: SandboxFailure }) & {
  /** Resolves once its ctx.waitUntil work is over and its lines arrived: its CPU in all, and a failure after its answer. */
  done: Promise<RunEnd>;
  /** The isolate's heap in use, read when asked (a run that is not recorded does not pay for it). */
  memoryBytes(): Promise<number | undefined>;
};

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
  /** Host work (timers, fetches) an invocation left running when it ended, stopped then. */
  stoppedWork: number;
}

interface Warm {
  sandbox: Sandbox;
  limits: Limits;
}

/** Disposes an isolate once nothing runs in it, or once the last invocation's wall clock ran out. */
function disposeWhenIdle(sandbox: Sandbox): void {
  const idle = () => sandbox.inflight === 0 || sandbox.latestDeadline() < performance.now();
  if (idle()) return sandbox.dispose();
  const timer = setInterval(() => {
    if (!idle() && !sandbox.disposed) return;
    clearInterval(timer);
    sandbox.dispose();
  }, 250);
  timer.unref();
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
  /** Work stopped by isolates already disposed. */
  private stoppedByGone = 0;
  /** Isolates already counted in `kills` (concurrent invocations of a killed isolate all fail with its limit). */
  private readonly counted = new WeakSet<Sandbox>();

  constructor(options: PoolOptions) {
    this.options = { watchdogMs: 5, ...options };
  }

  /** Counts for metrics; read-only. */
  stats(): PoolStats {
    let alive = 0;
    for (const { sandbox } of this.warm.values()) if (!sandbox.disposed) alive++;
    let stoppedWork = this.stoppedByGone;
    for (const sandbox of this.live) stoppedWork += sandbox.stoppedWork;
    return { alive, spare: this.spares.length, kills: { ...this.kills }, stoppedWork };
  }

  /** Boots the spares; optional, invoke works without it. */
  async warmUp(): Promise<void> {
    await this.refillSpares();
  }

  async invoke(image: FunctionImage, kind: TriggerKind, info: InvocationInfo, arg: unknown, host: InvocationHost, options: InvokeOptions = {}): Promise<InvocationOutcome> {
    const started = performance.now();
    let warm: Warm;
    try {
      if (this.closed) throw new SandboxError("ERR_ISOLATE_DISPOSED", "The isolate pool is closed");
      warm = await this.acquire(image);
    } catch (error) {
      const failure = error instanceof SandboxError ? this.limitFailure(image.limits, error.toFailure()) : { code: "ERR_FUNCTION_THREW" as const, message: String(error) };
      return { ok: false, failure, done: Promise.resolve({ cpuMs: 0, failure }), memoryBytes: async () => undefined };
    }
    const { sandbox } = warm;
    const limits = { ...warm.limits, ...options.limits };
    const dispatched = sandbox.dispatch(kind, info, arg, host, { cpuLimitNs: limits.cpuMs * 1e6, deadline: started + limits.wallMs });
    const timer = setTimeout(() => {
      if (sandbox.abandon(info.runId, { code: "ERR_WALL_TIMEOUT", message: LIMIT_MESSAGES.ERR_WALL_TIMEOUT(limits) })) this.kills.wall++;
    }, Math.max(0, limits.wallMs - (performance.now() - started)));
    const signal = options.signal;
    const stop = () => sandbox.abandon(info.runId, { code: "ERR_ABORTED", message: String(signal?.reason ?? "The invocation was stopped") });
    if (signal?.aborted) stop();
    else signal?.addEventListener("abort", stop, { once: true });
    const done = dispatched.done.then((ended) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", stop);
      if (sandbox.disposed) this.forget(image.key, sandbox);
      if (!ended.failure) return ended;
      this.countKill(sandbox, ended.failure.code);
      return { ...ended, failure: this.limitFailure(limits, ended.failure) };
    });
    const answered = await dispatched.answer;
    const memoryBytes = () => sandbox.heapBytes();
    if (answered.ok) return { ok: true, value: answered.value, done, memoryBytes };
    return { ok: false, failure: this.limitFailure(limits, answered.failure), done, memoryBytes };
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
      if (error instanceof SandboxError) this.countKill(sandbox, error.code);
      sandbox.dispose();
      throw error;
    }
    sandbox.limitBackground(image.limits.cpuMs);
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
    sandbox.onDispose(() => {
      this.live.delete(sandbox);
      this.stoppedByGone += sandbox.stoppedWork;
    });
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
      if (warm.sandbox.inflight > 0) continue;
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

  /** Every isolate the pool booted, retired ones too: a retired isolate may still be running. */
  private checkCpu(): void {
    for (const sandbox of this.live) {
      if (sandbox.checkCpu()) this.countKill(sandbox, "ERR_CPU_LIMIT");
    }
    for (const [key, { sandbox }] of this.warm) if (sandbox.disposed) this.forget(key, sandbox);
  }

  /** Counts a limit kill of an isolate, once however many invocations it failed (wall timeouts are counted where they happen). */
  private countKill(sandbox: Sandbox, code: SandboxFailure["code"]): void {
    if ((code !== "ERR_CPU_LIMIT" && code !== "ERR_MEMORY_LIMIT") || this.counted.has(sandbox)) return;
    this.counted.add(sandbox);
    this.kills[code === "ERR_CPU_LIMIT" ? "cpu" : "memory"]++;
  }

  /** A limit's failure in the words of the limits it broke. */
  private limitFailure(limits: Limits, failure: SandboxFailure): SandboxFailure {
    if (failure.code === "ERR_MEMORY_LIMIT" || failure.code === "ERR_CPU_LIMIT") return { ...failure, message: LIMIT_MESSAGES[failure.code](limits) };
    return failure;
  }
}

// The host's side of HostBindings.call: work the guest started (a timer, a fetch, a service call
// of the embedder), owned by the invocation that started it. When an invocation ends, its work
// ends with it: its timers stop and its fetches are cancelled, so nothing of an invocation runs
// once it is over (twenty setInterval(0) left behind after a response otherwise kept a node busy).
import type { DispatchResult, LogLevel, ServiceCallName, TraceOp, WireRequest, WireResponse } from "../protocol.ts";
import { toWireError } from "../wire-error.ts";
import { checkWireRequest } from "./wire-checks.ts";

/** What the host does for one invocation; supplied by the embedder per call. */
export interface InvocationHost {
  /** `fields`: the line's structured fields, JSON text of an object (at most MAX_FIELDS_CHARS). */
  log(level: LogLevel, message: string, fields?: string): void;
  /** A guest span or attribute (ctx.span, ctx.setAttribute), its shape checked. */
  trace?(op: TraceOp): void;
  fetch(request: WireRequest, signal: AbortSignal): Promise<WireResponse>;
  /**
   * The embedder's services (jobs, steps). `arg` is the guest's data, unchecked: the service
   * validates it. A rejection reaches the guest as the error.
   */
  service?(op: ServiceCallName, arg: unknown): Promise<unknown>;
}

const SERVICE_CALLS = new Set<unknown>(["enqueue", "getJob", "stepBegin", "stepEnd", "stepSleep"]);
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Owned {
  /** Ids of this invocation's work in progress, each with how to stop it. */
  work: Map<number, () => void>;
}

export interface HostWorkTarget {
  /** The host of an invocation in flight; undefined for an invocation that ended (its calls are refused). */
  host(run: string): InvocationHost | undefined;
  /** Delivers the outcome of `run`'s call `id` back into the guest. */
  complete(run: string, id: number, result: DispatchResult<unknown>): void;
}

export class HostWork {
  private readonly runs = new Map<string, Owned>();
  private readonly target: HostWorkTarget;
  /** Work that was still in progress when its invocation ended, stopped then. */
  stopped = 0;

  constructor(target: HostWorkTarget) {
    this.target = target;
  }

  /** A guest call: `op` with `arg`, for invocation `run`, answered under `id`. */
  start(run: string, id: number, op: unknown, arg: unknown): void {
    if (op === "cancel") {
      if (typeof arg === "number") this.finish(run, arg, true);
      return;
    }
    const host = this.target.host(run);
    // An invocation that ended starts nothing: the guest has forgotten it, nobody awaits the answer.
    if (!host) return;
    if (op === "sleep") return this.sleep(run, id, arg);
    if (op === "fetch") {
      const controller = new AbortController();
      this.own(run, id, () => controller.abort());
      return this.answer(run, id, Promise.resolve().then(() => host.fetch(checkWireRequest(arg), controller.signal)));
    }
    if (SERVICE_CALLS.has(op)) {
      this.own(run, id, () => {});
      const service = host.service;
      if (!service) return this.answer(run, id, Promise.reject(new TypeError(`${op as string} is not available in this invocation`)));
      return this.answer(run, id, Promise.resolve().then(() => service(op as ServiceCallName, arg)));
    }
    this.own(run, id, () => {});
    this.answer(run, id, Promise.reject(new TypeError(`Unknown host call ${typeof op === "string" ? op.slice(0, 40) : typeof op}`)));
  }

  /** The invocation is over: its work in progress stops and is never answered. */
  end(run: string): void {
    const owned = this.runs.get(run);
    if (!owned) return;
    this.runs.delete(run);
    this.stopped += owned.work.size;
    for (const stop of owned.work.values()) stop();
  }

  /** Stops every invocation's work (the isolate is gone). */
  endAll(): void {
    for (const run of [...this.runs.keys()]) this.end(run);
  }

  private sleep(run: string, id: number, arg: unknown): void {
    const ms = typeof arg === "number" && arg > 0 ? Math.min(arg, MAX_TIMER_MS) : 0;
    const timer = setTimeout(() => {
      if (this.finish(run, id, false)) this.target.complete(run, id, { ok: true, value: null });
    }, ms);
    this.own(run, id, () => clearTimeout(timer));
  }

  private own(run: string, id: number, stop: () => void): void {
    let owned = this.runs.get(run);
    if (!owned) this.runs.set(run, owned = { work: new Map() });
    owned.work.set(id, stop);
  }

  /** Forgets work `id` of `run`; true when it was still in progress. `stop` ends it too (a cancel). */
  private finish(run: string, id: number, stop: boolean): boolean {
    const owned = this.runs.get(run);
    const stopper = owned?.work.get(id);
    if (!owned || !stopper) return false;
    owned.work.delete(id);
    if (owned.work.size === 0) this.runs.delete(run);
    if (stop) stopper();
    return true;
  }

  private answer(run: string, id: number, work: Promise<unknown>): void {
    work.then(
      (value) => this.finish(run, id, false) && this.target.complete(run, id, { ok: true, value }),
      (error) => this.finish(run, id, false) && this.target.complete(run, id, { ok: false, error: toWireError(error, false) }),
    );
  }
}

// The wire between the host (Node) and the guest runtime (inside an isolate).
// Everything that crosses is plain data copied by isolated-vm: no Reference, no host object.

/** Header list as a flat array: [name0, value0, name1, value1, ...]; names lower-case. */
export type HeaderPairs = string[];

export interface WireRequest {
  method: string;
  url: string;
  headers: HeaderPairs;
  body: ArrayBuffer | null;
  /** Only on guest → host fetch: the guest's `redirect` mode. */
  redirect?: "follow" | "manual" | "error";
}

export interface WireResponse {
  status: number;
  statusText: string;
  headers: HeaderPairs;
  body: ArrayBuffer | null;
  /** Only on host → guest fetch results: the final URL after redirects. */
  url?: string;
  redirected?: boolean;
}

/** An error that crossed the boundary, as data. */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
  /** A RetryAfterError's wait before the next attempt. */
  retryAfterMs?: number;
}

export type LogLevel = "debug" | "info" | "log" | "warn" | "error";

/**
 * How a dispatch ended, as the guest reports it; the guest never throws across the boundary.
 * `settled` says the invocation registered no ctx.waitUntil work, so it is over; `lines`: how many
 * lines it sent (log lines and span operations, see sandbox/guest/run-lines.ts).
 */
export type DispatchResult<T> = { ok: true; value: T; settled?: boolean; lines?: number } | { ok: false; error: WireError; lines?: number };

export type TriggerKind = "fetch" | "job" | "scheduled";

/**
 * A dispatch as it enters the isolate (GuestRuntime.dispatch): the host's id for its answer, the
 * trigger, InvocationInfo as JSON, the argument as JSON (a fetch's WireRequest without its body;
 * otherwise the payload) and a fetch's body. JSON text crosses isolated-vm as one flat string:
 * half the host's time per call of a structured copy of the same objects.
 */
export type DispatchEntry = [id: number, kind: TriggerKind, info: string, arg: string, body: ArrayBuffer | null];

/**
 * An answer the guest posts for an id the host gave it (a dispatch, a settle): a DispatchResult as
 * JSON, and beside it a fetch response's body. A fetch's value is its WireResponse without the
 * body; another handler's value is its return value as JSON; a settle's result is `{ok, lines}`.
 */
export type Answer = [json: string, body: ArrayBuffer | null];
export type Delivery = [id: number, answer: Answer];

/**
 * What GuestRuntime.probe returns after every call: the answers posted during the call, the ids
 * of the dispatches the call did not start (a chain stops, see sandbox/guest/dispatch-chain.ts),
 * and for each dispatch the call started, its id and the milliseconds it ran in this call, as
 * flat pairs (the host splits the call's CPU time by them).
 */
export type Probe = [deliveries: Delivery[], rest: number[], walls: number[]];

/**
 * A chain of dispatches in one call starts no new one after this long: the rest go in the next
 * call, so the watchdog's budget for a call that runs several invocations stays this close to one
 * invocation's own.
 */
export const CHAIN_SLICE_MS = 4;

/**
 * What one invocation may send the host, checked inside the guest before anything crosses: a log
 * line is cut to `lineChars`; an invocation sends at most `lines` lines and `chars` characters of
 * them (structured fields' text counted) and `traceOps` span operations. At the cap the guest
 * sends one notice line and drops the rest of the invocation's lines.
 */
export const RUN_LINE_LIMITS = { lineChars: 16 * 1024, lines: 1000, chars: 1024 * 1024, traceOps: 1000 } as const;

/** Per-invocation data the host passes with each dispatch. */
export interface InvocationInfo {
  runId: string;
  traceId: string;
  tenant: string;
  function: string;
  env: Record<string, string>;
  /** Set when the invocation is an attempt of a job: step.run and step.sleep are durable then. */
  job?: { id: string; attempt: number };
  /** Whether spans are recorded (an exporter is on): without it ctx.span costs no host call. */
  tracing?: boolean;
}

/** Limits of guest spans and log fields: the guest refuses past them, the host checks again. */
export const TRACE_LIMITS = { nameChars: 200, valueChars: 1000, attributes: 64, reservedPrefix: "isobox." } as const;
/** Largest structured fields of one log line, as JSON text. */
export const MAX_FIELDS_CHARS = 8 * 1024;

/** A span attribute's value, as OpenTelemetry allows it (arrays left out). */
export type AttributeValue = string | number | boolean;

/**
 * Guest spans (ctx.span, ctx.setAttribute), as HostBindings.trace carries them. Ids are the
 * guest's, unique within the invocation; 0 is the invocation's own span.
 */
export type TraceOp =
  | { op: "start"; id: number; parent: number; name: string; attributes: Record<string, AttributeValue> }
  | { op: "end"; id: number; error?: string }
  | { op: "attribute"; id: number; key: string; value: AttributeValue };

/** A step's outcome as the guest reports it; values travel as JSON text. */
export interface StepEnd {
  name: string;
  ok: boolean;
  /** JSON text of the result (when ok). */
  value?: string;
  error?: { name: string; message: string };
  startedAt: number;
  durationMs: number;
}

export interface EnqueueOptions {
  key?: string;
  delayMs?: number;
  maxAttempts?: number;
  priority?: number;
}

/** Operations the guest asks of the host asynchronously (see HostBindings.call). */
export interface HostCalls {
  /** Outbound fetch through the host's egress policy. Fails with a TypeError on refusal. */
  fetch: { arg: WireRequest; result: WireResponse };
  /** Completes after `arg` milliseconds: the basis of setTimeout/setInterval. */
  sleep: { arg: number; result: null };
  /** Abandons the host call with id `arg` (an aborted fetch): the host stops its work. */
  cancel: { arg: number; result: null };
  /** ctx.enqueue: a job of the calling function; the payload is JSON text. */
  enqueue: { arg: { payload: string; options: EnqueueOptions }; result: { id: string; status: string } };
  /** ctx.jobs.get: a job of the calling function, or null. */
  getJob: { arg: string; result: unknown };
  /** Before a step runs: its stored result when an earlier attempt finished it. */
  stepBegin: { arg: string; result: { done: false } | { done: true; value: string | null } };
  /** After a step ran: stores its outcome (resolves once it is durable). */
  stepEnd: { arg: StepEnd; result: null };
  /** ctx.step.sleep: stores the wake-up and ends the attempt; never answered. */
  stepSleep: { arg: { name: string; ms: number }; result: null };
}
/** The calls the embedder serves (the sandbox itself serves fetch, sleep and cancel). */
export type ServiceCallName = "enqueue" | "getJob" | "stepBegin" | "stepEnd" | "stepSleep";
export type HostCallName = keyof HostCalls;

/**
 * Host capabilities given to the guest runtime at boot, each an ivm.Callback (arguments and
 * results copied). The runtime captures them in a closure and removes the global that carried
 * them before any user code runs. `run` is the invocation the call belongs to (the runtime tracks
 * which invocation is executing, see sandbox/guest/current-run.ts).
 *
 * isolated-vm's async callbacks cannot return a host promise, so asynchronous work is a pair:
 * the guest calls `call(run, id, op, arg)` (returns at once), and the host later answers through
 * GuestRuntime.complete(id, result).
 */
export interface HostBindings {
  /** console.* output; never blocks the guest. `fields`: JSON text of the line's structured fields. */
  log(run: string, level: LogLevel, message: string, fields?: string): void;
  /** Guest spans and attributes (only called when InvocationInfo.tracing); never blocks the guest. */
  trace(run: string, op: TraceOp): void;
  /** Starts an asynchronous host operation; its outcome arrives through GuestRuntime.complete. */
  call(run: string, id: number, op: HostCallName, arg: unknown): void;
  /** Cryptographically strong random bytes (n <= 65536). */
  randomBytes(n: number): ArrayBuffer;
  /** Message digest: algorithm is "SHA-1" | "SHA-256" | "SHA-384" | "SHA-512". */
  digest(algorithm: string, data: ArrayBuffer): ArrayBuffer;
  /** HMAC with the named hash ("SHA-1" | "SHA-256" | "SHA-384" | "SHA-512"). */
  hmac(hash: string, key: ArrayBuffer, data: ArrayBuffer): ArrayBuffer;
}

/**
 * What the guest runtime exposes to the host (the host holds References; the guest never does).
 * Every call returns at once and its work, microtasks included, ends before isolated-vm hands the
 * call back; the host follows each call with probe(), which returns what the call produced. So
 * the host has one call in flight per isolate and knows what each one cost (sandbox/host/call-queue.ts).
 */
export interface GuestRuntime {
  /** Takes the user module's namespace; returns the handler names found. */
  setModule(namespace: object): DispatchResult<string[]>;
  /**
   * Runs the dispatches behind those waiting from earlier calls, one after another
   * (sandbox/guest/dispatch-chain.ts); each posts its Answer. An empty list resumes the waiting ones.
   */
  dispatch(entries: DispatchEntry[]): void;
  /** Runs one dispatch alone, leaving those waiting for a dispatch() call. */
  dispatchAlone(entry: DispatchEntry): void;
  /** After every call: what it produced (see Probe). */
  probe(): Probe;
  /** Posts `{ok, lines}` for `id` once the invocation's ctx.waitUntil promises settle, and forgets it. */
  settle(id: number, runId: string): void;
  /** The host gave up on the invocation (its dispatch `id`): abort its signal, forget it, never start it. */
  abort(runId: string, id: number): void;
  /** Answers a HostBindings.call. */
  complete(id: number, result: DispatchResult<unknown>): void;
  /** Runs the request path once, so that a later cold start finds it loaded and compiled. */
  warmUp(): void;
}

/** Global names used only during boot. */
export const BOOT_BINDINGS_GLOBAL = "__isoboxHost";
export const BOOT_RUNTIME_GLOBAL = "__isoboxRuntime";

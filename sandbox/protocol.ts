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
 * What a dispatch returns to the host; the guest never throws across the boundary. `settled`
 * says the invocation registered no ctx.waitUntil work, so the host need not call settle().
 * `lines`: how many lines the invocation logged so far (see sandbox/guest/log-count.ts).
 */
export type DispatchResult<T> = { ok: true; value: T; settled?: boolean; lines?: number } | { ok: false; error: WireError; lines?: number };

export type TriggerKind = "fetch" | "job" | "scheduled";

/** A fetch dispatch's outcome: the DispatchResult as JSON (a response's body left out), and that body. */
export type FetchDispatch = [string, ArrayBuffer | null];

/** A fetch dispatch of a batch (GuestRuntime.dispatchBatch): the host's id, then dispatch()'s info, arg and body. */
export type BatchEntry = [id: number, info: string, head: string, body: ArrayBuffer | null];

/** A batch entry's answer: its id and its FetchDispatch. */
export type Delivery = [id: number, answer: FetchDispatch];

/** Answers one HostBindings.deliver call carries at most (the guest sends more in several). */
export const MAX_DELIVERIES = 1000;

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
  /** Answers of batch entries that finished after their batch's probe; never blocks the guest. */
  deliver(answers: Delivery[]): void;
  /** Starts an asynchronous host operation; its outcome arrives through GuestRuntime.complete. */
  call(run: string, id: number, op: HostCallName, arg: unknown): void;
  /** Cryptographically strong random bytes (n <= 65536). */
  randomBytes(n: number): ArrayBuffer;
  /** Message digest: algorithm is "SHA-1" | "SHA-256" | "SHA-384" | "SHA-512". */
  digest(algorithm: string, data: ArrayBuffer): ArrayBuffer;
  /** HMAC with the named hash ("SHA-1" | "SHA-256" | "SHA-384" | "SHA-512"). */
  hmac(hash: string, key: ArrayBuffer, data: ArrayBuffer): ArrayBuffer;
}

/** What the guest runtime exposes to the host (the host holds References; the guest never does). */
export interface GuestRuntime {
  /** Takes the user module's namespace; returns the handler names found. */
  setModule(namespace: object): DispatchResult<string[]>;
  /**
   * Runs a handler. `info` is InvocationInfo as JSON; for "fetch", `arg` is the WireRequest without
   * its body as JSON and `body` the body, and the result is the DispatchResult as JSON (its
   * response without the body) beside the response body; otherwise `arg` is the payload and the
   * result the DispatchResult. JSON text crosses isolated-vm as one flat string: half the host's
   * time per call of a structured copy of the same objects (measured, see sandbox/host/sandbox.ts).
   */
  dispatch(kind: TriggerKind, info: string, arg: unknown, body: ArrayBuffer | null): Promise<DispatchResult<unknown> | FetchDispatch>;
  /** Runs fetch dispatches one after another in this call (see sandbox/guest/batch.ts); returns at once. */
  dispatchBatch(entries: BatchEntry[]): void;
  /** Ends the batch: its answers so far, and the ids of the entries that did not start. */
  probe(): [Delivery[], number[]];
  /** Resolves once the invocation's ctx.waitUntil promises settle, with the lines it logged in all. */
  settle(runId: string): Promise<number>;
  /** The host gave up on the invocation: abort its signal, forget it. */
  abort(runId: string): void;
  /** Answers a HostBindings.call. */
  complete(id: number, result: DispatchResult<unknown>): void;
  /** Runs the request path once, so that a later cold start finds it loaded and compiled. */
  warmUp(): Promise<void>;
}

/** Global names used only during boot. */
export const BOOT_BINDINGS_GLOBAL = "__isoboxHost";
export const BOOT_RUNTIME_GLOBAL = "__isoboxRuntime";

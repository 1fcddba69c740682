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

/** An error that crossed the boundary, as data (written and read by sandbox/wire-error.ts). */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
  /** How a job's error steers its retries: no further attempt, or the next one after a wait. */
  retry?: "never" | { afterMs: number };
}

export type LogLevel = "debug" | "info" | "log" | "warn" | "error";

/**
 * How a dispatch ended, as the guest reports it; the guest never throws across the boundary.
 * `over` says the invocation registered no ctx.waitUntil work, so it ended with its answer; `lines`: how many
 * lines it sent (log lines and span operations, see sandbox/guest/run-lines.ts).
 */
export type DispatchResult<T> = { ok: true; value: T; over?: boolean; lines?: number } | { ok: false; error: WireError; lines?: number };

/** The handler an invocation calls: `tool` is an MCP tools/call (src/mcp). */
export type TriggerKind = "fetch" | "job" | "scheduled" | "tool";

/**
 * A dispatch as it enters the isolate (GuestRuntime.dispatch): the host's id for its answer, the
 * trigger, InvocationInfo as JSON, the argument as JSON (a fetch's WireRequest without its body;
 * otherwise the payload) and a fetch's body. JSON text crosses isolated-vm as one flat string:
 * half the host's time per call of a structured copy of the same objects.
 */
export type DispatchEntry = [id: number, kind: TriggerKind, info: string, arg: string, body: ArrayBuffer | null];

/**
 * Dispatches wait and chain in lanes: requests (fetch, tool) in one, job attempts and schedule fires in
 * the other, so that a chain's invocations have limits of one kind (a request's 50 ms, a job's 30 s).
 */
export const DISPATCH_LANES = { requests: 0, jobs: 1 } as const;
export type DispatchLane = (typeof DISPATCH_LANES)[keyof typeof DISPATCH_LANES];

/**
 * An answer the guest posts for an id the host gave it (a dispatch, an awaitWaitUntil): a DispatchResult as
 * JSON, and beside it a fetch response's body. A fetch's value is its WireResponse without the
 * body; another handler's value is its return value as JSON; awaitWaitUntil's result is `{ok, lines}`.
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

// The shapes of jobs, as the guest sees them (ctx.enqueue, ctx.jobs.get) and everything else of
// Isobox uses them: one source, free of any dependency (src/types.ts publishes them to authors).

export interface EnqueueOptions {
  /** Idempotency key, unique per function. */
  key?: string;
  delayMs?: number;
  maxAttempts?: number;
  /** Higher runs first (-1000..1000). */
  priority?: number;
}

export const JOB_STATUSES = ["queued", "running", "succeeded", "failed", "cancelled"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** What made a job: an enqueue (API or ctx.enqueue), a schedule's fire, a webhook delivery. */
/** What started a job: the API or ctx.enqueue, a schedule, a webhook, an MCP call of a job-mode tool. */
export const JOB_TRIGGERS = ["job", "cron", "webhook", "mcp"] as const;
export type JobTrigger = (typeof JOB_TRIGGERS)[number];

/** How a job (or an attempt) failed. */
export interface JobError {
  code: string;
  message: string;
  /** The guest's stack, on its own lines. */
  stack?: string;
  /** The guest's error's name, when it threw. */
  name?: string;
}

export type StepKind = "run" | "sleep";
export type StepStatus = "succeeded" | "failed";

/** A job as the API and ctx.jobs.get show it. */
export interface JobInfo {
  id: string;
  function: string;
  trigger: JobTrigger;
  status: JobStatus;
  attempts: number;
  maxAttempts: number;
  key?: string;
  payload?: unknown;
  result?: unknown;
  error?: JobError;
  /** When it runs next: the first attempt, a retry after backoff, the end of a step.sleep. */
  runAt?: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  version?: number;
  /** `preview`: the start of a step's result as JSON. */
  steps?: { name: string; kind: StepKind; status: StepStatus; durationMs: number; attempt: number; startedAt: string; preview?: string; error?: { name: string; message: string } }[];
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
  enqueue: { arg: { payload: string; options: EnqueueOptions }; result: { id: string; status: JobStatus } };
  /** ctx.jobs.get: a job of the calling function, or null. */
  getJob: { arg: string; result: JobInfo | null };
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
   * Runs the dispatches behind those waiting in `lane` from earlier calls, one after another
   * (sandbox/guest/dispatch-chain.ts); each posts its Answer. An empty list resumes the waiting ones.
   */
  dispatch(lane: DispatchLane, entries: DispatchEntry[]): void;
  /** After every call: what it produced (see Probe). */
  probe(): Probe;
  /** Posts `{ok, lines}` for `id` once the invocation's ctx.waitUntil work is done, and ends it. */
  awaitWaitUntil(id: number, runId: string): void;
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

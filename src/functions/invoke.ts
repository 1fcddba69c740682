// Invoker: runs one handler of a function in its isolate with the host capabilities bound to the
// invocation, turns sandbox failures into IsoboxErrors, and records the run.
import { randomUUID } from "node:crypto";
import type { InvocationHooks } from "../../sandbox/host/host-work.ts";
import type { InvocationLimits, SandboxFailure } from "../../sandbox/host/limits.ts";
import type { IsolatePool } from "../../sandbox/host/pool.ts";
import { RUN_LINE_LIMITS, type LogLevel, type ServiceCallName, type TriggerKind, type WireRequest } from "../../sandbox/protocol.ts";
import type { Fetcher } from "../capabilities/fetch.ts";
import { redact, type SecretStore } from "../capabilities/secrets.ts";
import { FetchDenied } from "../capabilities/egress.ts";
import { pinCheck } from "../capabilities/secret-pins.ts";
import { IsoboxError, type ErrorCode } from "../errors.ts";
import type { LogLine, RunRecord, RunRecorder, StepLine } from "../telemetry/recorder.ts";
import type { ActiveFunction } from "./registry.ts";
import type { TenantLimiter } from "../tenancy/quotas.ts";
import type { LiveLogs } from "../telemetry/live-logs.ts";
import { context, SpanKind, SpanStatusCode, trace, type Context as OtelContext } from "@opentelemetry/api";
import { traceparentOf, tracer } from "../telemetry/tracing.ts";
import { guestSpans, type GuestSpans } from "../telemetry/guest-spans.ts";
import { logFields } from "../telemetry/log-fields.ts";

/** The guest sends at most this many lines of an invocation, and one notice when it reaches the cap. */
const MAX_LOG_LINES = RUN_LINE_LIMITS.lines + 1;
const MAX_STEP_LINES = 1000;
const PREVIEW_CHARS = 200;

export interface InvokerDeps {
  pool: IsolatePool;
  fetcher: Fetcher;
  recorder: RunRecorder;
  secrets: SecretStore;
  /** Outbound fetches one invocation may make. */
  maxSubrequests: number;
  /** Where the tenant's CPU time is counted (the cpuMsPerMinute quota). */
  limiter: Pick<TenantLimiter, "chargeCpu">;
  /** Fraction of successful HTTP runs recorded. */
  httpSampleRate: number;
  /** Where followers of a function's logs get its lines as they are written. */
  liveLogs?: Pick<LiveLogs, "publish">;
  /** Serves ctx.enqueue and ctx.jobs.get for invocations that bring no service of their own. */
  services?(fn: ActiveFunction, traceId: string): ServiceHandler;
}

type ServiceHandler = (op: ServiceCallName, arg: unknown) => Promise<unknown>;

export interface InvokeResult<T> {
  value: T;
  runId: string;
}

export type Trigger = RunRecord["trigger"];

/** Why an invocation was stopped from outside; the abort reason of InvokeOptions.signal. */
export class Stop extends Error {
  readonly why: "sleep" | "cancel" | "shutdown";
  constructor(why: Stop["why"], message: string) {
    super(message);
    this.name = "Stop";
    this.why = why;
  }
}

export interface InvokeOptions {
  traceId?: string;
  /** Set for a job attempt (job, cron and webhook triggers). */
  job?: { id: string; attempt: number };
  /** Serves the guest's ctx.enqueue, ctx.jobs.get and ctx.step calls. */
  service?: ServiceHandler;
  /** Aborted with a Stop to end the invocation early. */
  signal?: AbortSignal;
  limits?: InvocationLimits;
}

/** A failed invocation, with what the guest threw (its error name and a RetryAfterError's wait). */
export class InvocationError extends IsoboxError {
  readonly guestName?: string;
  readonly retryAfterMs?: number;
  /** The guest's stack, on its own lines only, secrets redacted. */
  readonly guestStack?: string;
  constructor(code: ErrorCode, message: string, runId: string, guest?: { name?: string; retryAfterMs?: number; stack?: string }) {
    super(code, message, { details: { runId } });
    this.guestName = guest?.name;
    this.retryAfterMs = guest?.retryAfterMs;
    this.guestStack = guest?.stack;
  }
}

const SANDBOX_CODES: Partial<Record<SandboxFailure["code"], ErrorCode>> = {
  ERR_CPU_LIMIT: "ERR_CPU_LIMIT",
  ERR_MEMORY_LIMIT: "ERR_MEMORY_LIMIT",
  ERR_WALL_TIMEOUT: "ERR_WALL_TIMEOUT",
  ERR_NO_HANDLER: "ERR_NO_HANDLER",
  ERR_FUNCTION_THREW: "ERR_FUNCTION_THREW",
  ERR_COMPILE: "ERR_FUNCTION_THREW",
  ERR_ISOLATE_DISPOSED: "ERR_UNAVAILABLE",
  ERR_ABORTED: "ERR_UNAVAILABLE",
};

export class Invoker {
  private readonly deps: InvokerDeps;
  /** Runs waiting for their waitUntil work before they are recorded. */
  private readonly settling = new Set<Promise<void>>();
  constructor(deps: InvokerDeps) {
    this.deps = deps;
  }

  /** Resolves when every finished invocation's waitUntil work is done and its run recorded. */
  async drain(): Promise<void> {
    while (this.settling.size > 0) await Promise.allSettled([...this.settling]);
  }

  async invoke<T>(fn: ActiveFunction, kind: TriggerKind, arg: unknown, trigger: Trigger, options: InvokeOptions = {}): Promise<InvokeResult<T>> {
    const runId = randomUUID();
    // The isolate call's span: a child of the request's or the job attempt's, whose trace the run shares.
    const span = tracer.startSpan(`invoke ${fn.name} ${kind}`, { attributes: { "isobox.tenant": fn.tenant, "isobox.function": fn.name, "isobox.version": fn.version, "isobox.run_id": runId } });
    const spanContext = trace.setSpan(context.active(), span);
    const traced = span.spanContext();
    const traceId = options.traceId ?? (span.isRecording() ? traced.traceId : randomUUID().replaceAll("-", ""));
    const startedAt = new Date();
    const started = performance.now();
    const logs: LogLine[] = [];
    const env = await this.deps.secrets.env(fn.tenant, fn.secretNames);
    const hidden = Object.values(env);
    const tracing = span.isRecording();
    const spans = tracing ? guestSpans(spanContext, hidden) : undefined;
    const hooks = this.hooks(fn, runId, logs, env, hidden, traceId, spanContext, spans);
    const make = this.deps.services;
    const steps: StepLine[] = [];
    let service = options.service;
    if (service) hooks.service = recordingSteps(service, steps, started, hidden, spanContext);
    else if (make) hooks.service = (op, arg) => (service ??= make(fn, traceId))(op, arg);
    const info = { runId, traceId, tenant: fn.tenant, function: fn.name, env, job: options.job, tracing };
    const run = { id: runId, tenant: fn.tenant, function: fn.name, version: fn.version, trigger, startedAt, traceId, logs, steps, jobId: options.job?.id, attempt: options.job?.attempt };
    // The spans end once the guest's last lines arrived: its ctx.setAttribute and ctx.span calls.
    const endSpans = () => {
      spans?.endAll();
      span.end();
    };
    const outcome = await this.deps.pool.invoke(fn.image, kind, info, arg, hooks, { signal: options.signal, limits: options.limits });
    const durationMs = performance.now() - started;
    if (outcome.ok) {
      const httpStatus = kind === "fetch" ? (outcome.value as { status: number }).status : undefined;
      // Recorded once its waitUntil work is over and its last lines arrived; the caller does not wait.
      this.settle(outcome.done.then(async (ended) => {
        this.deps.limiter.chargeCpu(fn.tenant, ended.cpuMs);
        span.setAttribute("isobox.cpu_ms", ended.cpuMs);
        // Its waitUntil work failed after the response (a limit): the run says so.
        const late = ended.failure && this.toInvocationError(fn, ended.failure, runId, hidden);
        if (late) span.setStatus({ code: SpanStatusCode.ERROR, message: `${late.code}: ${late.message}` });
        endSpans();
        if (!late && trigger === "http" && Math.random() >= this.deps.httpSampleRate) {
          this.deps.recorder.skip();
          return;
        }
        const memoryBytes = await outcome.memoryBytes();
        const error = late ? { code: late.code, message: `After the response: ${late.message}`, ...(late.guestStack ? { stack: late.guestStack } : {}) } : undefined;
        this.deps.recorder.record({ ...run, status: error ? "failed" : "succeeded", durationMs, cpuMs: ended.cpuMs, memoryBytes, httpStatus, ...(error ? { error } : {}) });
      }));
      return { value: outcome.value as T, runId };
    }
    const failure = this.toInvocationError(fn, outcome.failure, runId, hidden);
    const stop = options.signal?.aborted && options.signal.reason instanceof Stop ? options.signal.reason : undefined;
    // A sleeping job's attempt is suspended, not failed.
    const runError = stop?.why === "sleep" ? undefined
      : stop ? { code: stop.why === "cancel" ? "ERR_CANCELLED" : "ERR_SHUTDOWN", message: stop.message } : { code: failure.code, message: failure.message, stack: failure.guestStack };
    if (runError) span.setStatus({ code: SpanStatusCode.ERROR, message: `${runError.code}: ${runError.message}` });
    // Recorded once the lines the guest logged before it failed have arrived; the caller does not wait.
    this.settle(outcome.done.then(async (ended) => {
      this.deps.limiter.chargeCpu(fn.tenant, ended.cpuMs);
      endSpans();
      const memoryBytes = await outcome.memoryBytes();
      this.deps.recorder.record({ ...run, status: runError ? "failed" : "suspended", durationMs, cpuMs: ended.cpuMs, memoryBytes, ...(runError ? { error: runError } : {}) });
    }));
    throw failure;
  }

  /** Recording work that outlives the call; drain() waits for it. */
  private settle(work: Promise<void>): void {
    this.settling.add(work);
    void work.finally(() => this.settling.delete(work));
  }

  private hooks(fn: ActiveFunction, runId: string, logs: LogLine[], env: Record<string, string>, hidden: string[], traceId: string, parent: OtelContext, spans?: GuestSpans): InvocationHooks {
    const { fetcher, maxSubrequests, liveLogs } = this.deps;
    const checkHop = pinCheck(fn.pins, env);
    let subrequests = 0;
    const log = (level: LogLevel, message: string, json?: string) => {
      if (logs.length >= MAX_LOG_LINES) return;
      const fields = logFields(json, hidden);
      const line = { time: new Date(), level, message: storable(message, hidden), ...(fields ? { fields } : {}) };
      logs.push(line);
      liveLogs?.publish(fn.tenant, fn.name, { runId, time: line.time.toISOString(), level, message: line.message, ...(fields ? { fields } : {}) });
    };
    return {
      log,
      trace: spans && ((op) => spans.apply(op)),
      async fetch(request: WireRequest, signal: AbortSignal) {
        const span = tracer.startSpan(`fetch ${request.method}`, { kind: SpanKind.CLIENT, attributes: { "http.request.method": request.method, "url.full": redact(request.url, hidden) } }, parent);
        try {
          if (++subrequests > maxSubrequests) throw new FetchDenied(new URL(request.url).host, `more than ${maxSubrequests} subrequests in one invocation`);
          const response = await fetcher.fetch(fn.egress, withTraceparent(request, traceparentOf(span) ?? randomTraceparent(traceId)), { checkHop, signal });
          span.setAttribute("http.response.status_code", response.status);
          return response;
        } catch (error) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: storable((error as Error).message, hidden) });
          log("warn", (error as Error).message);
          throw error;
        } finally {
          span.end();
        }
      },
    };
  }

  private toInvocationError(fn: ActiveFunction, failure: SandboxFailure, runId: string, hidden: string[]): InvocationError {
    const code = SANDBOX_CODES[failure.code] ?? "ERR_INTERNAL";
    return new InvocationError(code, storable(failure.message, hidden), runId, { ...failure.guest, stack: storable(userStack(fn, failure.guestStack), hidden) });
  }
}

/** Notes each step of a job attempt for its run record, as the guest's step calls pass through. */
function recordingSteps(service: ServiceHandler, steps: StepLine[], started: number, hidden: string[], parent: OtelContext): ServiceHandler {
  const begun = new Map<string, number>();
  const origin = Date.now() - (performance.now() - started);
  const push = (step: StepLine) => {
    if (steps.length < MAX_STEP_LINES) steps.push(step);
    // Each step is a span too, placed where it ran within the invocation.
    const span = tracer.startSpan(`step ${step.name}`, { startTime: origin + step.offsetMs, attributes: { "isobox.step.status": step.status, ...(step.outputBytes === undefined ? {} : { "isobox.step.output_bytes": step.outputBytes }) } }, parent);
    if (step.status === "failed") span.setStatus({ code: SpanStatusCode.ERROR, message: step.error?.message });
    span.end(origin + step.offsetMs + (step.status === "sleeping" ? 0 : step.durationMs));
  };
  return async (op, arg) => {
    const now = performance.now() - started;
    if (op === "stepSleep") {
      const sleep = arg as { name?: unknown; ms?: unknown };
      if (typeof sleep.name === "string" && typeof sleep.ms === "number") push({ name: sleep.name, status: "sleeping", offsetMs: now, durationMs: sleep.ms });
    }
    const result = await service(op, arg);
    if (op === "stepBegin" && typeof arg === "string") {
      const stored = result as { done: boolean; value?: string | null };
      if (stored.done) push({ name: arg, status: "replayed", offsetMs: now, durationMs: 0, ...output(stored.value, hidden) });
      else begun.set(arg, now);
    } else if (op === "stepEnd") {
      const end = arg as { name: string; ok: boolean; value?: string; error?: { name: string; message: string } };
      const from = begun.get(end.name) ?? now;
      push({
        name: end.name, status: end.ok ? "succeeded" : "failed", offsetMs: from, durationMs: now - from,
        ...(end.ok ? output(end.value, hidden) : { error: { name: String(end.error?.name ?? "Error"), message: storable(String(end.error?.message ?? ""), hidden).slice(0, 1000) } }),
      });
    }
    return result;
  };
}

/** Size and the start of a step's JSON result, secrets redacted. */
function output(json: string | null | undefined, hidden: string[]): Pick<StepLine, "outputBytes" | "preview"> {
  if (typeof json !== "string") return {};
  return { outputBytes: Buffer.byteLength(json), preview: storable(json.slice(0, PREVIEW_CHARS), hidden) };
}

/** The guest's stack without the runtime's frames (only lines in the function's own file), on its source lines. */
export function userStack(fn: ActiveFunction, stack: string | undefined): string | undefined {
  if (!stack) return undefined;
  const lines = stack.split("\n");
  const own = lines.filter((line, i) => i === 0 || line.includes(fn.image.filename));
  return fn.stacks.apply(own.join("\n"), fn.image.filename);
}

/** Guest text as it may be stored and shown: secrets replaced, NUL (which Postgres text cannot hold) too. */
function storable<T extends string | undefined>(text: T, hidden: string[]): T {
  return (text === undefined ? text : redact(text, hidden).replaceAll("\0", "\uFFFD")) as T;
}

/** The run's trace continues downstream (W3C Trace Context), unless the guest set its own. */
function withTraceparent(request: WireRequest, traceparent: string): WireRequest {
  for (let i = 0; i < request.headers.length; i += 2) if (request.headers[i] === "traceparent") return request;
  return { ...request, headers: [...request.headers, "traceparent", traceparent] };
}

/** Without tracing, the run's trace id still goes out, with a fresh span id. */
function randomTraceparent(traceId: string): string {
  return `00-${traceId}-${randomUUID().replaceAll("-", "").slice(0, 16)}-01`;
}

// Invoker: runs one handler of a function in its isolate with what the host does for it bound to
// the invocation (invocation-host.ts), turns sandbox failures into IsoboxErrors, and records the run.
import { randomUUID } from "node:crypto";
import { context, SpanStatusCode, trace } from "@opentelemetry/api";
import type { InvocationLimits, SandboxFailure } from "../../sandbox/host/limits.ts";
import type { IsolatePool } from "../../sandbox/host/pool.ts";
import type { TriggerKind, WireError } from "../../sandbox/protocol.ts";
import type { SecretStore } from "../capabilities/secrets.ts";
import { IsoboxError, type ErrorCode } from "../errors.ts";
import type { ServiceHandler } from "../jobs/guest-services.ts";
import { recordingSteps } from "../jobs/step-recorder.ts";
import type { Stop } from "../jobs/stop.ts";
import type { LogLine, RunRecord, RunRecorder, StepLine } from "../runs/recorder.ts";
import { guestSpans } from "../telemetry/guest-spans.ts";
import { tracer } from "../telemetry/tracing.ts";
import type { TenantLimiter } from "../tenancy/quotas.ts";
import { invocationHost, shownText, type HostServices } from "./invocation-host.ts";
import type { ActiveFunction } from "./registry.ts";

export interface InvokerDeps extends HostServices {
  pool: IsolatePool;
  recorder: RunRecorder;
  secrets: SecretStore;
  /** Where the tenant's CPU time is counted (the cpuMsPerMinute quota). */
  limiter: Pick<TenantLimiter, "chargeCpu">;
  /** Fraction of successful HTTP runs recorded. */
  httpSampleRate: number;
  /** Serves ctx.enqueue and ctx.jobs.get for invocations that bring no service of their own. */
  services?(fn: ActiveFunction, traceId: string): ServiceHandler;
}

export interface InvokeResult<T> {
  value: T;
  runId: string;
}

export type Trigger = RunRecord["trigger"];

export interface InvokeOptions {
  traceId?: string;
  /** Set for a job attempt (job, cron and webhook triggers). */
  job?: { id: string; attempt: number };
  /** Serves the guest's ctx.enqueue, ctx.jobs.get and ctx.step calls (its steps are recorded with the run). */
  service?: ServiceHandler;
  /** Aborted with a Stop to end the invocation early: invoke then throws a StoppedInvocation. */
  signal?: AbortSignal;
  limits?: InvocationLimits;
  /** Recorded whatever ISOBOX_HTTP_RUN_SAMPLE_RATE says (a request from the console's Test panel). */
  record?: boolean;
}

/** A failed invocation, with what the guest threw (its error's name, how it steers a job's retries). */
export class InvocationError extends IsoboxError {
  readonly guestName?: string;
  readonly retry?: WireError["retry"];
  /** The guest's stack, on its own lines only, secrets redacted. */
  readonly guestStack?: string;
  constructor(code: ErrorCode, message: string, runId: string, guest?: { name?: string; retry?: WireError["retry"]; stack?: string }) {
    super(code, message, { details: { runId } });
    this.guestName = guest?.name;
    this.retry = guest?.retry;
    this.guestStack = guest?.stack;
  }
}

/** An invocation stopped from outside (InvokeOptions.signal): `stop` says why. */
export class StoppedInvocation extends IsoboxError {
  readonly stop: Stop;
  constructor(stop: Stop, runId: string) {
    super("ERR_UNAVAILABLE", stop.message, { details: { runId } });
    this.stop = stop;
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
  /** Runs waiting for their waitUntil work and their last lines before they are recorded. */
  private readonly recording = new Set<Promise<void>>();
  constructor(deps: InvokerDeps) {
    this.deps = deps;
  }

  /** Resolves when every finished invocation's waitUntil work is done and its run recorded. */
  async drain(): Promise<void> {
    while (this.recording.size > 0) await Promise.allSettled([...this.recording]);
  }

  async invoke<T>(fn: ActiveFunction, kind: TriggerKind, arg: unknown, trigger: Trigger, options: InvokeOptions = {}): Promise<InvokeResult<T>> {
    const runId = randomUUID();
    // The isolate call's span: a child of the request's or the job attempt's, whose trace the run shares.
    const span = tracer.startSpan(`invoke ${fn.name} ${kind}`, { attributes: { "isobox.tenant": fn.tenant, "isobox.function": fn.name, "isobox.version": fn.version, "isobox.run_id": runId } });
    const parent = trace.setSpan(context.active(), span);
    const tracing = span.isRecording();
    const traceId = options.traceId ?? (tracing ? span.spanContext().traceId : randomUUID().replaceAll("-", ""));
    const startedAt = new Date();
    const started = performance.now();
    const logs: LogLine[] = [];
    const steps: StepLine[] = [];
    const env = await this.deps.secrets.env(fn.tenant, fn.secretNames);
    const secrets = Object.values(env);
    const shown = (text: string) => shownText(text, secrets);
    const spans = tracing ? guestSpans(parent, secrets) : undefined;
    const host = invocationHost(this.deps, { fn, runId, traceId, logs, env, parent, spans });
    const make = this.deps.services;
    let service = options.service;
    if (service) host.service = recordingSteps(service, steps, started, shown, parent);
    else if (make) host.service = (op, arg) => (service ??= make(fn, traceId))(op, arg);
    const info = { runId, traceId, tenant: fn.tenant, function: fn.name, env, job: options.job, tracing };
    const run = { id: runId, tenant: fn.tenant, function: fn.name, version: fn.version, trigger, startedAt, traceId, logs, steps, jobId: options.job?.id, attempt: options.job?.attempt };
    const outcome = await this.deps.pool.invoke(fn.image, kind, info, arg, host, { signal: options.signal, limits: options.limits });
    const durationMs = performance.now() - started;
    const stop = options.signal?.aborted ? (options.signal.reason as Stop) : undefined;
    const failure = outcome.ok ? undefined : stop ? new StoppedInvocation(stop, runId) : this.toInvocationError(fn, outcome.failure, runId, secrets);
    const httpStatus = outcome.ok && kind === "fetch" ? (outcome.value as { status: number }).status : undefined;
    // Recorded once its waitUntil work is over and its last lines arrived; the caller does not wait.
    this.afterward(outcome.done.then(async (ended) => {
      this.deps.limiter.chargeCpu(fn.tenant, ended.cpuMs);
      span.setAttribute("isobox.cpu_ms", ended.cpuMs);
      // A success whose waitUntil work failed later (a limit) is recorded failed, and says so.
      const late = outcome.ok && ended.failure ? this.toInvocationError(fn, ended.failure, runId, secrets) : undefined;
      const error = failure instanceof StoppedInvocation ? failure.stop.runError
        : failure ? { code: failure.code, message: failure.message, ...(failure.guestStack ? { stack: failure.guestStack } : {}) }
        : late ? { code: late.code, message: `After the response: ${late.message}`, ...(late.guestStack ? { stack: late.guestStack } : {}) } : undefined;
      if (error) span.setStatus({ code: SpanStatusCode.ERROR, message: `${error.code}: ${error.message}` });
      // The spans end once the guest's last lines arrived: its ctx.setAttribute and ctx.span calls.
      spans?.endAll();
      span.end();
      if (!failure && !late && trigger === "http" && !options.record && Math.random() >= this.deps.httpSampleRate) {
        this.deps.recorder.skip();
        return;
      }
      // A sleeping job's attempt is suspended, not failed.
      const status = error ? "failed" : failure ? "suspended" : "succeeded";
      const memoryBytes = await outcome.memoryBytes();
      this.deps.recorder.record({ ...run, status, durationMs, cpuMs: ended.cpuMs, memoryBytes, httpStatus, ...(error ? { error } : {}) });
    }));
    if (failure) throw failure;
    return { value: (outcome as { value: unknown }).value as T, runId };
  }

  /** Recording work that outlives the call; drain() waits for it. */
  private afterward(work: Promise<void>): void {
    this.recording.add(work);
    void work.finally(() => this.recording.delete(work));
  }

  private toInvocationError(fn: ActiveFunction, failure: SandboxFailure, runId: string, secrets: string[]): InvocationError {
    const code = SANDBOX_CODES[failure.code] ?? "ERR_INTERNAL";
    const stack = userStack(fn, failure.guestStack);
    return new InvocationError(code, shownText(failure.message, secrets), runId, { ...failure.guest, ...(stack ? { stack: shownText(stack, secrets) } : {}) });
  }
}

/** The guest's stack without the runtime's frames (only lines in the function's own file), on its source lines. */
export function userStack(fn: ActiveFunction, stack: string | undefined): string | undefined {
  if (!stack) return undefined;
  const lines = stack.split("\n");
  const own = lines.filter((line, i) => i === 0 || line.includes(fn.image.filename));
  return fn.stacks.apply(own.join("\n"), fn.image.filename);
}

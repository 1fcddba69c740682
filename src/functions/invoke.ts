// Invoker: runs one handler of a function in its isolate with the host capabilities bound to the
// invocation, turns sandbox failures into IsoboxErrors, and records the run.
import { randomUUID } from "node:crypto";
import type { InvocationHooks } from "../../sandbox/host/bindings.ts";
import { SandboxError } from "../../sandbox/host/limits.ts";
import type { IsolatePool } from "../../sandbox/host/pool.ts";
import type { LogLevel, TriggerKind, WireRequest } from "../../sandbox/protocol.ts";
import type { Fetcher } from "../capabilities/fetch.ts";
import { redact, type SecretStore } from "../capabilities/secrets.ts";
import { FetchDenied } from "../capabilities/egress.ts";
import { pinCheck } from "../capabilities/secret-pins.ts";
import { IsoboxError, type ErrorCode } from "../errors.ts";
import type { LogLine, RunRecord, RunRecorder } from "../telemetry/recorder.ts";
import type { ActiveFunction } from "./registry.ts";
import type { TenantLimiter } from "../tenancy/quotas.ts";

const MAX_LOG_LINES = 1000;

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
}

export interface InvokeResult<T> {
  value: T;
  runId: string;
  /** CPU charged to the invocation. */
  cpuMs: number;
}

export type Trigger = RunRecord["trigger"];

const SANDBOX_CODES: Partial<Record<SandboxError["code"], ErrorCode>> = {
  ERR_CPU_LIMIT: "ERR_CPU_LIMIT",
  ERR_MEMORY_LIMIT: "ERR_MEMORY_LIMIT",
  ERR_WALL_TIMEOUT: "ERR_WALL_TIMEOUT",
  ERR_NO_HANDLER: "ERR_NO_HANDLER",
  ERR_FUNCTION_THREW: "ERR_FUNCTION_THREW",
  ERR_COMPILE: "ERR_FUNCTION_THREW",
  ERR_ISOLATE_DISPOSED: "ERR_UNAVAILABLE",
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

  async invoke<T>(fn: ActiveFunction, kind: TriggerKind, arg: unknown, trigger: Trigger, traceId = randomUUID().replaceAll("-", "")): Promise<InvokeResult<T>> {
    const runId = randomUUID();
    const startedAt = new Date();
    const started = performance.now();
    const logs: LogLine[] = [];
    const env = await this.deps.secrets.env(fn.tenant, fn.secretNames);
    const hidden = Object.values(env);
    const hooks = this.hooks(fn, logs, env, hidden, traceId);
    const info = { runId, traceId, tenant: fn.tenant, function: fn.name, env };
    const run = { id: runId, tenant: fn.tenant, function: fn.name, version: fn.version, trigger, startedAt, traceId, logs };
    try {
      const result = await this.deps.pool.invoke(fn.image, kind, info, arg, hooks);
      const durationMs = performance.now() - started;
      this.deps.limiter.chargeCpu(fn.tenant, result.cpuMs);
      const httpStatus = kind === "fetch" ? (result.value as { status: number }).status : undefined;
      const recorded = result.settled.then(() => {
        if (trigger !== "http" || Math.random() < this.deps.httpSampleRate) {
          this.deps.recorder.record({ ...run, status: "succeeded", durationMs, cpuMs: result.cpuMs, httpStatus });
        }
      });
      this.settling.add(recorded);
      void recorded.finally(() => this.settling.delete(recorded));
      return { value: result.value as T, runId, cpuMs: result.cpuMs };
    } catch (error) {
      const failure = this.toIsoboxError(error, runId, hidden);
      const cpuMs = error instanceof SandboxError ? error.cpuMs : 0;
      this.deps.limiter.chargeCpu(fn.tenant, cpuMs);
      this.deps.recorder.record({
        ...run,
        status: "failed",
        durationMs: performance.now() - started,
        cpuMs,
        error: { code: failure.code, message: failure.message, stack: error instanceof SandboxError ? storable(userStack(fn, error.guestStack), hidden) : undefined },
      });
      throw failure;
    }
  }

  private hooks(fn: ActiveFunction, logs: LogLine[], env: Record<string, string>, hidden: string[], traceId: string): InvocationHooks {
    const { fetcher, maxSubrequests } = this.deps;
    const checkHop = pinCheck(fn.pins, env);
    let subrequests = 0;
    return {
      log(level: LogLevel, message: string) {
        if (logs.length < MAX_LOG_LINES) logs.push({ time: new Date(), level, message: storable(message, hidden) });
      },
      async fetch(request: WireRequest, signal: AbortSignal) {
        try {
          if (++subrequests > maxSubrequests) throw new FetchDenied(new URL(request.url).host, `more than ${maxSubrequests} subrequests in one invocation`);
          return await fetcher.fetch(fn.egress, withTraceparent(request, traceId), { checkHop, signal });
        } catch (error) {
          if (logs.length < MAX_LOG_LINES) logs.push({ time: new Date(), level: "warn", message: storable((error as Error).message, hidden) });
          throw error;
        }
      },
    };
  }

  private toIsoboxError(error: unknown, runId: string, hidden: string[]): IsoboxError {
    if (!(error instanceof SandboxError)) return new IsoboxError("ERR_INTERNAL", "The function could not be run", { cause: error, details: { runId } });
    const code = SANDBOX_CODES[error.code] ?? "ERR_INTERNAL";
    return new IsoboxError(code, storable(error.message, hidden), { details: { runId } });
  }
}

/** The guest's stack without the runtime's frames: only lines in the function's own file. */
export function userStack(fn: ActiveFunction, stack: string | undefined): string | undefined {
  if (!stack) return undefined;
  const lines = stack.split("\n");
  const own = lines.filter((line, i) => i === 0 || line.includes(fn.image.filename));
  return own.join("\n");
}

/** Guest text as it may be stored and shown: secrets replaced, NUL (which Postgres text cannot hold) too. */
function storable<T extends string | undefined>(text: T, hidden: string[]): T {
  return (text === undefined ? text : redact(text, hidden).replaceAll("\0", "\uFFFD")) as T;
}

/** The run's trace continues downstream (W3C Trace Context), unless the guest set its own. */
function withTraceparent(request: WireRequest, traceId: string): WireRequest {
  for (let i = 0; i < request.headers.length; i += 2) if (request.headers[i] === "traceparent") return request;
  const span = randomUUID().replaceAll("-", "").slice(0, 16);
  return { ...request, headers: [...request.headers, "traceparent", `00-${traceId}-${span}-01`] };
}

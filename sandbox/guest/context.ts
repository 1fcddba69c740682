// The `ctx` argument of every handler.
import type { EnqueueOptions, InvocationInfo } from "../protocol.ts";
import { AbortController } from "./web/abort.ts";
import { hostCall } from "./host-call.ts";
import { createSteps } from "./steps.ts";
import { createTracing } from "./spans.ts";

export interface Pending {
  waitUntil: Promise<unknown>[];
  abort: AbortController;
}

function enqueue(payload: unknown, options: EnqueueOptions = {}): Promise<{ id: string; status: string }> {
  let json: string | undefined;
  try {
    json = JSON.stringify(payload === undefined ? null : payload);
  } catch (error) {
    return Promise.reject(new TypeError(`ctx.enqueue: the payload is not JSON-serialisable: ${(error as Error).message}`));
  }
  if (typeof options !== "object" || options === null) return Promise.reject(new TypeError("ctx.enqueue: options must be an object"));
  const { key, delayMs, maxAttempts, priority } = options;
  return hostCall("enqueue", { payload: json ?? "null", options: { key, delayMs, maxAttempts, priority } });
}

export function createContext(info: InvocationInfo): { ctx: object; state: Pending } {
  const state: Pending = { waitUntil: [], abort: new AbortController() };
  const { span, setAttribute } = createTracing(info);
  const ctx = Object.freeze({
    runId: info.runId,
    traceId: info.traceId,
    tenant: info.tenant,
    function: info.function,
    signal: state.abort.signal,
    waitUntil(promise: unknown): void {
      state.waitUntil.push(Promise.resolve(promise));
    },
    passThroughOnException(): void {
      // Workers API compatibility: there is no origin to pass through to.
    },
    enqueue,
    jobs: Object.freeze({
      get: (id: string) => (typeof id === "string" ? hostCall("getJob", id) : Promise.reject(new TypeError("ctx.jobs.get: the id must be a string"))),
    }),
    step: createSteps(info),
    span,
    setAttribute,
    /** Set in a job attempt: the job's id and which attempt this is (1 for the first). */
    job: info.job ? Object.freeze({ ...info.job }) : undefined,
  });
  return { ctx, state };
}

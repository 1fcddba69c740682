// The `ctx` argument of every handler.
import type { InvocationInfo } from "../protocol.ts";
import { AbortController } from "./web/abort.ts";

export interface Pending {
  waitUntil: Promise<unknown>[];
  abort: AbortController;
}

export function createContext(info: InvocationInfo): { ctx: object; state: Pending } {
  const state: Pending = { waitUntil: [], abort: new AbortController() };
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
  });
  return { ctx, state };
}

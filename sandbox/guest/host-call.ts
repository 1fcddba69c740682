// Asynchronous host operations: the guest starts one with bindings.call and parks a promise; the
// host answers through complete(). The answer is a host entry, so it re-enters the caller's run.
import type { DispatchResult, HostBindings, HostCallName, HostCalls } from "../protocol.ts";
import { readWireError } from "../wire-error.ts";
import { currentRun, enterRun } from "./current-run.ts";
import { DOMException } from "./web/dom-exception.ts";

interface Parked { run: string; resolve(value: unknown): void; reject(error: unknown): void }

const parked = new Map<number, Parked>();
/** The ids parked for each invocation, so its end forgets them without a scan. */
const byRun = new Map<string, Set<number>>();
let nextId = 1;

function park(id: number, entry: Parked): void {
  parked.set(id, entry);
  let ids = byRun.get(entry.run);
  if (!ids) byRun.set(entry.run, (ids = new Set()));
  ids.add(id);
}

function unpark(id: number): Parked | undefined {
  const entry = parked.get(id);
  if (!entry) return undefined;
  parked.delete(id);
  const ids = byRun.get(entry.run);
  ids?.delete(id);
  if (ids?.size === 0) byRun.delete(entry.run);
  return entry;
}
let call: HostBindings["call"] | undefined;

export function useHostCalls(bindings: HostBindings): void {
  call = bindings.call;
}

/** Starts a host operation; `started` learns its id (to cancel it later). */
export function hostCall<K extends HostCallName>(op: K, arg: HostCalls[K]["arg"], started?: (id: number) => void): Promise<HostCalls[K]["result"]> {
  const id = nextId++;
  const run = currentRun();
  started?.(id);
  return new Promise((resolve, reject) => {
    park(id, { run, resolve: resolve as (value: unknown) => void, reject });
    call!(run, id, op, arg);
  });
}

/** Tells the host to stop the work of call `id`; its outcome no longer matters. */
export function cancelHostCall(id: number): void {
  const entry = unpark(id);
  if (!entry) return;
  call!(entry.run, nextId++, "cancel", id);
}

/** Forgets the calls of an invocation that ended: the host answers none of them. */
export function forgetRun(run: string): void {
  const ids = byRun.get(run);
  if (!ids) return;
  byRun.delete(run);
  for (const id of ids) parked.delete(id);
}

export function complete(id: number, result: DispatchResult<unknown>): void {
  const entry = unpark(id);
  if (!entry) return;
  enterRun(entry.run);
  if (result.ok) entry.resolve(result.value);
  else entry.reject(toError(result.error));
}

const ERRORS: Record<string, new (message: string) => Error> = { TypeError, RangeError, SyntaxError, Error };

/** A host call's failure as a guest error of the same kind, its code kept (ERR_FETCH_DENIED). */
export function toError(value: unknown): Error {
  const wire = readWireError(value);
  if (wire.name === "AbortError" || wire.name === "TimeoutError") return new DOMException(wire.message, wire.name);
  const error = new (ERRORS[wire.name] ?? Error)(wire.message);
  if (wire.code) (error as Error & { code?: string }).code = wire.code;
  return error;
}

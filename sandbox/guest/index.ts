// The guest runtime: evaluated once in every isolate before user code. It installs the Web APIs
// on the global scope, then exposes GuestRuntime (sandbox/protocol.ts) to the host through a
// global that the host reads and deletes before user code runs.
import type { DispatchResult, FetchDispatch, GuestRuntime, HostBindings, InvocationInfo, TriggerKind, WireError, WireRequest, WireResponse } from "../protocol.ts";
import { BOOT_BINDINGS_GLOBAL, BOOT_RUNTIME_GLOBAL } from "../protocol.ts";
import { installWebApis } from "./web/index.ts";
import { enterRun } from "./current-run.ts";
import { complete, forgetRun, useHostCalls } from "./host-call.ts";
import { toRequest, fromResponse } from "./wire.ts";
import { createContext, type Pending } from "./context.ts";
import { useTraceBinding } from "./spans.ts";
import { forgetLines, startLines } from "./log-count.ts";
import { dispatchBatch, probe, useBatches, type Answered } from "./batch.ts";
import { Response } from "./web/response.ts";
import { AbortController } from "./web/abort.ts";
import { TextEncoder } from "./web/encoding.ts";
import { DOMException } from "./web/dom-exception.ts";

const g = globalThis as Record<string, unknown>;
// The runtime's own JSON: user code may replace the global's methods.
const { parse, stringify } = JSON;
const bindings = g[BOOT_BINDINGS_GLOBAL] as HostBindings;
delete g[BOOT_BINDINGS_GLOBAL];

useHostCalls(bindings);
useTraceBinding(bindings);
useBatches(bindings, dispatchFetch);
installWebApis(bindings);

type Handlers = { fetch?: Function; job?: Function; scheduled?: Function };
let handlers: Handlers = {};
const pending = new Map<string, Pending>();

function wireError(error: unknown): WireError {
  if (error instanceof Error) {
    const { code, retryAfterMs } = error as { code?: unknown; retryAfterMs?: unknown };
    return {
      name: String(error.name),
      message: String(error.message),
      stack: typeof error.stack === "string" ? error.stack : undefined,
      code: typeof code === "string" ? code : undefined,
      retryAfterMs: typeof retryAfterMs === "number" ? retryAfterMs : undefined,
    };
  }
  return { name: "Error", message: `Uncaught ${safeString(error)}` };
}

function safeString(value: unknown): string {
  try { return typeof value === "string" ? value : JSON.stringify(value) ?? String(value); }
  catch { return Object.prototype.toString.call(value); }
}

function setModule(namespace: Record<string, unknown>): DispatchResult<string[]> {
  const exported = namespace.default as Handlers | undefined;
  if (!exported || (typeof exported !== "object" && typeof exported !== "function")) {
    return { ok: false, error: { name: "TypeError", message: "The module has no default export: export default { fetch(request, env, ctx) { ... } }" } };
  }
  const found: Handlers = {};
  for (const name of ["fetch", "job", "scheduled"] as const) {
    const fn = exported[name];
    if (typeof fn === "function") found[name] = fn.bind(exported);
  }
  if (!found.fetch && !found.job && !found.scheduled) {
    return { ok: false, error: { name: "TypeError", message: "The default export has none of the handlers fetch, job, scheduled" } };
  }
  handlers = found;
  return { ok: true, value: Object.keys(found) };
}

/** The host's side of a dispatch (see GuestRuntime.dispatch): JSON in and out for fetch. */
async function dispatchWire(kind: TriggerKind, infoJson: string, arg: unknown, body: ArrayBuffer | null): Promise<DispatchResult<unknown> | FetchDispatch> {
  if (kind !== "fetch") return dispatch(kind, parse(infoJson) as InvocationInfo, arg);
  return (await dispatchFetch(infoJson, arg as string, body)).answer;
}

/** A fetch dispatch: the request's head as JSON beside its body, the same for the answer. */
async function dispatchFetch(infoJson: string, headJson: string, body: ArrayBuffer | null): Promise<Answered> {
  const request = parse(headJson) as WireRequest;
  request.body = body;
  const result = await dispatch("fetch", parse(infoJson) as InvocationInfo, request);
  if (!result.ok) return { answer: [stringify(result), null], over: true };
  const { body: responseBody, ...head } = result.value as WireResponse;
  return { answer: [stringify({ ...result, value: head }), responseBody], over: result.settled === true };
}

async function dispatch(kind: TriggerKind, info: InvocationInfo, arg: unknown): Promise<DispatchResult<unknown>> {
  const handler = handlers[kind];
  if (!handler) {
    return { ok: false, error: { name: "TypeError", code: "ERR_NO_HANDLER", message: `The function has no ${kind} handler` } };
  }
  enterRun(info.runId);
  startLines(info.runId);
  try {
    const { ctx, state } = createContext(info);
    pending.set(info.runId, state);
    const input = kind === "fetch" ? toRequest(arg as WireRequest, state.abort.signal) : arg;
    const env = Object.freeze({ ...info.env });
    const value = await handler(input, env, ctx);
    enterRun(info.runId);
    if (kind !== "fetch") return finished(info.runId, value === undefined ? null : value);
    if (!(value instanceof Response)) {
      throw new TypeError(`fetch handler returned ${safeString(value)?.slice(0, 80) ?? typeof value}, not a Response`);
    }
    const wire: WireResponse = await fromResponse(value);
    return finished(info.runId, wire);
  } catch (error) {
    // A failed invocation is over for the host: its waitUntil work runs on unobserved.
    pending.delete(info.runId);
    return { ok: false, error: wireError(error), lines: forgetLines(info.runId) };
  }
}

/** A successful result; without waitUntil work the invocation is forgotten at once. */
function finished(runId: string, value: unknown): DispatchResult<unknown> {
  const state = pending.get(runId);
  // With waitUntil work the host learns the count from settle().
  if (state && state.waitUntil.length > 0) return { ok: true, value };
  pending.delete(runId);
  return { ok: true, value, settled: true, lines: forgetLines(runId) };
}

/** Resolves once every ctx.waitUntil promise of the invocation has settled; forgets it. */
async function settle(runId: string): Promise<number> {
  const state = pending.get(runId);
  if (!state) return forgetLines(runId);
  try {
    await Promise.allSettled(state.waitUntil);
  } finally {
    pending.delete(runId);
  }
  return forgetLines(runId);
}

/** The host gave up on the invocation (wall-clock limit, a step.sleep, a cancel): abort its signal and forget it. */
function abort(runId: string): void {
  const state = pending.get(runId);
  pending.delete(runId);
  forgetLines(runId);
  // Its host calls will never be answered; dropping them lets their promises be collected.
  forgetRun(runId);
  state?.abort.abort(new DOMException("The invocation exceeded its wall-clock limit", "TimeoutError"));
}

/**
 * A first request costs a few ms in a fresh isolate compiling the runtime's request path; spare
 * isolates pay it here, before any user code. URL (core-js, ~400 KB of heap, see web/url.ts)
 * is not loaded by it: a request from the host keeps its serialized URL (requestFromHost).
 */
async function warmUp(): Promise<void> {
  const body = new TextEncoder().encode("{}").buffer as ArrayBuffer;
  const request = toRequest({ method: "POST", url: "http://warm.up/path?q=1", headers: ["content-type", "application/json"], body }, new AbortController().signal);
  await request.json();
  await fromResponse(Response.json({ ok: true }));
}

const runtime: GuestRuntime = { setModule, dispatch: dispatchWire, dispatchBatch, probe, settle, abort, complete, warmUp };
g[BOOT_RUNTIME_GLOBAL] = runtime;

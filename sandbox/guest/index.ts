// The guest runtime: evaluated once in every isolate before user code. It installs the Web APIs
// on the global scope, then exposes GuestRuntime (sandbox/protocol.ts) to the host through a
// global that the host reads and deletes before user code runs.
import type { Answer, DispatchEntry, DispatchResult, GuestRuntime, HostBindings, InvocationInfo, TriggerKind, WireRequest, WireResponse } from "../protocol.ts";
import { toWireError } from "../wire-error.ts";
import { BOOT_BINDINGS_GLOBAL, BOOT_RUNTIME_GLOBAL } from "../protocol.ts";
import { installWebApis } from "./web/index.ts";
import { enterRun } from "./current-run.ts";
import { complete, forgetRun, useHostCalls } from "./host-call.ts";
import { toRequest, fromResponse } from "./wire.ts";
import { createContext, type Pending } from "./context.ts";
import { useTraceBinding } from "./spans.ts";
import { endLines, startLines } from "./run-lines.ts";
import { dispatch, dropWaiting, post, probe, useChain, type Answered } from "./dispatch-chain.ts";
import { clearRunTimers } from "./web/timers.ts";
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
useChain(runEntry);
installWebApis(bindings);

type Handlers = { fetch?: Function; job?: Function; scheduled?: Function; tool?: Function };
let handlers: Handlers = {};
const pending = new Map<string, Pending>();

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
  for (const name of ["fetch", "job", "scheduled", "tool"] as const) {
    const fn = exported[name];
    if (typeof fn === "function") found[name] = fn.bind(exported);
  }
  if (!found.fetch && !found.job && !found.scheduled && !found.tool) {
    return { ok: false, error: { name: "TypeError", message: "The default export has none of the handlers fetch, job, scheduled, tool" } };
  }
  handlers = found;
  return { ok: true, value: Object.keys(found) };
}

/** One dispatch of a chain: its argument read from JSON, its answer written as JSON. */
async function runEntry(entry: DispatchEntry): Promise<Answered> {
  const kind = entry[1];
  const info = parse(entry[2]) as InvocationInfo;
  const arg = parse(entry[3]) as unknown;
  if (kind === "fetch") (arg as WireRequest).body = entry[4];
  const result = await invoke(kind, info, arg);
  if (!result.ok) return { answer: [stringify(result), null], over: true };
  const over = result.over === true;
  if (kind === "fetch") {
    const { body, ...head } = result.value as WireResponse;
    return { answer: [stringify({ ...result, value: head }), body], over };
  }
  return { answer: [resultJson(kind, result), null], over };
}

/** A job or schedule handler's result as JSON: what the host stores, so a value JSON cannot hold fails here. */
function resultJson(kind: TriggerKind, result: DispatchResult<unknown> & { ok: true }): string {
  try {
    return stringify(result);
  } catch (error) {
    return stringify({ ok: false, error: { name: "TypeError", message: `The ${kind} handler's result is not JSON-serialisable: ${safeString((error as Error)?.message)}` }, lines: result.lines });
  }
}

async function invoke(kind: TriggerKind, info: InvocationInfo, arg: unknown): Promise<DispatchResult<unknown>> {
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
    return { ok: false, error: toWireError(error, true), lines: end(info.runId) };
  }
}

/**
 * The invocation is over: its count of lines is returned, and its waitUntil work, timers and
 * host calls end with it (nothing of it runs after it ended).
 */
function end(runId: string): number {
  pending.delete(runId);
  clearRunTimers(runId);
  forgetRun(runId);
  return endLines(runId);
}

/** A successful result; without waitUntil work the invocation ends at once. */
function finished(runId: string, value: unknown): DispatchResult<unknown> {
  const state = pending.get(runId);
  // With waitUntil work the host learns the count from awaitWaitUntil().
  if (state && state.waitUntil.length > 0) return { ok: true, value };
  return { ok: true, value, over: true, lines: end(runId) };
}

/** Posts once every ctx.waitUntil promise of the invocation has settled (those it adds meanwhile too). */
function awaitWaitUntil(id: number, runId: string): void {
  const state = pending.get(runId);
  const done = () => post(id, waitedAnswer(end(runId)));
  if (!state) return done();
  const wait = async () => {
    for (let seen = -1; seen !== state.waitUntil.length;) {
      seen = state.waitUntil.length;
      await Promise.allSettled(state.waitUntil);
    }
  };
  void wait().then(done);
}

function waitedAnswer(lines: number): Answer {
  return [stringify({ ok: true, value: null, lines }), null];
}

/**
 * The host gave up on the invocation (wall-clock limit, a step.sleep, a cancel): abort its signal
 * and end it; if its dispatch `id` has not started, it never will.
 */
function abort(runId: string, id: number): void {
  dropWaiting((entry) => entry[0] === id);
  const state = pending.get(runId);
  end(runId);
  state?.abort.abort(new DOMException("The invocation exceeded its wall-clock limit", "TimeoutError"));
}

/**
 * A first request costs a few ms in a fresh isolate compiling the runtime's request path; spare
 * isolates pay it here, before any user code, within the call (it awaits nothing of the host).
 * URL (core-js, ~400 KB of heap, see web/url.ts) is not loaded by it: a request from the host
 * keeps its serialized URL (requestFromHost).
 */
function warmUp(): void {
  const body = new TextEncoder().encode("{}").buffer as ArrayBuffer;
  const request = toRequest({ method: "POST", url: "http://warm.up/path?q=1", headers: ["content-type", "application/json"], body }, new AbortController().signal);
  void request.json().then(() => fromResponse(Response.json({ ok: true })));
}

const runtime: GuestRuntime = { setModule, dispatch, probe, awaitWaitUntil, abort, complete, warmUp };
g[BOOT_RUNTIME_GLOBAL] = runtime;

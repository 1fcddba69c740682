// The host side of HostBindings: every capability the guest has, as an ivm.Callback whose
// arguments and results are copied. No Reference to a host object ever enters an isolate.
import ivm from "isolated-vm";
import { createHash, createHmac, randomBytes } from "node:crypto";
import type { AttributeValue, DispatchResult, HostBindings, LogLevel, ServiceCallName, TraceOp, WireError, WireRequest, WireResponse } from "../protocol.ts";
import { MAX_DELIVERIES, MAX_FIELDS_CHARS, TRACE_LIMITS } from "../protocol.ts";

/** What the host does for one invocation; supplied by the embedder per call. */
export interface InvocationHooks {
  /** `fields`: the line's structured fields, JSON text of an object (at most MAX_FIELDS_CHARS). */
  log(level: LogLevel, message: string, fields?: string): void;
  /** A guest span or attribute (ctx.span, ctx.setAttribute), its shape checked. */
  trace?(op: TraceOp): void;
  fetch(request: WireRequest, signal: AbortSignal): Promise<WireResponse>;
  /**
   * The embedder's services (jobs, steps). `arg` is the guest's data, unchecked: the service
   * validates it. A rejection reaches the guest as the error.
   */
  service?(op: ServiceCallName, arg: unknown): Promise<unknown>;
}

const SERVICE_CALLS = new Set<unknown>(["enqueue", "getJob", "stepBegin", "stepEnd", "stepSleep"]);

/** How the bindings reach the rest of the sandbox. */
export interface BindingTarget {
  /** The hooks of an invocation in flight in this isolate; ids of other isolates are unknown. */
  hooks(run: string): InvocationHooks | undefined;
  /** A guest span operation of invocation `run` (undefined: malformed, counted all the same). */
  trace(run: string, op: TraceOp | undefined): void;
  /** A log line of invocation `run` (it may arrive after the invocation's result). */
  log(run: string, level: LogLevel, message: string, fields?: string): void;
  /** Answers of batch entries, each [id, answer]; their shape is the target's to check. */
  deliver(answers: unknown[]): void;
  /** Delivers the outcome of a host call back into the guest. */
  complete(id: number, result: DispatchResult<unknown>): void;
  /** Starts a timer owned by the isolate (cleared when it is disposed). */
  timer(ms: number, done: () => void): void;
  /** Host work in progress, by call id, that the guest may cancel (aborted at dispose too). */
  cancellers: Map<number, AbortController>;
}

const HASHES: Record<string, string> = { "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512" };
const MAX_RANDOM = 65536;
const MAX_LOG_CHARS = 16 * 1024;
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Header fields (name + value pairs) a request or response may carry across the boundary. */
const MAX_HEADERS = 10_000;
const LOG_LEVELS = new Set<unknown>(["debug", "info", "log", "warn", "error"]);
const REDIRECTS = new Set<unknown>([undefined, "follow", "manual", "error"]);

// Everything the guest hands over is a copy, so no getter or Proxy trap runs on the host; but it
// is the guest's data, and user code can bend what the runtime builds (Array.prototype.push or
// globalThis.String replaced, a Request getter redefined). A sparse array of length 2^32 - 2 costs
// the guest nothing to make and copy; the host's loops over such "header pairs" ran out of heap and
// crashed the node (measured, before these checks). So the host checks the shape of what it gets
// before touching it, and does not coerce guest values with String() or Number().

function nodeHash(name: unknown): string {
  const hash = typeof name === "string" ? HASHES[name.toUpperCase()] : undefined;
  if (!hash) throw new TypeError(`Unsupported hash algorithm: ${typeof name === "string" ? name.slice(0, 40) : typeof name}`);
  return hash;
}

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HEADER_VALUE = /^[^\0\r\n]*$/;

/** Header pairs as the wire defines them: valid names and values, even and bounded in length. */
function isHeaderPairs(value: unknown): value is string[] {
  if (!Array.isArray(value) || value.length % 2 !== 0 || value.length > 2 * MAX_HEADERS) return false;
  for (let i = 0; i < value.length; i += 2) {
    const name: unknown = value[i];
    const field: unknown = value[i + 1];
    if (typeof name !== "string" || typeof field !== "string" || !HEADER_NAME.test(name) || !HEADER_VALUE.test(field)) return false;
  }
  return true;
}

/** The guest's outbound request, checked field by field (see above). */
export function checkWireRequest(value: unknown): WireRequest {
  const wire = value as Partial<WireRequest> | null;
  if (typeof wire !== "object" || wire === null) throw new TypeError("fetch: malformed request");
  const { method, url, headers, body, redirect } = wire;
  if (typeof method !== "string" || typeof url !== "string") throw new TypeError("fetch: malformed request (method, url)");
  if (!isHeaderPairs(headers)) throw new TypeError(`fetch: malformed request headers (at most ${MAX_HEADERS} string pairs)`);
  if (body !== null && !(body instanceof ArrayBuffer)) throw new TypeError("fetch: malformed request body");
  if (!REDIRECTS.has(redirect)) throw new TypeError("fetch: malformed request (redirect)");
  return { method, url, headers, body, ...(redirect === undefined ? {} : { redirect }) };
}

/** An error the guest runtime reports, reduced to bounded strings. */
export function checkWireError(value: unknown): WireError {
  const error = (typeof value === "object" && value !== null ? value : {}) as Partial<Record<keyof WireError, unknown>>;
  const text = (field: unknown, max: number) => (typeof field === "string" ? field.slice(0, max) : undefined);
  return {
    name: text(error.name, 100) ?? "Error",
    message: text(error.message, 10_000) ?? "The function failed with an error that could not be read",
    stack: text(error.stack, 100_000),
    code: text(error.code, 100),
    retryAfterMs: typeof error.retryAfterMs === "number" && Number.isFinite(error.retryAfterMs) ? error.retryAfterMs : undefined,
  };
}

/** A fetch handler's response, checked before the host builds an HTTP response from it. */
export function checkWireResponse(value: unknown): WireResponse {
  const wire = value as Partial<WireResponse> | null;
  const ok = typeof wire === "object" && wire !== null
    && Number.isInteger(wire.status) && wire.status! >= 200 && wire.status! <= 599
    && typeof wire.statusText === "string" && !/[\r\n]/.test(wire.statusText)
    && isHeaderPairs(wire.headers)
    && (wire.body === null || wire.body instanceof ArrayBuffer);
  if (!ok) throw new TypeError(`The fetch handler's Response could not be read (status 200-599, at most ${MAX_HEADERS} headers)`);
  return { status: wire.status!, statusText: wire.statusText!, headers: wire.headers!, body: wire.body! };
}

function isAttributeValue(value: unknown): value is AttributeValue {
  return typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value)) || (typeof value === "string" && value.length <= TRACE_LIMITS.valueChars);
}

function isSpanId(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function isAttributeKey(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= TRACE_LIMITS.nameChars && !value.startsWith(TRACE_LIMITS.reservedPrefix);
}

/** A guest span operation, checked field by field; undefined when malformed (dropped). */
export function checkTraceOp(value: unknown): TraceOp | undefined {
  const op = value as Partial<Record<string, unknown>> | null;
  if (typeof op !== "object" || op === null || !isSpanId(op.id)) return undefined;
  if (op.op === "end") return { op: "end", id: op.id, ...(typeof op.error === "string" ? { error: op.error.slice(0, 1000) } : {}) };
  if (op.op === "attribute") return isAttributeKey(op.key) && isAttributeValue(op.value) ? { op: "attribute", id: op.id, key: op.key, value: op.value } : undefined;
  if (op.op !== "start" || !isSpanId(op.parent) || typeof op.name !== "string" || op.name.length === 0 || op.name.length > TRACE_LIMITS.nameChars) return undefined;
  const given = op.attributes;
  if (typeof given !== "object" || given === null || Array.isArray(given)) return undefined;
  const attributes: Record<string, AttributeValue> = {};
  const entries = Object.entries(given);
  if (entries.length > TRACE_LIMITS.attributes) return undefined;
  for (const [key, field] of entries) {
    if (!isAttributeKey(key) || !isAttributeValue(field)) return undefined;
    attributes[key] = field;
  }
  return { op: "start", id: op.id, parent: op.parent, name: op.name, attributes };
}

function bytes(data: unknown): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new TypeError("Expected an ArrayBuffer");
}

function toArrayBuffer(buffer: Buffer): ArrayBuffer {
  return buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer;
}

export function wireError(error: unknown): WireError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { name: error.name, message: error.message, code: typeof code === "string" ? code : undefined };
  }
  return { name: "Error", message: String(error) };
}

function startCall(target: BindingTarget, run: string, id: number, op: unknown, arg: unknown): void {
  const answer = (work: Promise<unknown>) =>
    work.then((value) => target.complete(id, { ok: true, value }), (error) => target.complete(id, { ok: false, error: wireError(error) }));
  if (op === "sleep") {
    const ms = typeof arg === "number" && arg > 0 ? Math.min(arg, MAX_TIMER_MS) : 0;
    target.timer(ms, () => target.complete(id, { ok: true, value: null }));
    return;
  }
  if (op === "fetch") {
    const hooks = target.hooks(run);
    if (!hooks) return void answer(Promise.reject(new TypeError("ERR_FETCH_DENIED: fetch outside of a running invocation")));
    const controller = new AbortController();
    target.cancellers.set(id, controller);
    return void answer(Promise.resolve().then(() => hooks.fetch(checkWireRequest(arg), controller.signal)).finally(() => target.cancellers.delete(id)));
  }
  if (SERVICE_CALLS.has(op)) {
    const service = target.hooks(run)?.service;
    if (!service) return void answer(Promise.reject(new TypeError(`${op as string} is not available in this invocation`)));
    return void answer(Promise.resolve().then(() => service(op as ServiceCallName, arg)));
  }
  if (op === "cancel") {
    if (typeof arg === "number") target.cancellers.get(arg)?.abort();
    return;
  }
  answer(Promise.reject(new TypeError(`Unknown host call ${typeof op === "string" ? op.slice(0, 40) : typeof op}`)));
}

/**
 * isolated-vm copies an error a callback throws into the guest with its `stack`, and a host stack
 * names host files ("at file:///…/sandbox/host/bindings.ts:…"). The guest gets a fresh error of
 * the same kind whose stack is only its own first line.
 */
function guestSafe<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  return (...args) => {
    try {
      return fn(...args);
    } catch (error) {
      const { name, message } = wireError(error);
      const safe = name === "RangeError" ? new RangeError(message) : name === "TypeError" ? new TypeError(message) : new Error(message);
      safe.stack = `${safe.name}: ${message}`;
      throw safe;
    }
  };
}

export function createBindings(target: BindingTarget): Record<keyof HostBindings, ivm.Callback> {
  return {
    log: new ivm.Callback(guestSafe((run: unknown, level: unknown, message: unknown, fields: unknown) => {
      if (typeof run !== "string" || typeof message !== "string") return;
      const json = typeof fields === "string" && fields.length <= MAX_FIELDS_CHARS ? fields : undefined;
      target.log(run, LOG_LEVELS.has(level) ? (level as LogLevel) : "log", message.slice(0, MAX_LOG_CHARS), json);
    }), { ignored: true }),
    deliver: new ivm.Callback(guestSafe((answers: unknown) => {
      // Bounded before any loop: a sparse array of length 2^32 - 2 is cheap for the guest to send.
      if (Array.isArray(answers) && answers.length <= MAX_DELIVERIES) target.deliver(answers);
    }), { ignored: true }),
    trace: new ivm.Callback(guestSafe((run: unknown, op: unknown) => {
      if (typeof run === "string") target.trace(run, checkTraceOp(op));
    }), { ignored: true }),
    call: new ivm.Callback(guestSafe((run: unknown, id: unknown, op: unknown, arg: unknown) => {
      if (typeof run !== "string" || typeof id !== "number") return;
      startCall(target, run, id, op, arg);
    }), { ignored: true }),
    randomBytes: new ivm.Callback(guestSafe((n: unknown) => {
      if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > MAX_RANDOM) throw new RangeError(`randomBytes: the size must be an integer within 0..${MAX_RANDOM}`);
      return toArrayBuffer(randomBytes(n));
    })),
    digest: new ivm.Callback(guestSafe((algorithm: string, data: ArrayBuffer) =>
      toArrayBuffer(createHash(nodeHash(algorithm)).update(bytes(data)).digest()))),
    hmac: new ivm.Callback(guestSafe((hash: string, key: ArrayBuffer, data: ArrayBuffer) =>
      toArrayBuffer(createHmac(nodeHash(hash), bytes(key)).update(bytes(data)).digest()))),
  };
}

// The host side of HostBindings: every capability the guest has, as an ivm.Callback whose
// arguments and results are copied. No Reference to a host object ever enters an isolate.
import ivm from "isolated-vm";
import { createHash, createHmac, randomBytes } from "node:crypto";
import type { DispatchResult, HostBindings, HostCallName, LogLevel, WireError, WireRequest, WireResponse } from "../protocol.ts";

/** What the host does for one invocation; supplied by the embedder per call. */
export interface InvocationHooks {
  log(level: LogLevel, message: string): void;
  fetch(request: WireRequest): Promise<WireResponse>;
}

/** How the bindings reach the rest of the sandbox. */
export interface BindingTarget {
  /** The hooks of an invocation in flight in this isolate; ids of other isolates are unknown. */
  hooks(run: string): InvocationHooks | undefined;
  /** Delivers the outcome of a host call back into the guest. */
  complete(id: number, result: DispatchResult<unknown>): void;
  /** Starts a timer owned by the isolate (cleared when it is disposed). */
  timer(ms: number, done: () => void): void;
}

const HASHES: Record<string, string> = { "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512" };
const MAX_RANDOM = 65536;
const MAX_LOG_CHARS = 16 * 1024;
const MAX_TIMER_MS = 2 ** 31 - 1;

function nodeHash(name: unknown): string {
  const hash = typeof name === "string" ? HASHES[name.toUpperCase()] : undefined;
  if (!hash) throw new TypeError(`Unsupported hash algorithm: ${String(name)}`);
  return hash;
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

function startCall(target: BindingTarget, run: string, id: number, op: HostCallName, arg: unknown): void {
  const answer = (work: Promise<unknown>) =>
    work.then((value) => target.complete(id, { ok: true, value }), (error) => target.complete(id, { ok: false, error: wireError(error) }));
  if (op === "sleep") {
    const ms = Math.min(Math.max(0, Number(arg) || 0), MAX_TIMER_MS);
    target.timer(ms, () => target.complete(id, { ok: true, value: null }));
    return;
  }
  if (op === "fetch") {
    const hooks = target.hooks(run);
    if (!hooks) return void answer(Promise.reject(new TypeError("ERR_FETCH_DENIED: fetch outside of a running invocation")));
    return void answer(Promise.resolve().then(() => hooks.fetch(arg as WireRequest)));
  }
  answer(Promise.reject(new TypeError(`Unknown host call ${String(op)}`)));
}

export function createBindings(target: BindingTarget): Record<keyof HostBindings, ivm.Callback> {
  return {
    log: new ivm.Callback((run: string, level: LogLevel, message: string) => {
      target.hooks(String(run))?.log(level, String(message).slice(0, MAX_LOG_CHARS));
    }, { ignored: true }),
    call: new ivm.Callback((run: string, id: number, op: HostCallName, arg: unknown) => {
      startCall(target, String(run), Number(id), op, arg);
    }, { ignored: true }),
    randomBytes: new ivm.Callback((n: number) => {
      const size = Number(n);
      if (!Number.isInteger(size) || size < 0 || size > MAX_RANDOM) throw new RangeError(`randomBytes: ${size} is not within 0..${MAX_RANDOM}`);
      return toArrayBuffer(randomBytes(size));
    }),
    digest: new ivm.Callback((algorithm: string, data: ArrayBuffer) =>
      toArrayBuffer(createHash(nodeHash(algorithm)).update(bytes(data)).digest())),
    hmac: new ivm.Callback((hash: string, key: ArrayBuffer, data: ArrayBuffer) =>
      toArrayBuffer(createHmac(nodeHash(hash), bytes(key)).update(bytes(data)).digest())),
  };
}

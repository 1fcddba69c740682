// The host side of HostBindings: every capability the guest has, as an ivm.Callback whose
// arguments and results are copied. No Reference to a host object ever enters an isolate.
import ivm from "isolated-vm";
import { createHash, createHmac, randomBytes } from "node:crypto";
import type { HostBindings, LogLevel, TraceOp } from "../protocol.ts";
import { MAX_FIELDS_CHARS, RUN_LINE_LIMITS } from "../protocol.ts";
import { toWireError } from "../wire-error.ts";
import { checkTraceOp } from "./wire-checks.ts";

/** How the bindings reach the rest of the sandbox. */
export interface BindingTarget {
  /** A log line of invocation `run` (it may arrive after the invocation's result). */
  log(run: string, level: LogLevel, message: string, fields?: string): void;
  /** A guest span operation of invocation `run` (undefined: malformed, counted all the same). */
  trace(run: string, op: TraceOp | undefined): void;
  /** A call the guest starts (HostBindings.call), its arguments unchecked. */
  call(run: string, id: number, op: unknown, arg: unknown): void;
}

const HASHES: Record<string, string> = { "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512" };
const MAX_RANDOM = 65536;
const MAX_LOG_CHARS = RUN_LINE_LIMITS.lineChars;
const LOG_LEVELS = new Set<unknown>(["debug", "info", "log", "warn", "error"]);

function nodeHash(name: unknown): string {
  const hash = typeof name === "string" ? HASHES[name.toUpperCase()] : undefined;
  if (!hash) throw new TypeError(`Unsupported hash algorithm: ${typeof name === "string" ? name.slice(0, 40) : typeof name}`);
  return hash;
}

function bytes(data: unknown): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new TypeError("Expected an ArrayBuffer");
}

function toArrayBuffer(buffer: Buffer): ArrayBuffer {
  return buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer;
}

/** A log line cut to MAX_LOG_CHARS, never inside a surrogate pair (half of one is not text Postgres can hold). */
function logText(message: string): string {
  if (message.length <= MAX_LOG_CHARS) return message;
  const high = message.charCodeAt(MAX_LOG_CHARS - 1);
  return message.slice(0, high >= 0xd800 && high <= 0xdbff ? MAX_LOG_CHARS - 1 : MAX_LOG_CHARS);
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
      const { name, message } = toWireError(error, false);
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
      target.log(run, LOG_LEVELS.has(level) ? (level as LogLevel) : "log", logText(message), json);
    }), { ignored: true }),
    trace: new ivm.Callback(guestSafe((run: unknown, op: unknown) => {
      if (typeof run === "string") target.trace(run, checkTraceOp(op));
    }), { ignored: true }),
    call: new ivm.Callback(guestSafe((run: unknown, id: unknown, op: unknown, arg: unknown) => {
      if (typeof run === "string" && typeof id === "number") target.call(run, id, op, arg);
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

// Errors that cross the isolate boundary, both ways, as plain data (WireError): written by
// toWireError on the side that caught the error, read back by readWireError on the other, with one
// rule for how much of each field crosses. The guest runtime and the host both import this file.
import type { WireError } from "./protocol.ts";

/** Characters of each field that cross; the rest is cut. */
export const WIRE_ERROR_LIMITS = { name: 100, message: 10_000, stack: 100_000, code: 100 } as const;

/** The error names of the Error kinds rebuilt on the receiving side; others arrive as Error. */
export const ERROR_KINDS = ["Error", "TypeError", "RangeError", "SyntaxError"] as const;

function text(field: unknown, max: number): string | undefined {
  return typeof field === "string" ? field.slice(0, max) : undefined;
}

/**
 * What crosses of a caught error. `withStack`: the guest's own stack goes to the host (its runs
 * show it); a host error's never goes to the guest (it names host files). A job's error that
 * steers its retries says so in `retry`: NonRetriableError and RetryAfterError (src/jobs/retry-errors.ts)
 * are known by their names, as their classes exist only in the function's own bundle.
 */
export function toWireError(error: unknown, withStack: boolean): WireError {
  if (!(error instanceof Error)) return { name: "Error", message: `Uncaught ${describe(error)}`.slice(0, WIRE_ERROR_LIMITS.message) };
  const { code, retryAfterMs } = error as { code?: unknown; retryAfterMs?: unknown };
  const name = String(error.name).slice(0, WIRE_ERROR_LIMITS.name);
  const retry = name === "NonRetriableError" ? "never"
    : name === "RetryAfterError" && typeof retryAfterMs === "number" && Number.isFinite(retryAfterMs) ? { afterMs: Math.max(0, retryAfterMs) } : undefined;
  return {
    name,
    message: String(error.message).slice(0, WIRE_ERROR_LIMITS.message),
    ...(withStack && typeof error.stack === "string" ? { stack: error.stack.slice(0, WIRE_ERROR_LIMITS.stack) } : {}),
    ...(typeof code === "string" ? { code: code.slice(0, WIRE_ERROR_LIMITS.code) } : {}),
    ...(retry ? { retry } : {}),
  };
}

/** A WireError as the other side sent it, checked field by field: whatever arrived, bounded strings. */
export function readWireError(value: unknown): WireError {
  const error = (typeof value === "object" && value !== null ? value : {}) as Partial<Record<keyof WireError, unknown>>;
  const retry = error.retry === "never" ? "never"
    : typeof error.retry === "object" && error.retry !== null && Number.isFinite((error.retry as { afterMs?: unknown }).afterMs)
      ? { afterMs: Math.max(0, (error.retry as { afterMs: number }).afterMs) } : undefined;
  const stack = text(error.stack, WIRE_ERROR_LIMITS.stack);
  const code = text(error.code, WIRE_ERROR_LIMITS.code);
  return {
    name: text(error.name, WIRE_ERROR_LIMITS.name) ?? "Error",
    message: text(error.message, WIRE_ERROR_LIMITS.message) ?? "The function failed with an error that could not be read",
    ...(stack === undefined ? {} : { stack }),
    ...(code === undefined ? {} : { code }),
    ...(retry ? { retry } : {}),
  };
}

function describe(value: unknown): string {
  try {
    return typeof value === "string" ? value : JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

// The limits an invocation runs under, and how a failure is told.
import type { WireError } from "../protocol.ts";

export interface Limits {
  /** V8 heap (plus external buffers) of the isolate, in MB; isolated-vm's minimum is 8. */
  memoryMb: number;
  /** CPU time one invocation may use. */
  cpuMs: number;
  /** Wall-clock time one invocation may take, awaiting included. */
  wallMs: number;
}

/** What one invocation may use when it differs from its image's limits (a job attempt). */
export type InvocationLimits = Pick<Limits, "cpuMs" | "wallMs">;

export type LimitCode = "ERR_CPU_LIMIT" | "ERR_MEMORY_LIMIT" | "ERR_WALL_TIMEOUT";

/** Codes the sandbox answers with; the embedder maps them to its own errors and statuses. */
export type SandboxErrorCode = LimitCode | "ERR_COMPILE" | "ERR_FUNCTION_THREW" | "ERR_NO_HANDLER" | "ERR_ISOLATE_DISPOSED" | "ERR_ABORTED";

/** Why an invocation failed, as data. */
export interface SandboxFailure {
  code: SandboxErrorCode;
  message: string;
  /** The guest's own stack, when the guest threw. */
  guestStack?: string;
  /** What the guest threw: its error's name, and how it steers a job's retries. */
  guest?: { name: string; retry?: WireError["retry"] };
}

/** A function that cannot be loaded (it does not compile, its top level throws or passes a limit). */
export class SandboxError extends Error {
  readonly code: SandboxErrorCode;
  /** The guest's own stack, when the guest threw. */
  readonly guestStack?: string;
  constructor(code: SandboxErrorCode, message: string, guestStack?: string) {
    super(message);
    this.name = "SandboxError";
    this.code = code;
    this.guestStack = guestStack;
  }

  toFailure(): SandboxFailure {
    return { code: this.code, message: this.message, guestStack: this.guestStack };
  }
}

export const LIMIT_MESSAGES: Record<LimitCode, (limits: Limits) => string> = {
  ERR_CPU_LIMIT: (l) => `The function used more than its ${l.cpuMs} ms of CPU time`,
  ERR_MEMORY_LIMIT: (l) => `The function used more than its ${l.memoryMb} MB of memory`,
  ERR_WALL_TIMEOUT: (l) => `The function did not finish within ${l.wallMs} ms`,
};

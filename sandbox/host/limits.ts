// The limits an invocation runs under, and the errors that name a breach.

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

export class SandboxError extends Error {
  readonly code: SandboxErrorCode;
  /** The guest's own stack, when the guest threw. */
  readonly guestStack?: string;
  /** What the guest threw: its error's name, and a RetryAfterError's wait. */
  readonly guest?: { name: string; retryAfterMs?: number };
  /** CPU charged to the failed invocation (set by the pool). */
  cpuMs = 0;
  /** Lines the guest logged before it threw (see Sandbox.release). */
  lines?: number;
  /** Resolves once those lines reached the host (set by the pool). */
  logged: Promise<void> = Promise.resolve();
  /** The isolate's heap after the failure (set by the pool; the limit for a memory kill). */
  memoryBytes: () => Promise<number | undefined> = async () => undefined;
  constructor(code: SandboxErrorCode, message: string, guestStack?: string, guest?: { name: string; retryAfterMs?: number }) {
    super(message);
    this.name = "SandboxError";
    this.code = code;
    this.guestStack = guestStack;
    this.guest = guest;
  }
}

export const LIMIT_MESSAGES: Record<LimitCode, (limits: Limits) => string> = {
  ERR_CPU_LIMIT: (l) => `The function used more than its ${l.cpuMs} ms of CPU time`,
  ERR_MEMORY_LIMIT: (l) => `The function used more than its ${l.memoryMb} MB of memory`,
  ERR_WALL_TIMEOUT: (l) => `The function did not finish within ${l.wallMs} ms`,
};

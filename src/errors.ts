// IsoboxError and the one table of error code → HTTP status.

/**
 * Every error a user can see: in an HTTP answer, a run's or a job's error, or inside the guest.
 * The code is the contract (README, "Errors"); the status follows from it.
 */
export type ErrorCode =
  | "ERR_BAD_REQUEST" // malformed JSON, a missing or invalid field
  | "ERR_UNAUTHORIZED" // no credentials, or unknown ones
  | "ERR_FORBIDDEN" // valid credentials that do not reach this resource
  | "ERR_NOT_FOUND"
  | "ERR_CONFLICT" // the resource exists already, or is in a state that forbids the change
  | "ERR_INVALID_MANIFEST"
  | "ERR_COMPILE" // the function's code does not compile
  | "ERR_BODY_TOO_LARGE"
  | "ERR_RATE_LIMITED"
  | "ERR_QUOTA_EXCEEDED" // a count or size quota of the tenant (functions, memory)
  | "ERR_NO_HANDLER" // the function lacks the handler this trigger needs
  | "ERR_BAD_SIGNATURE" // a webhook delivery whose signature does not verify
  | "ERR_STALE_TIMESTAMP" // a webhook delivery signed too long ago (or in the future)
  | "ERR_FUNCTION_THREW"
  | "ERR_CPU_LIMIT"
  | "ERR_MEMORY_LIMIT"
  | "ERR_WALL_TIMEOUT"
  | "ERR_RESULT_TOO_LARGE" // a job's result past the size a result may hold
  | "ERR_CANCELLED" // a job's attempt stopped by a cancel (or a lost lease)
  | "ERR_SHUTDOWN" // a job's attempt stopped because its worker shut down; the job goes back to the queue
  | "ERR_LEASE_EXPIRED" // the worker running a job's attempt stopped answering
  | "ERR_FETCH_DENIED" // inside the guest, as the rejection of fetch: the egress policy refused
  | "ERR_INVALID_ARGUMENTS" // an MCP tools/call whose arguments do not match the tool's input schema
  | "ERR_TOOL_STATUS" // an MCP tool served by a fetch handler answered with a status outside 2xx
  | "ERR_INVALID_TOOL_RESULT" // an MCP tool's result does not match its output schema
  | "ERR_UNAVAILABLE" // not ready: database down, shutting down
  | "ERR_INTERNAL";

export const STATUS: Record<ErrorCode, number> = {
  ERR_BAD_REQUEST: 400,
  ERR_UNAUTHORIZED: 401,
  ERR_FORBIDDEN: 403,
  ERR_NOT_FOUND: 404,
  ERR_CONFLICT: 409,
  ERR_INVALID_MANIFEST: 400,
  ERR_COMPILE: 400,
  ERR_BODY_TOO_LARGE: 413,
  ERR_RATE_LIMITED: 429,
  ERR_QUOTA_EXCEEDED: 403,
  ERR_NO_HANDLER: 501,
  ERR_BAD_SIGNATURE: 401,
  ERR_STALE_TIMESTAMP: 401,
  ERR_FUNCTION_THREW: 500,
  ERR_CPU_LIMIT: 503,
  ERR_MEMORY_LIMIT: 503,
  ERR_WALL_TIMEOUT: 504,
  ERR_RESULT_TOO_LARGE: 500,
  ERR_CANCELLED: 409,
  ERR_SHUTDOWN: 503,
  ERR_LEASE_EXPIRED: 503,
  ERR_FETCH_DENIED: 403,
  ERR_INVALID_ARGUMENTS: 400,
  ERR_TOOL_STATUS: 502,
  ERR_INVALID_TOOL_RESULT: 500,
  ERR_UNAVAILABLE: 503,
  ERR_INTERNAL: 500,
};

export class IsoboxError extends Error {
  readonly code: ErrorCode;
  /** Extra fields for the error body (e.g. line and column of a compile error). */
  readonly details?: Record<string, unknown>;
  /** Seconds, sent as Retry-After. */
  readonly retryAfter?: number;

  constructor(code: ErrorCode, message: string, options?: { details?: Record<string, unknown>; retryAfter?: number; cause?: unknown }) {
    super(message, { cause: options?.cause });
    this.name = "IsoboxError";
    this.code = code;
    this.details = options?.details;
    this.retryAfter = options?.retryAfter;
  }

  get status(): number {
    return STATUS[this.code];
  }

  toJSON(): { error: { code: ErrorCode; message: string } & Record<string, unknown> } {
    return { error: { code: this.code, message: this.message, ...this.details } };
  }
}

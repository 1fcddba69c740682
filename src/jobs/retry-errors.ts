// Errors a job throws to steer its retries. They run inside the sandbox (a function imports them
// from "isobox" and `isobox deploy` bundles this file alone), so they import nothing. The host
// knows them by `name`, and a RetryAfterError by its `retryAfterMs`: errors cross as plain data.

/** Fails the job at once: no further attempt (bad input, a refusal that will not change). */
export class NonRetriableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NonRetriableError";
  }
}

/** Fails this attempt and schedules the next one after the given wait (a rate limit's Retry-After). */
export class RetryAfterError extends Error {
  /** Milliseconds until the next attempt. */
  readonly retryAfterMs: number;
  /** `retryAfter`: milliseconds, or the time of the next attempt. */
  constructor(message: string, retryAfter: number | Date, options?: ErrorOptions) {
    super(message, options);
    this.name = "RetryAfterError";
    this.retryAfterMs = Math.max(0, typeof retryAfter === "number" ? retryAfter : retryAfter.getTime() - Date.now());
  }
}

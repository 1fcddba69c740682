// The types a function's author writes against (DESIGN.md section 2).

/** The secrets the manifest names, as strings. */
export type Env = Readonly<Record<string, string>>;

export interface ScheduledEvent {
  cron: string;
  scheduledTime: number;
}

export interface Context {
  /** Keeps the invocation alive (up to its wall-clock limit) until the promise settles. */
  waitUntil(promise: Promise<unknown>): void;
  /** Aborted when the invocation runs out of wall-clock time. */
  readonly signal: AbortSignal;
  readonly runId: string;
  readonly traceId: string;
  readonly tenant: string;
  readonly function: string;
  /** Starts a job of this same function; the same `key` again returns the existing job. */
  enqueue(payload: unknown, options?: EnqueueOptions): Promise<{ id: string; status: JobStatus }>;
  readonly jobs: {
    /** A job of this function, as GET /api/tenants/:tenant/jobs/:id shows it; null when unknown. */
    get(id: string): Promise<JobInfo | null>;
  };
  /** Durable steps: in a job, a finished step is not run again by a later attempt. */
  readonly step: Steps;
  /** Set in a job attempt. */
  readonly job?: { readonly id: string; readonly attempt: number };
  /**
   * Runs `fn` in a child span of the invocation's span (exported when OpenTelemetry tracing is
   * on); a throw marks the span failed and is rethrown. Returns what `fn` returns.
   */
  span<T>(name: string, fn: (span: Span) => T | Promise<T>, attributes?: Record<string, AttributeValue>): Promise<T>;
  /** Sets an attribute on the invocation's span. Keys starting with "isobox." are the platform's. */
  setAttribute(key: string, value: AttributeValue): void;
}

export type AttributeValue = string | number | boolean;

/** A span made with ctx.span. */
export interface Span {
  setAttribute(key: string, value: AttributeValue): Span;
  /** A child of this span. */
  span<T>(name: string, fn: (span: Span) => T | Promise<T>, attributes?: Record<string, AttributeValue>): Promise<T>;
}

export interface EnqueueOptions {
  /** Idempotency key, unique per function. */
  key?: string;
  delayMs?: number;
  maxAttempts?: number;
  /** Higher runs first (-1000..1000). */
  priority?: number;
}

export type JobStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled";

export interface JobInfo {
  id: string;
  function: string;
  status: JobStatus;
  attempts: number;
  maxAttempts: number;
  result?: unknown;
  error?: { code: string; message: string; stack?: string };
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  steps?: { name: string; kind: "run" | "sleep"; status: "succeeded" | "failed"; durationMs: number; attempt: number }[];
}

export interface Steps {
  /**
   * Runs `fn` once per job: its result (JSON, at most 1 MB) is stored, and a later attempt
   * returns the stored result without calling `fn`. Names must be unique within a job.
   */
  run<T>(name: string, fn: () => T | Promise<T>): Promise<T>;
  /** Ends the attempt and resumes the job after `ms`, holding no isolate or connection meanwhile. */
  sleep(name: string, ms: number): Promise<void>;
}

/** The default export of a function module: any of these handlers. */
export interface Handler<E extends Env = Env> {
  fetch?(request: Request, env: E, ctx: Context): Response | Promise<Response>;
  job?(payload: unknown, env: E, ctx: Context): unknown;
  scheduled?(event: ScheduledEvent, env: E, ctx: Context): unknown;
}

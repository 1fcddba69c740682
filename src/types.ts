// The types a function's author writes against (README, "The function"). They import nothing but
// the sandbox's protocol, itself free of dependencies, so a user's type check needs nothing else.
import type { EnqueueOptions, JobInfo, JobStatus } from "../sandbox/protocol.ts";

export type { EnqueueOptions, JobInfo, JobStatus };

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
  /** An MCP tools/call (the manifest's `tool`): the arguments, validated against `tool.input`; return JSON or a string. */
  tool?(input: unknown, env: E, ctx: Context): unknown;
}

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
}

/** The default export of a function module: any of these handlers. */
export interface Handler<E extends Env = Env> {
  fetch?(request: Request, env: E, ctx: Context): Response | Promise<Response>;
  job?(payload: unknown, env: E, ctx: Context): unknown;
  scheduled?(event: ScheduledEvent, env: E, ctx: Context): unknown;
}

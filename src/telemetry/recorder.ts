// RunRecorder: runs and their logs go to a buffer that is flushed in batches, so the request
// path never waits on the database. Failed writes are retried; the buffer is bounded.
import { runLogs, runs } from "../../schema/tables.ts";
import type { Database } from "../db/connect.ts";

export interface LogLine {
  time: Date;
  level: string;
  message: string;
}

export interface RunRecord {
  id: string;
  tenant: string;
  function: string;
  version: number;
  trigger: "http" | "job" | "cron" | "webhook";
  status: "succeeded" | "failed";
  startedAt: Date;
  durationMs: number;
  cpuMs: number;
  httpStatus?: number;
  error?: { code: string; message: string; stack?: string };
  traceId: string;
  logs: LogLine[];
}

export interface RecorderOptions {
  flushMs?: number;
  batchSize?: number;
  /** Runs held while the database is unreachable; beyond it the oldest are dropped and counted. */
  maxBuffered?: number;
}

export class RunRecorder {
  private buffer: RunRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private readonly options: Required<RecorderOptions>;
  private readonly db: Database;
  dropped = 0;
  written = 0;
  private closed = false;

  constructor(db: Database, options: RecorderOptions = {}) {
    this.db = db;
    this.options = { flushMs: 200, batchSize: 500, maxBuffered: 50_000, ...options };
  }

  record(run: RunRecord): void {
    if (this.closed) {
      this.dropped++;
      return;
    }
    this.buffer.push(run);
    if (this.buffer.length > this.options.maxBuffered) {
      this.buffer.shift();
      this.dropped++;
    }
    if (this.buffer.length >= this.options.batchSize) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.options.flushMs);
  }

  /** Writes everything buffered; resolves when done (or when a write failed and was re-queued). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.flushing) await this.flushing;
    if (this.buffer.length === 0) return;
    const batch = this.buffer.splice(0, this.options.batchSize);
    this.flushing = this.write(batch).catch(() => {
      // The database is unreachable: keep the runs and try again later.
      this.buffer.unshift(...batch);
      if (!this.closed) this.timer ??= setTimeout(() => void this.flush(), this.options.flushMs * 5);
    }).finally(() => { this.flushing = undefined; });
    await this.flushing;
    if (this.closed) return;
    if (this.buffer.length >= this.options.batchSize) await this.flush();
    else if (this.buffer.length > 0) this.timer ??= setTimeout(() => void this.flush(), this.options.flushMs);
  }

  /** Writes what is buffered (one try; a database already gone loses it, counted in `dropped`). */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.flushing) await this.flushing;
    const rest = this.buffer.splice(0);
    for (let i = 0; i < rest.length; i += this.options.batchSize) {
      const batch = rest.slice(i, i + this.options.batchSize);
      await this.write(batch).catch(() => { this.dropped += batch.length; });
    }
  }

  private async write(batch: RunRecord[]): Promise<void> {
    const lines = batch.flatMap((run) => run.logs.map((log, seq) => ({ runId: run.id, seq, ...log })));
    await this.db.transaction(async (tx) => {
      await tx.insert(runs).values(batch.map(({ logs, ...run }) => ({ ...run, logCount: logs.length }))).onConflictDoNothing();
      // Postgres caps a statement at 65535 parameters: 5 per line.
      for (let i = 0; i < lines.length; i += 10_000) await tx.insert(runLogs).values(lines.slice(i, i + 10_000)).onConflictDoNothing();
    });
    this.written += batch.length;
  }
}

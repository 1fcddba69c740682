// What every node does once a minute, whether or not it runs jobs (ISOBOX_JOB_RUNNER=false):
// runs past their retention go, finished jobs past theirs go with their steps, webhook deliveries
// whose jobs are gone go, idle console sessions go, and job notifications a node died before
// sending are sent. The deletes
// are idempotent, so nodes doing it at once only share the work.
import type { Db } from "./db/connect.ts";
import { deleteFinishedJobs } from "./jobs/queue.ts";
import type { Notifier } from "./jobs/notify.ts";
import { pruneRuns } from "./runs/retention.ts";
import { deleteOldEvents } from "./webhooks/events.ts";
import type { ConsoleSessions } from "./console/sessions.ts";

const EVERY_MS = 60_000;
/** Finished jobs one statement deletes. */
const JOB_BATCH = 1000;

export interface HousekeepingOptions {
  runRetentionHours: number;
  runRetentionMax: number;
  jobRetentionHours: number;
}

export class Housekeeping {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly db: Db;
  private readonly notifier: Notifier;
  private readonly sessions: Pick<ConsoleSessions, "prune">;
  private readonly options: HousekeepingOptions;

  constructor(db: Db, notifier: Notifier, sessions: Pick<ConsoleSessions, "prune">, options: HousekeepingOptions) {
    this.db = db;
    this.notifier = notifier;
    this.sessions = sessions;
    this.options = options;
  }

  /** A pass now (what piled up while no node ran), then one a minute. */
  start(): void {
    void this.pass();
    this.timer = setInterval(() => void this.pass(), EVERY_MS);
    this.timer.unref();
  }

  /** One pass; a failure (the database away) waits for the next minute. */
  pass(): Promise<void> {
    this.running ??= this.work().catch(() => {}).finally(() => { this.running = undefined; });
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  private async work(): Promise<void> {
    const hours = (n: number) => new Date(Date.now() - n * 3_600_000);
    await pruneRuns(this.db, hours(this.options.runRetentionHours), this.options.runRetentionMax);
    const jobsBefore = hours(this.options.jobRetentionHours);
    while ((await deleteFinishedJobs(this.db, jobsBefore, JOB_BATCH)) === JOB_BATCH && !this.stopped);
    await deleteOldEvents(this.db, jobsBefore);
    await this.sessions.prune();
    await this.notifier.redeliverMissed();
  }
}

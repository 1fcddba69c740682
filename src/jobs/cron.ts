// The Scheduler every node runs: each second it turns the due fires of schedules into jobs keyed
// `cron:<name>:<scheduledTime>`, so any number of nodes fire each tick exactly once.
import type { Db } from "../db/connect.ts";
import type { FunctionRegistry } from "../functions/registry.ts";
import { enqueue } from "./enqueue.ts";
import { jobStatus } from "./queue.ts";
import { dueFires } from "./fire-times.ts";
import { advanceSchedule, dueSchedules, type ScheduleRow } from "./schedules.ts";

export interface SchedulerOptions {
  /** The clock (tests drive it). */
  now?: () => Date;
  /** Ticks follow the wall clock's seconds; tests tick by hand. */
  autoTick?: boolean;
}

export class Scheduler {
  private readonly db: Db;
  private readonly registry: FunctionRegistry;
  private readonly now: () => Date;
  private readonly autoTick: boolean;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private stopped = false;

  constructor(db: Db, registry: FunctionRegistry, options: SchedulerOptions = {}) {
    this.db = db;
    this.registry = registry;
    this.now = options.now ?? (() => new Date());
    this.autoTick = options.autoTick ?? true;
  }

  start(): void {
    if (this.autoTick) this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking;
  }

  /** Just after each second boundary, so a per-second schedule fires on its second. */
  private schedule(): void {
    if (this.stopped) return;
    const wait = 1000 - (Date.now() % 1000) + 5;
    this.timer = setTimeout(() => {
      this.ticking = this.tick().then(() => {}, () => {
        // The database is away: the next tick tries again, and its fires are still due then.
      }).finally(() => { this.ticking = undefined; this.schedule(); });
    }, wait);
    this.timer.unref();
  }

  /** Turns every due fire into a job and advances the schedules. */
  async tick(): Promise<number> {
    const now = this.now();
    let started = 0;
    for (const schedule of await dueSchedules(this.db, now)) {
      started += await this.fire(schedule, now);
    }
    return started;
  }

  private async fire(schedule: ScheduleRow, now: Date): Promise<number> {
    const fn = await this.registry.get(schedule.tenant, schedule.function);
    const { fires, next } = dueFires(schedule, schedule.nextAt, now);
    let lastJobId = schedule.lastJobId;
    let lastAt = schedule.lastScheduledAt;
    let started = 0;
    for (const at of fn ? fires : []) {
      if (schedule.overlap === "skip" && lastJobId && ["queued", "running"].includes((await jobStatus(this.db, lastJobId)) ?? "")) continue;
      const event = { cron: schedule.cron, scheduledTime: at.getTime(), ...(schedule.payload === null || schedule.payload === undefined ? {} : { payload: schedule.payload }) };
      const job = await enqueue(this.db, fn!, JSON.stringify(event), { key: `cron:${schedule.name}:${at.toISOString()}` }, { trigger: "cron" });
      lastJobId = job.id;
      lastAt = at;
      if (job.created) started++;
    }
    // Another node that advanced the schedule first wins; its jobs and ours are the same jobs.
    await advanceSchedule(this.db, schedule, next, lastAt, lastJobId);
    return started;
  }
}

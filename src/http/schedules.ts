// /api/tenants/:tenant/schedules: each schedule with its next fires and last run; trigger one now;
// pause and resume. A schedule's id is "<function>.<name>" (its name defaults to its index).
import { Hono, type Context } from "hono";
import { IsoboxError } from "../errors.ts";
import { enqueue } from "../jobs/enqueue.ts";
import { nextFire } from "../jobs/fire-times.ts";
import { getSchedule, listSchedules, setPaused, type ScheduleRow } from "../jobs/schedules.ts";
import { scopedTenant } from "./auth.ts";
import type { Services } from "./services.ts";
import type { AppEnv } from "./app-env.ts";

const NEXT_RUNS = 5;

function nextRuns(schedule: ScheduleRow): string[] {
  if (schedule.paused) return [];
  const runs = [schedule.nextAt];
  while (runs.length < NEXT_RUNS) runs.push(nextFire(schedule, runs[runs.length - 1]));
  return runs.map((at) => at.toISOString());
}

function view(schedule: ScheduleRow & { lastStatus?: string | null }) {
  return {
    id: `${schedule.function}.${schedule.name}`,
    function: schedule.function,
    name: schedule.name,
    cron: schedule.cron,
    timezone: schedule.timezone ?? "UTC",
    overlap: schedule.overlap,
    missed: schedule.missed,
    paused: schedule.paused,
    nextRuns: nextRuns(schedule),
    lastRun: schedule.lastJobId ? { scheduledTime: schedule.lastScheduledAt?.toISOString() ?? null, jobId: schedule.lastJobId, status: schedule.lastStatus ?? null } : null,
  };
}

export function scheduleRoutes(services: Services): Hono<AppEnv> {
  const { db, registry } = services;
  const app = new Hono<AppEnv>();

  async function find(c: Context<AppEnv>): Promise<ScheduleRow> {
    const tenant = scopedTenant(c);
    const id = c.req.param("id") ?? "";
    const dot = id.indexOf(".");
    const schedule = dot > 0 ? await getSchedule(db, tenant, id.slice(0, dot), id.slice(dot + 1)) : undefined;
    if (!schedule) throw new IsoboxError("ERR_NOT_FOUND", `Tenant ${tenant} has no schedule ${id} (ids are "<function>.<name>")`);
    return schedule;
  }

  app.get("/", async (c) => c.json({ schedules: (await listSchedules(db, scopedTenant(c))).map(view) }));

  app.post("/:id/trigger", async (c) => {
    const schedule = await find(c);
    const fn = await registry.get(schedule.tenant, schedule.function);
    if (!fn) throw new IsoboxError("ERR_NOT_FOUND", `No function ${schedule.tenant}/${schedule.function}`);
    const at = new Date();
    const event = { cron: schedule.cron, scheduledTime: at.getTime(), ...(schedule.payload === null ? {} : { payload: schedule.payload }) };
    const job = await enqueue(db, fn, JSON.stringify(event), { key: `cron:${schedule.name}:manual:${at.toISOString()}` }, { trigger: "cron" });
    return c.json({ id: view(schedule).id, jobId: job.id, status: job.status }, 202);
  });

  for (const action of ["pause", "resume"] as const) {
    app.post(`/:id/${action}`, async (c) => {
      const schedule = await find(c);
      await setPaused(db, schedule, action === "pause");
      return c.json(view((await getSchedule(db, schedule.tenant, schedule.function, schedule.name))!));
    });
  }

  return app;
}

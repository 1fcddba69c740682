// Jobs: POST /api/tenants/:tenant/functions/:name/jobs starts one; /api/tenants/:tenant/jobs
// lists, shows, cancels and retries them.
import { Hono } from "hono";
import { IsoboxError } from "../errors.ts";
import { enqueue, payloadJson } from "../jobs/enqueue.ts";
import { NOTIFY_SECRET, newNotifySecret } from "../jobs/notify.ts";
import { cancelJob, countJobs, getJob, getSteps, listJobs, retryJob } from "../jobs/queue.ts";
import { queryCursor } from "./cursor.ts";
import { jobView } from "../jobs/view.ts";
import { scopedTenant } from "./auth.ts";
import { fromZod } from "./errors.ts";
import { readJson } from "./json.ts";
import { EnqueueBody, JobsQuery } from "./schemas.ts";
import type { Services } from "./services.ts";
import type { AppEnv } from "./app-env.ts";

export function jobRoutes(services: Services): Hono<AppEnv> {
  const { db, registry, notifier } = services;
  const app = new Hono<AppEnv>();

  app.post("/functions/:name/jobs", async (c) => {
    const tenant = scopedTenant(c);
    const name = c.req.param("name");
    const { payload, ...options } = await readJson(c, EnqueueBody);
    const json = payloadJson(payload, "body.payload");
    const fn = await registry.get(tenant, name);
    if (!fn) throw new IsoboxError("ERR_NOT_FOUND", `No function ${tenant}/${name}`);
    const job = await enqueue(db, fn, json, options);
    return c.json(job, 202);
  });

  app.get("/jobs", async (c) => {
    const tenant = scopedTenant(c);
    const query = JobsQuery.safeParse(c.req.query());
    if (!query.success) throw fromZod(query.error, "query");
    const { function: fn, status, limit, cursor } = query.data;
    const { page, nextCursor } = await listJobs(db, tenant, { function: fn, status, limit, cursor: queryCursor(cursor) });
    return c.json({
      jobs: page.map((job) => jobView(job)),
      nextCursor,
      counts: await countJobs(db, tenant, fn),
    });
  });

  // Receivers of job notifications verify them with this secret (Standard Webhooks, "whsec_…").
  app.get("/jobs/notify-secret", async (c) => {
    const tenant = scopedTenant(c);
    return c.json({ secret: await services.secrets.ensure(tenant, NOTIFY_SECRET, newNotifySecret) });
  });

  app.get("/jobs/:id", async (c) => {
    const tenant = scopedTenant(c);
    const job = await getJob(db, tenant, c.req.param("id"));
    if (!job) throw new IsoboxError("ERR_NOT_FOUND", `Tenant ${tenant} has no job ${c.req.param("id")}`);
    return c.json(jobView(job, await getSteps(db, job.id), true));
  });

  app.post("/jobs/:id/cancel", async (c) => {
    const tenant = scopedTenant(c);
    const id = c.req.param("id");
    const job = await cancelJob(db, tenant, id);
    if (!job) throw await conflictOrMissing(tenant, id, "cancelled: it has finished");
    notifier.notify(job);
    return c.json(jobView(job));
  });

  app.post("/jobs/:id/retry", async (c) => {
    const tenant = scopedTenant(c);
    const id = c.req.param("id");
    const job = await retryJob(db, tenant, id);
    if (!job) throw await conflictOrMissing(tenant, id, "retried: only failed or cancelled jobs can be");
    return c.json(jobView(job), 202);
  });

  async function conflictOrMissing(tenant: string, id: string, why: string): Promise<IsoboxError> {
    const job = await getJob(db, tenant, id);
    if (!job) return new IsoboxError("ERR_NOT_FOUND", `Tenant ${tenant} has no job ${id}`);
    return new IsoboxError("ERR_CONFLICT", `Job ${id} is ${job.status} and cannot be ${why}`, { details: { status: job.status } });
  }

  return app;
}

// /api/tenants/:tenant/runs: what ran, how it ended, what it logged.
import { Hono } from "hono";
import { IsoboxError } from "../errors.ts";
import { getRun, listRuns } from "../runs/store.ts";
import { scopedTenant } from "./auth.ts";
import { queryCursor } from "./cursor.ts";
import { fromZod } from "./errors.ts";
import { RunsQuery } from "./schemas.ts";
import type { Services } from "./services.ts";
import type { AppEnv } from "./app-env.ts";

export function runRoutes(services: Services): Hono<AppEnv> {
  const db = services.db.orm;
  const app = new Hono<AppEnv>();

  app.get("/", async (c) => {
    const tenant = scopedTenant(c);
    const query = RunsQuery.safeParse(c.req.query());
    if (!query.success) throw fromZod(query.error, "query");
    const { cursor, ...filter } = query.data;
    return c.json(await listRuns(db, tenant, { ...filter, after: queryCursor(cursor) }));
  });

  app.get("/:id", async (c) => {
    const tenant = scopedTenant(c);
    const run = await getRun(db, tenant, c.req.param("id"));
    if (!run) throw new IsoboxError("ERR_NOT_FOUND", `Tenant ${tenant} has no run ${c.req.param("id")}`);
    return c.json(run);
  });

  return app;
}

// /api/tenants/:tenant/functions: deploy, list, get, versions, rollback, delete.
import { Hono, type Context } from "hono";
import { IsoboxError } from "../errors.ts";
import { deployFunction, rollbackFunction } from "../functions/deploy.ts";
import { deleteFunction, getFunction, getVersion, listFunctions, listVersions } from "../functions/store.ts";
import { deleteSchedules } from "../jobs/schedules.ts";
import { scopedTenant } from "./auth.ts";
import { baseUrl, readJson } from "./json.ts";
import { DeployFunction, Rollback } from "./schemas.ts";
import type { Services } from "./services.ts";
import type { AppEnv } from "./app-env.ts";

export function functionRoutes(services: Services): Hono<AppEnv> {
  const { db, registry, limiter } = services;
  const app = new Hono<AppEnv>();
  const url = (c: Context<AppEnv>, tenant: string, name: string) => `${baseUrl(c)}/fn/${tenant}/${name}`;

  app.put("/:name", async (c) => {
    const tenant = scopedTenant(c);
    const body = await readJson(c, DeployFunction);
    const deployed = await deployFunction(db, registry, limiter, services.secrets, tenant, c.req.param("name"), body);
    return c.json({ ...deployed, url: url(c, tenant, deployed.name) }, 201);
  });

  app.get("/", async (c) => {
    const tenant = scopedTenant(c);
    const rows = await listFunctions(db.orm, tenant);
    return c.json({
      functions: rows.map((fn) => ({ name: fn.name, version: fn.activeVersion, latestVersion: fn.latestVersion, url: url(c, tenant, fn.name), createdAt: fn.createdAt, updatedAt: fn.updatedAt })),
    });
  });

  app.get("/:name", async (c) => {
    const tenant = scopedTenant(c);
    const name = c.req.param("name");
    const fn = await getFunction(db.orm, tenant, name);
    const active = fn && (await getVersion(db.orm, tenant, name, fn.activeVersion));
    if (!fn || !active) throw new IsoboxError("ERR_NOT_FOUND", `No function ${tenant}/${name}`);
    const withCode = c.req.query("code") === "1";
    return c.json({
      name,
      version: fn.activeVersion,
      latestVersion: fn.latestVersion,
      url: url(c, tenant, name),
      manifest: active.manifest,
      versions: await listVersions(db.orm, tenant, name),
      createdAt: fn.createdAt,
      updatedAt: fn.updatedAt,
      ...(withCode ? { code: active.code } : {}),
    });
  });

  app.get("/:name/versions", async (c) => {
    const tenant = scopedTenant(c);
    const versions = await listVersions(db.orm, tenant, c.req.param("name"));
    if (versions.length === 0) throw new IsoboxError("ERR_NOT_FOUND", `No function ${tenant}/${c.req.param("name")}`);
    return c.json({ versions });
  });

  app.post("/:name/rollback", async (c) => {
    const tenant = scopedTenant(c);
    const { version } = await readJson(c, Rollback);
    const done = await rollbackFunction(db, registry, tenant, c.req.param("name"), version);
    return c.json({ ...done, url: url(c, tenant, done.name) });
  });

  app.delete("/:name", async (c) => {
    const tenant = scopedTenant(c);
    const name = c.req.param("name");
    if (!(await deleteFunction(db.orm, tenant, name))) throw new IsoboxError("ERR_NOT_FOUND", `No function ${tenant}/${name}`);
    await deleteSchedules(db, tenant, name);
    await registry.changed(tenant, name);
    return c.json({ name, deleted: true });
  });

  return app;
}

// /api/tenants/:tenant/functions: deploy, list, get (with the source the editor shows), versions,
// rollback, delete.
import { Hono, type Context } from "hono";
import { IsoboxError } from "../errors.ts";
import { deployFunction, rollbackFunction } from "../functions/deploy.ts";
import { deleteFunction, getFunction, getVersion, listServing, listVersions, type VersionRow } from "../functions/store.ts";
import { entrySource } from "../functions/source-map.ts";
import { deleteSchedules } from "../jobs/schedules.ts";
import { scopedTenant } from "./auth.ts";
import { baseUrl, readJson } from "./json.ts";
import { DeployFunction, Rollback } from "./schemas.ts";
import type { Services } from "./services.ts";
import type { AppEnv } from "./app-env.ts";

/**
 * What the console's editor shows: the source deployed from it, else the entry file of a CLI bundle
 * (from its source map: the other files it imported are not shown), else the module itself.
 */
function editorSource(version: VersionRow): { text: string; language: "ts" | "js"; file?: string; bundled: boolean } {
  if (version.source !== null) return { text: version.source, language: version.language ?? "ts", bundled: false };
  const entry = entrySource(version.sourceMap);
  if (entry) return { text: entry.text, language: /\.[cm]?tsx?$/.test(entry.file) ? "ts" : "js", file: entry.file, bundled: true };
  return { text: version.code, language: "js", bundled: false };
}

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
    const rows = await listServing(db.orm, tenant);
    return c.json({
      functions: rows.map((fn) => ({
        name: fn.name, version: fn.activeVersion, latestVersion: fn.latestVersion, handlers: fn.handlers, url: url(c, tenant, fn.name),
        ...(fn.tool ? { tool: fn.tool } : {}), createdAt: fn.createdAt, updatedAt: fn.updatedAt,
      })),
    });
  });

  app.get("/:name", async (c) => {
    const tenant = scopedTenant(c);
    const name = c.req.param("name");
    const fn = await getFunction(db.orm, tenant, name);
    const active = fn && (await getVersion(db.orm, tenant, name, fn.activeVersion));
    if (!fn || !active) throw new IsoboxError("ERR_NOT_FOUND", `No function ${tenant}/${name}`);
    return c.json({
      name,
      version: fn.activeVersion,
      latestVersion: fn.latestVersion,
      url: url(c, tenant, name),
      handlers: active.handlers,
      manifest: active.manifest,
      versions: await listVersions(db.orm, tenant, name),
      createdAt: fn.createdAt,
      updatedAt: fn.updatedAt,
      ...(c.req.query("code") === "1" ? { code: active.code } : {}),
      ...(c.req.query("source") === "1" ? { source: editorSource(active) } : {}),
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

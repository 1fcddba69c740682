// /api/tenants: tenants, quotas and API keys.
import { Hono } from "hono";
import { IsoboxError } from "../errors.ts";
import { checkName } from "../names.ts";
import { createTenant, getTenant, issueKey, listKeys, listTenants, revokeKey, setQuotas } from "../tenancy/tenants.ts";
import { requireAdmin, scopedTenant } from "./auth.ts";
import { readJson } from "./json.ts";
import { CreateTenant, UpdateTenant } from "./schemas.ts";
import type { Services } from "./services.ts";
import type { AppEnv } from "./app-env.ts";

export function tenantRoutes(services: Services): Hono<AppEnv> {
  const db = services.db.orm;
  const app = new Hono<AppEnv>();

  app.post("/", async (c) => {
    requireAdmin(c);
    const body = await readJson(c, CreateTenant);
    checkName("tenant", body.name);
    return c.json(await createTenant(db, body.name, body.quotas), 201);
  });

  app.get("/", async (c) => {
    requireAdmin(c);
    return c.json({ tenants: await listTenants(db) });
  });

  app.get("/:tenant", async (c) => {
    const name = scopedTenant(c);
    const tenant = await getTenant(db, name);
    if (!tenant) throw new IsoboxError("ERR_NOT_FOUND", `Tenant ${name} does not exist`);
    return c.json(tenant);
  });

  app.patch("/:tenant", async (c) => {
    requireAdmin(c);
    const body = await readJson(c, UpdateTenant);
    const tenant = await setQuotas(db, c.req.param("tenant"), body.quotas);
    if (!tenant) throw new IsoboxError("ERR_NOT_FOUND", `Tenant ${c.req.param("tenant")} does not exist`);
    services.limiter.forget(tenant.name);
    return c.json(tenant);
  });

  app.post("/:tenant/keys", async (c) => {
    const name = scopedTenant(c);
    if (!(await getTenant(db, name))) throw new IsoboxError("ERR_NOT_FOUND", `Tenant ${name} does not exist`);
    return c.json(await issueKey(db, name), 201);
  });

  app.get("/:tenant/keys", async (c) => {
    const name = scopedTenant(c);
    return c.json({ keys: await listKeys(db, name) });
  });

  app.delete("/:tenant/keys/:id", async (c) => {
    const name = scopedTenant(c);
    if (!(await revokeKey(db, name, c.req.param("id")))) throw new IsoboxError("ERR_NOT_FOUND", `Tenant ${name} has no key ${c.req.param("id")}`);
    services.auth.forgetKeys();
    return c.json({ id: c.req.param("id"), revoked: true });
  });

  return app;
}

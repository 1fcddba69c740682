// /api/tenants/:tenant/secrets: set, list (names and times only), delete.
import { Hono } from "hono";
import { z } from "zod";
import { IsoboxError } from "../errors.ts";
import { SECRET_NAME } from "../functions/manifest.ts";
import type { SecretStore } from "../capabilities/secrets.ts";
import type { Database } from "../db/connect.ts";
import { getTenant } from "../tenancy/tenants.ts";
import { requireTenant } from "./auth.ts";
import { readJson } from "./json.ts";

export const SetSecret = z.strictObject({ value: z.string() });

export function secretRoutes(store: SecretStore, db: Database): Hono {
  const app = new Hono();
  const scope = (tenant: string | undefined, c: Parameters<typeof requireTenant>[0]) => {
    requireTenant(c, tenant!);
    return tenant!;
  };
  const checkName = (name: string) => {
    if (!SECRET_NAME.test(name)) throw new IsoboxError("ERR_BAD_REQUEST", `Invalid secret name "${name.slice(0, 80)}": use UPPER_SNAKE_CASE`);
  };

  app.put("/:name", async (c) => {
    const tenant = scope(c.req.param("tenant"), c);
    checkName(c.req.param("name"));
    const { value } = await readJson(c, SetSecret);
    if (!(await getTenant(db, tenant))) throw new IsoboxError("ERR_NOT_FOUND", `Tenant ${tenant} does not exist`);
    return c.json(await store.set(tenant, c.req.param("name"), value));
  });

  app.get("/", async (c) => c.json({ secrets: await store.list(scope(c.req.param("tenant"), c)) }));

  app.delete("/:name", async (c) => {
    const tenant = scope(c.req.param("tenant"), c);
    if (!(await store.delete(tenant, c.req.param("name")))) throw new IsoboxError("ERR_NOT_FOUND", `Tenant ${tenant} has no secret ${c.req.param("name")}`);
    return c.json({ name: c.req.param("name"), deleted: true });
  });

  return app;
}

// /api/tenants/:tenant/secrets: set, list (names and times only), delete.
import { Hono } from "hono";
import { IsoboxError } from "../errors.ts";
import { checkName } from "../names.ts";
import type { SecretStore } from "../capabilities/secrets.ts";
import type { Database } from "../db/connect.ts";
import { getTenant } from "../tenancy/tenants.ts";
import { checkSecretForHooks } from "../webhooks/secret-check.ts";
import { scopedTenant } from "./auth.ts";
import { readJson } from "./json.ts";
import { SetSecret } from "./schemas.ts";
import type { AppEnv } from "./app-env.ts";

export function secretRoutes(store: SecretStore, db: Database): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.put("/:name", async (c) => {
    const tenant = scopedTenant(c);
    checkName("secret", c.req.param("name"));
    const { value } = await readJson(c, SetSecret);
    if (!(await getTenant(db, tenant))) throw new IsoboxError("ERR_NOT_FOUND", `Tenant ${tenant} does not exist`);
    // A webhook that names this secret would refuse every delivery with an unusable key.
    await checkSecretForHooks(db, tenant, c.req.param("name"), value);
    return c.json(await store.set(tenant, c.req.param("name"), value));
  });

  app.get("/", async (c) => c.json({ secrets: await store.list(scopedTenant(c)) }));

  app.delete("/:name", async (c) => {
    const tenant = scopedTenant(c);
    if (!(await store.delete(tenant, c.req.param("name")))) throw new IsoboxError("ERR_NOT_FOUND", `Tenant ${tenant} has no secret ${c.req.param("name")}`);
    return c.json({ name: c.req.param("name"), deleted: true });
  });

  return app;
}

// Liveness and readiness.
import { Hono } from "hono";
import type { Services } from "./services.ts";
import type { AppEnv } from "./app-env.ts";

export function healthRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/healthz", (c) => c.json({ ok: true }));
  app.get("/readyz", async (c) => {
    const database = services.isReady() && (await services.db.ping(1000));
    return c.json({ ok: database, database, migrations: services.isReady() }, database ? 200 : 503);
  });
  return app;
}

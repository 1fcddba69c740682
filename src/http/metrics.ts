// GET /metrics: the node's metrics in Prometheus text format 0.0.4 (every worker's under `isobox
// start`, see telemetry/metrics/cluster.ts; this process's when embedded). Open unless
// ISOBOX_METRICS_TOKEN is set; then it takes Authorization: Bearer <that token> and nothing else.
import { Hono } from "hono";
import { IsoboxError } from "../errors.ts";
import { nodeScrape } from "../telemetry/metrics/cluster.ts";
import { EXPOSITION_CONTENT_TYPE } from "../telemetry/metrics/exposition.ts";
import { sameSecret } from "../tenancy/secret-compare.ts";
import { bearerToken } from "./auth.ts";
import type { Services } from "./services.ts";
import type { AppEnv } from "./app-env.ts";

export function metricsRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const token = services.config.metricsToken;
  const scrape = nodeScrape(services.metrics, services.nodeMetrics);
  app.get("/metrics", async (c) => {
    if (token !== undefined) {
      const given = bearerToken(c.req.header("authorization"));
      if (given === undefined || !sameSecret(given, token)) {
        throw new IsoboxError("ERR_UNAUTHORIZED", "Metrics need Authorization: Bearer <ISOBOX_METRICS_TOKEN>");
      }
    }
    return c.body(await scrape(), 200, { "content-type": EXPOSITION_CONTENT_TYPE });
  });
  return app;
}

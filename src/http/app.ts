// The Hono app: health, the console, function invocation, the management API; errors in one shape.
import { Hono, type MiddlewareHandler } from "hono";
import { IsoboxError } from "../errors.ts";
import { requireAdmin, requireAuth } from "./auth.ts";
import { bodyLimit } from "./body.ts";
import { errorResponse } from "./errors.ts";
import { functionRoutes } from "./functions.ts";
import { functionInvokeRoutes } from "./function-invoke.ts";
import { healthRoutes } from "./health.ts";
import { functionRequestRoutes } from "./function-requests.ts";
import { metricsRoutes } from "./metrics.ts";
import { jobRoutes } from "./jobs.ts";
import { scheduleRoutes } from "./schedules.ts";
import { hookIntakeRoutes, webhookRoutes } from "./webhooks.ts";
import { logRoutes } from "./logs.ts";
import { openApiRoutes } from "./openapi.ts";
import { runRoutes } from "./runs.ts";
import { secretRoutes } from "./secrets.ts";
import type { Services } from "./services.ts";
import { tenantRoutes } from "./tenants.ts";
import { storableRequestText } from "./request-text.ts";
import type { AppEnv } from "./app-env.ts";
import { consoleRoutes } from "../console/routes.ts";
import { mcpRoutes } from "../mcp/routes.ts";
import { SchemaChecks } from "../mcp/json-schema.ts";
import { toolCallRoutes } from "./tool-calls.ts";

/** `around` runs first on every request (the embedder's request accounting). */
export function createApp(services: Services, around: MiddlewareHandler): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use("*", around, bodyLimit(services.config.maxBodyBytes));

  app.onError((error) => errorResponse(error));
  app.notFound(() => errorResponse(new IsoboxError("ERR_NOT_FOUND", "No such route")));

  app.route("/", healthRoutes(services));
  if (services.config.console) app.route("/", consoleRoutes(services.sessions));
  app.route("/", metricsRoutes(services));
  app.route("/", functionRequestRoutes(services));
  // Tools' compiled argument and result schemas, for MCP calls and the API's tool calls alike.
  const toolSchemas = new SchemaChecks();
  app.route("/", mcpRoutes(services, toolSchemas));
  app.use("/hooks/*", storableRequestText);
  app.route("/", hookIntakeRoutes(services));

  const api = new Hono<AppEnv>();
  api.use("*", storableRequestText);
  api.route("/", openApiRoutes());
  api.use("*", requireAuth(services.auth, services.sessions));
  api.route("/tenants", tenantRoutes(services));
  api.route("/tenants/:tenant/functions", functionRoutes(services));
  api.route("/tenants/:tenant/functions", functionInvokeRoutes(services));
  api.route("/tenants/:tenant/functions", toolCallRoutes(services, toolSchemas));
  api.route("/tenants/:tenant", jobRoutes(services));
  api.route("/tenants/:tenant/runs", runRoutes(services));
  api.route("/tenants/:tenant/logs", logRoutes(services));
  api.route("/tenants/:tenant/schedules", scheduleRoutes(services));
  api.route("/tenants/:tenant/webhooks", webhookRoutes(services));
  api.route("/tenants/:tenant/secrets", secretRoutes(services.secrets, services.db.orm));
  api.post("/secrets/rotate-key", async (c) => {
    requireAdmin(c);
    return c.json(await services.rotateKey());
  });
  app.route("/api", api);
  return app;
}

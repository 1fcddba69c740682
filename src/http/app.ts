// The Hono app: health, function invocation, the management API; errors in one shape.
import { Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { IsoboxError } from "../errors.ts";
import { requireAuth } from "./auth.ts";
import { errorResponse } from "./errors.ts";
import { functionRoutes } from "./functions.ts";
import { healthRoutes } from "./health.ts";
import { invokeRoutes } from "./invoke.ts";
import { openApiRoutes } from "./openapi.ts";
import { runRoutes } from "./runs.ts";
import { secretRoutes } from "./secrets.ts";
import type { Services } from "./services.ts";
import { tenantRoutes } from "./tenants.ts";

/** `around` runs first on every request (the embedder's request accounting). */
export function createApp(services: Services, around: MiddlewareHandler): Hono {
  const app = new Hono();
  app.use("*", around);
  const limit = bodyLimit({
    maxSize: services.config.maxBodyBytes,
    onError: () => errorResponse(new IsoboxError("ERR_BODY_TOO_LARGE", `The request body is larger than ${services.config.maxBodyBytes} bytes`)),
  });

  app.onError((error) => errorResponse(error));
  app.notFound(() => errorResponse(new IsoboxError("ERR_NOT_FOUND", "No such route")));

  app.route("/", healthRoutes(services));
  app.use("/fn/*", limit);
  app.route("/", invokeRoutes(services));

  const api = new Hono();
  api.route("/", openApiRoutes());
  api.use("*", limit, requireAuth(services.auth));
  api.route("/tenants", tenantRoutes(services));
  api.route("/tenants/:tenant/functions", functionRoutes(services));
  api.route("/tenants/:tenant/runs", runRoutes(services));
  api.route("/tenants/:tenant/secrets", secretRoutes(services.secrets, services.db.orm));
  app.route("/api", api);
  return app;
}

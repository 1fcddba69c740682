// POST /mcp/:tenant: each tenant is one MCP server (Streamable HTTP, stateless, both protocol
// eras), served by the SDK's createMcpHandler. The SDK checks neither credentials nor Origin:
// Isobox does, before the SDK sees the request.
import { createMcpHandler, type McpHttpHandler } from "@modelcontextprotocol/server";
import { Hono, type Context } from "hono";
import { IsoboxError } from "../errors.ts";
import { assertReaches } from "../http/auth.ts";
import type { AppEnv } from "../http/app-env.ts";
import { errorResponse } from "../http/errors.ts";
import type { Services } from "../http/services.ts";
import { NAME_PATTERN } from "../names.ts";
import { getTenant } from "../tenancy/tenants.ts";
import type { SchemaChecks } from "./json-schema.ts";
import { tenantServer } from "./server.ts";

/** The tenant's handler: one per tenant, so a tenant's list-changed notifications reach its own listeners only. */
class TenantHandlers {
  private readonly handlers = new Map<string, McpHttpHandler>();
  private readonly services: Services;
  private readonly checks: SchemaChecks;

  constructor(services: Services, checks: SchemaChecks) {
    this.services = services;
    this.checks = checks;
    // A deploy, rollback or delete on any node (the registry hears them all).
    services.registry.onChange((tenant) => this.handlers.get(tenant)?.notify.toolsChanged());
  }

  of(tenant: string): McpHttpHandler {
    let handler = this.handlers.get(tenant);
    if (handler) return handler;
    handler = createMcpHandler(({ era, requestInfo }) => tenantServer({
      services: this.services,
      checks: this.checks,
      tenant,
      origin: new URL(requestInfo?.url ?? "http://localhost/").origin,
      era,
    }), { maxRequestBodySize: this.services.config.maxBodyBytes });
    this.handlers.set(tenant, handler);
    return handler;
  }
}

export function mcpRoutes(services: Services, checks: SchemaChecks): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const handlers = new TenantHandlers(services, checks);
  const tenants = new KnownTenants(services);
  app.all("/mcp/:tenant", async (c) => {
    checkOrigin(c, services.config.mcpOrigins);
    const tenant = c.req.param("tenant");
    // Only the Authorization header authenticates (a token in the query string does not).
    const principal = await services.auth.principal(c.req.header("authorization"));
    if (!principal) return unauthorized();
    assertReaches(principal, tenant);
    // A tenant's key proves its tenant exists; the admin's calls are checked (a deleted tenant's keys go with it).
    if (principal.kind === "admin" && !(await tenants.exists(tenant))) throw new IsoboxError("ERR_NOT_FOUND", `No tenant ${tenant.slice(0, 80)}`);
    return handlers.of(tenant).fetch(c.req.raw);
  });
  return app;
}

/** Whether a tenant exists, remembered for a few seconds (an MCP client calls often). */
class KnownTenants {
  private readonly known = new Map<string, number>();
  private readonly services: Services;
  constructor(services: Services) {
    this.services = services;
  }

  async exists(tenant: string): Promise<boolean> {
    if ((this.known.get(tenant) ?? 0) > Date.now()) return true;
    if (!NAME_PATTERN.test(tenant) || !(await getTenant(this.services.db.orm, tenant))) return false;
    if (this.known.size >= KNOWN_MAX) this.known.clear();
    this.known.set(tenant, Date.now() + KNOWN_MS);
    return true;
  }
}

const KNOWN_MS = 5_000;
const KNOWN_MAX = 10_000;

function unauthorized(): Response {
  const response = errorResponse(new IsoboxError("ERR_UNAUTHORIZED", "Send Authorization: Bearer <the tenant's API key or the admin token>"));
  response.headers.set("www-authenticate", 'Bearer realm="isobox"');
  return response;
}

/**
 * A page of another site must not drive a tenant's tools with a browser's credentials (DNS
 * rebinding included): a present Origin is the request's own host or one of ISOBOX_MCP_ORIGINS.
 */
function checkOrigin(c: Context<AppEnv>, allowed: readonly string[]): void {
  const origin = c.req.header("origin");
  if (origin === undefined) return;
  const host = c.req.header("host");
  const parsed = URL.parse(origin);
  if (parsed && host !== undefined && parsed.host === host) return;
  if (parsed && allowed.includes(parsed.origin)) return;
  throw new IsoboxError("ERR_FORBIDDEN", `Origin ${origin.slice(0, 200)} may not call this MCP server: it is not this node's origin nor in ISOBOX_MCP_ORIGINS`);
}

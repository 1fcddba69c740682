// GET /api/openapi.json: the management API, request bodies generated from the zod schemas
// the routes validate with, so the document cannot drift from the code.
import { Hono } from "hono";
import { z } from "zod";
import { ManifestSchema } from "../functions/manifest.ts";
import { CreateTenant, DeployFunction, Rollback, UpdateTenant } from "./schemas.ts";

const json = (schema: z.ZodType) => ({ content: { "application/json": { schema: z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) } } });
const error = { description: "Error", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } };
const ok = (description: string) => ({ description, content: { "application/json": { schema: { type: "object" } } } });
const tenant = { name: "tenant", in: "path", required: true, schema: { type: "string" } };
const fn = { name: "name", in: "path", required: true, schema: { type: "string" } };

function operation(summary: string, params: object[], responses: Record<string, object>, body?: z.ZodType) {
  return { summary, parameters: params, ...(body ? { requestBody: { required: true, ...json(body) } } : {}), responses: { ...responses, default: error } };
}

export function openApiDocument(): object {
  const deployBody = DeployFunction.extend({ manifest: ManifestSchema.optional() });
  return {
    openapi: "3.1.0",
    info: { title: "Isobox management API", version: "1" },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: {
        Error: { type: "object", required: ["error"], properties: { error: { type: "object", required: ["code", "message"], properties: { code: { type: "string", pattern: "^ERR_" }, message: { type: "string" } } } } },
        Manifest: z.toJSONSchema(ManifestSchema, { io: "input", unrepresentable: "any" }),
      },
    },
    security: [{ bearer: [] }],
    paths: {
      "/api/tenants": {
        get: operation("List tenants (admin)", [], { 200: ok("Tenants") }),
        post: operation("Create a tenant (admin); the API key is shown once", [], { 201: ok("The tenant and its first API key") }, CreateTenant),
      },
      "/api/tenants/{tenant}": {
        get: operation("Get a tenant", [tenant], { 200: ok("The tenant") }),
        patch: operation("Set a tenant's quotas (admin)", [tenant], { 200: ok("The tenant") }, UpdateTenant),
      },
      "/api/tenants/{tenant}/keys": {
        get: operation("List a tenant's API keys (ids and prefixes only)", [tenant], { 200: ok("Keys") }),
        post: operation("Issue an API key; shown once", [tenant], { 201: ok("{id, apiKey}") }),
      },
      "/api/tenants/{tenant}/keys/{id}": {
        delete: operation("Revoke an API key", [tenant, { name: "id", in: "path", required: true, schema: { type: "string" } }], { 200: ok("Revoked") }),
      },
      "/api/tenants/{tenant}/functions": {
        get: operation("List functions", [tenant], { 200: ok("Functions") }),
      },
      "/api/tenants/{tenant}/functions/{name}": {
        put: operation("Deploy a new immutable version", [tenant, fn], { 201: ok("{name, version, url}") }, deployBody),
        get: operation("Get a function with its manifest and versions (?code=1 adds the code)", [tenant, fn], { 200: ok("The function") }),
        delete: operation("Delete a function and all its versions", [tenant, fn], { 200: ok("Deleted") }),
      },
      "/api/tenants/{tenant}/functions/{name}/versions": {
        get: operation("List versions", [tenant, fn], { 200: ok("Versions") }),
      },
      "/api/tenants/{tenant}/functions/{name}/rollback": {
        post: operation("Serve an earlier version", [tenant, fn], { 200: ok("{name, version, url}") }, Rollback),
      },
      "/api/tenants/{tenant}/runs": {
        get: operation("List runs, newest first", [tenant, ...["function", "trigger", "status", "limit", "cursor"].map((name) => ({ name, in: "query", schema: { type: "string" } }))], { 200: ok("{runs, nextCursor}") }),
      },
      "/api/tenants/{tenant}/runs/{id}": {
        get: operation("A run with its logs", [tenant, { name: "id", in: "path", required: true, schema: { type: "string" } }], { 200: ok("The run") }),
      },
    },
  };
}

export function openApiRoutes(): Hono {
  const app = new Hono();
  const document = openApiDocument();
  app.get("/openapi.json", (c) => c.json(document));
  return app;
}

// GET /api/openapi.json: the management API, request bodies generated from the zod schemas
// the routes validate with, so the document cannot drift from the code.
import { Hono } from "hono";
import { z } from "zod";
import { ManifestSchema } from "../functions/manifest.ts";
import { CreateTenant, DeployFunction, EnqueueBody, Rollback, SetSecret, UpdateTenant } from "./schemas.ts";
import type { AppEnv } from "./app-env.ts";
import { InvokeBody } from "./function-invoke.ts";
import { ToolCallBody } from "./tool-calls.ts";
import { SendBody } from "./webhooks.ts";

const json = (schema: z.ZodType) => ({ content: { "application/json": { schema: z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) } } });
const error = { description: "Error", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } };
const ok = (description: string) => ({ description, content: { "application/json": { schema: { type: "object" } } } });
const tenant = { name: "tenant", in: "path", required: true, schema: { type: "string" } };
const fn = { name: "name", in: "path", required: true, schema: { type: "string" } };
const id = { name: "id", in: "path", required: true, schema: { type: "string" } };
const query = (...names: string[]) => names.map((name) => ({ name, in: "query", schema: { type: "string" } }));

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
        put: operation("Deploy a new immutable version: a bundled module as code, or source (ts or js) the server compiles", [tenant, fn], { 201: ok("{name, version, url}") }, deployBody),
        get: operation("Get a function with its handlers, manifest and versions (?code=1 adds the module, ?source=1 the source the console's editor shows)", [tenant, fn, ...query("code", "source")], { 200: ok("The function") }),
        delete: operation("Delete a function and all its versions", [tenant, fn], { 200: ok("Deleted") }),
      },
      "/api/tenants/{tenant}/functions/{name}/invoke": {
        post: operation("Send the function's fetch handler one request with the caller's credentials; always recorded as a run", [tenant, fn], { 200: ok("{status, headers, body | bodyBase64, durationMs, runId}") }, InvokeBody),
      },
      "/api/tenants/{tenant}/functions/{name}/tool-call": {
        post: operation("Call the function's MCP tool as an MCP client would (arguments checked against tool.input; a job-mode tool waited for up to tool.waitMs)", [tenant, fn], { 200: ok("The MCP CallToolResult: content, structuredContent, isError, _meta") }, ToolCallBody),
      },
      "/api/tenants/{tenant}/functions/{name}/versions": {
        get: operation("List versions", [tenant, fn], { 200: ok("Versions") }),
      },
      "/api/tenants/{tenant}/functions/{name}/rollback": {
        post: operation("Serve an earlier version", [tenant, fn], { 200: ok("{name, version, url}") }, Rollback),
      },
      "/api/tenants/{tenant}/secrets": {
        get: operation("List secret names (never values)", [tenant], { 200: ok("{secrets}") }),
      },
      "/api/tenants/{tenant}/secrets/{name}": {
        put: operation("Set a secret (encrypted at rest)", [tenant, fn], { 200: ok("{name, updatedAt}") }, SetSecret),
        delete: operation("Delete a secret", [tenant, fn], { 200: ok("Deleted") }),
      },
      "/api/secrets/rotate-key": {
        post: operation("Re-encrypt every secret under the first master key (admin)", [], { 200: ok("{keyId, reencrypted}") }),
      },
      "/api/tenants/{tenant}/functions/{name}/jobs": {
        post: operation("Start a job; the same key again returns the same job", [tenant, fn], { 202: ok("{id, status, created}") }, EnqueueBody),
      },
      "/api/tenants/{tenant}/jobs": {
        get: operation("List jobs, newest first, with counts by status", [tenant, ...query("function", "status", "limit", "cursor")], { 200: ok("{jobs, nextCursor, counts}") }),
      },
      "/api/tenants/{tenant}/jobs/{id}": {
        get: operation("A job with its steps, result or error", [tenant, id], { 200: ok("The job") }),
      },
      "/api/tenants/{tenant}/jobs/{id}/cancel": {
        post: operation("Cancel a queued or running job", [tenant, id], { 200: ok("The job") }),
      },
      "/api/tenants/{tenant}/jobs/{id}/retry": {
        post: operation("Queue a failed or cancelled job again", [tenant, id], { 202: ok("The job") }),
      },
      "/api/tenants/{tenant}/jobs/notify-secret": {
        get: operation("The secret signing the tenant's job notifications (Standard Webhooks)", [tenant], { 200: ok("{secret}") }),
      },
      "/api/tenants/{tenant}/schedules": {
        get: operation("Schedules with their next fires and last run", [tenant], { 200: ok("{schedules}") }),
      },
      ...Object.fromEntries(["trigger", "pause", "resume"].map((action) => [`/api/tenants/{tenant}/schedules/{id}/${action}`, {
        post: operation(`${action[0].toUpperCase()}${action.slice(1)} a schedule (id: function.name)`, [tenant, id], { [action === "trigger" ? 202 : 200]: ok("The schedule or the fired job") }),
      }])),
      "/api/tenants/{tenant}/webhooks": {
        get: operation("The tenant's webhooks with the URL to give each provider", [tenant], { 200: ok("{webhooks}") }),
      },
      "/api/tenants/{tenant}/webhooks/{function}/{hook}/send": {
        post: operation("Send the hook a test delivery signed as its provider signs, with the stored secret, through the intake's verification", [tenant, { name: "function", in: "path", required: true, schema: { type: "string" } }, { name: "hook", in: "path", required: true, schema: { type: "string" } }], { 202: ok("{eventId, jobId}") }, SendBody),
      },
      "/api/tenants/{tenant}/webhooks/events": {
        get: operation("Webhook deliveries, accepted and rejected, newest first", [tenant, ...query("function", "hook", "status", "limit", "cursor")], { 200: ok("{events, nextCursor}") }),
      },
      "/api/tenants/{tenant}/webhooks/events/{id}": {
        get: operation("A delivery with its headers (and body, when accepted)", [tenant, id], { 200: ok("The event") }),
      },
      "/api/tenants/{tenant}/webhooks/events/{id}/replay": {
        post: operation("Run an accepted delivery again as a new job", [tenant, id], { 202: ok("{eventId, jobId}") }),
      },
      "/api/tenants/{tenant}/runs": {
        get: operation("List runs, newest first", [tenant, ...["function", "trigger", "status", "job", "since", "until", "limit", "cursor"].map((name) => ({ name, in: "query", schema: { type: "string" } }))], { 200: ok("{runs, nextCursor}") }),
      },
      "/api/tenants/{tenant}/logs": {
        get: operation("A function's latest log lines; with follow=1, server-sent events of new lines as they are written", [tenant, ...query("function", "limit", "follow")], { 200: ok("{logs}, or text/event-stream") }),
      },
      "/api/tenants/{tenant}/runs/{id}": {
        get: operation("A run with its logs", [tenant, { name: "id", in: "path", required: true, schema: { type: "string" } }], { 200: ok("The run") }),
      },
    },
  };
}

export function openApiRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const document = openApiDocument();
  app.get("/openapi.json", (c) => c.json(document));
  return app;
}

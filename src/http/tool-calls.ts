// POST /api/tenants/:tenant/functions/:name/tool-call: the function's MCP tool called as a 2026
// client without tasks would call it (arguments checked against tool.input, a job-mode tool waited
// for up to tool.waitMs), answered with the MCP result. The console's Tool panel uses it.
import { Hono } from "hono";
import { z } from "zod";
import { IsoboxError } from "../errors.ts";
import type { SchemaChecks } from "../mcp/json-schema.ts";
import { callOutcome, runToolCall } from "../mcp/tool-call.ts";
import { servedTool } from "../mcp/tools.ts";
import { scopedTenant } from "./auth.ts";
import { readJson } from "./json.ts";
import type { Services } from "./services.ts";
import type { AppEnv } from "./app-env.ts";

export const ToolCallBody = z.strictObject({
  arguments: z.record(z.string(), z.unknown()).default({}),
});

export function toolCallRoutes(services: Services, checks: SchemaChecks): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.post("/:name/tool-call", async (c) => {
    const tenant = scopedTenant(c);
    const name = c.req.param("name");
    const input = await readJson(c, ToolCallBody);
    const served = servedTool(await services.registry.get(tenant, name));
    if (!served) throw new IsoboxError("ERR_NOT_FOUND", `No function ${tenant}/${name} with a tool manifest`);
    const caller = { services, checks, tenant, origin: new URL(c.req.url).origin, era: "modern" as const };
    const answer = await runToolCall(caller, served, input.arguments, { signal: c.req.raw.signal });
    services.metrics.mcpCall(callOutcome(answer));
    if ("task" in answer) throw new IsoboxError("ERR_INTERNAL", "A tool call of the API answered with a task");
    return c.json(answer.result);
  });
  return app;
}

// A tenant's tools: its functions whose serving manifest has `tool`, in name order, read from the
// database on each tools/list so that a deploy, rollback or delete on any node shows at once.
import type { Tool } from "@modelcontextprotocol/server";
import type { Db } from "../db/connect.ts";
import type { ActiveFunction } from "../functions/registry.ts";
import type { Manifest } from "../functions/manifest.ts";
import { listServing } from "../functions/store.ts";

export type ToolManifest = NonNullable<Manifest["tool"]>;

const DEFAULT_INPUT = { type: "object" } as const;

/** The MCP definition of a function's tool. */
export function toolDefinition(name: string, tool: ToolManifest): Tool {
  return {
    name,
    description: tool.description,
    inputSchema: (tool.input ?? DEFAULT_INPUT) as Tool["inputSchema"],
    ...(tool.output ? { outputSchema: tool.output as Tool["outputSchema"] } : {}),
    ...(tool.annotations ? { annotations: tool.annotations } : {}),
    // A job-mode call may be answered with a task (the job) when the client can follow one.
    ...(tool.mode === "job" ? { execution: { taskSupport: "optional" as const } } : {}),
  };
}

export async function listTools(db: Db, tenant: string): Promise<Tool[]> {
  const rows = await listServing(db.orm, tenant);
  return rows.flatMap((fn) => (fn.tool ? [toolDefinition(fn.name, fn.tool)] : []));
}

export interface ServedTool {
  fn: ActiveFunction;
  tool: ToolManifest;
}

/** The function behind a tool, with its tool manifest; undefined when there is no such tool. */
export function servedTool(fn: ActiveFunction | undefined): ServedTool | undefined {
  return fn?.manifest.tool ? { fn, tool: fn.manifest.tool } : undefined;
}

// What a tools/call answers (README, "MCP"): a JSON value as structuredContent and as text, a
// string as text, a failure as isError with its ERR_ code; the run, trace and job in _meta.
import type { CallToolResult } from "@modelcontextprotocol/server";
import type { ErrorCode } from "../errors.ts";
import type { Check } from "./json-schema.ts";

/** The protocol era of the request: 2026-07-28 (modern), or a 2025 revision (legacy). */
export type Era = "modern" | "legacy";

export interface CallMeta {
  runId?: string;
  traceId?: string;
  jobId?: string;
}

/** Characters of a failure's message kept in the result. */
const MAX_MESSAGE = 4000;

export function metaOf(meta: CallMeta, code?: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (meta.runId) out["isobox/runId"] = meta.runId;
  if (meta.traceId) out["isobox/traceId"] = meta.traceId;
  if (meta.jobId) out["isobox/jobId"] = meta.jobId;
  if (code) out["isobox/code"] = code;
  return out;
}

/** A failed call: the code and message in the text, the code in _meta. */
export function errorResult(code: ErrorCode | string, message: string, meta: CallMeta): CallToolResult {
  return { isError: true, content: [{ type: "text", text: `${code}: ${message.slice(0, MAX_MESSAGE)}` }], _meta: metaOf(meta, code) };
}

/**
 * A tool's value as a result. 2025 clients need structuredContent to be an object: a non-object
 * value goes there as {"value": …}. With an output schema the structured value must match it.
 */
export function valueResult(value: unknown, era: Era, meta: CallMeta, output?: Check): CallToolResult {
  if (typeof value === "string" && !output) return { content: [{ type: "text", text: value }], _meta: metaOf(meta) };
  const text = JSON.stringify(value) ?? "null";
  const isObject = typeof value === "object" && value !== null && !Array.isArray(value);
  const structured = era === "legacy" && !isObject ? { value } : value;
  const problem = output?.(structured);
  if (problem) return errorResult("ERR_INVALID_TOOL_RESULT", `The tool's result does not match its output schema: ${problem}`, meta);
  return { content: [{ type: "text", text }], structuredContent: structured as CallToolResult["structuredContent"], _meta: metaOf(meta) };
}

// One call of a tool, whoever asks (an MCP tools/call, or the API's POST …/tool-call the console
// uses): the arguments checked against the input schema first, then a run of the function, or for
// a job-mode tool its job: a task when the caller can follow one, else a wait for the job.
import type { CallToolResult } from "@modelcontextprotocol/server";
import { IsoboxError } from "../errors.ts";
import type { Services } from "../http/services.ts";
import type { JobRow } from "../jobs/queue.ts";
import { callTool, traceOf } from "./call.ts";
import { payloadJson } from "../jobs/enqueue.ts";
import { DEFAULT_WAIT_MS, enqueueCall, finishedResult, isFinished, pendingResult, waitForJob } from "./job-calls.ts";
import type { SchemaChecks } from "./json-schema.ts";
import { errorResult, type Era } from "./results.ts";
import type { ServedTool } from "./tools.ts";

export interface ToolCaller {
  services: Services;
  checks: SchemaChecks;
  tenant: string;
  /** The node's origin as the caller reached it (status URLs, a fetch handler's request URL). */
  origin: string;
  era: Era;
}

export interface CallOptions {
  traceparent?: string;
  signal: AbortSignal;
  /** A job-mode call answers with the job itself (a task) instead of waiting for it. */
  asTask?: boolean;
  /** Called while a job-mode call waits (progress notifications). */
  onProgress?(job: JobRow): Promise<void>;
}

/** What a call answers: a tool result, or (asTask) the job that is the task. */
export type CallAnswer = { result: CallToolResult } | { task: JobRow };

export async function runToolCall(caller: ToolCaller, served: ServedTool, args: Record<string, unknown>, options: CallOptions): Promise<CallAnswer> {
  // What a job's payload may be, for every mode: JSON of at most 1 MiB, 100 levels deep, storable.
  try {
    payloadJson(args, "arguments");
  } catch (error) {
    if (error instanceof IsoboxError) return { result: errorResult(error.code, error.message, {}) };
    throw error;
  }
  const problem = caller.checks.get(`${served.fn.image.key}#input`, served.tool.input ?? { type: "object" })(args);
  if (problem) return { result: errorResult("ERR_INVALID_ARGUMENTS", `Invalid arguments for ${served.fn.name}: ${problem}`, {}) };
  if (served.tool.mode !== "job") {
    return { result: await callTool(caller.services, caller.checks, served, args, { era: caller.era, traceparent: options.traceparent, origin: caller.origin }) };
  }
  try {
    const job = await enqueueCall(caller.services, served, args, traceOf(options.traceparent).callerTraceId);
    if (options.asTask) return { task: job };
    const ended = await waitForJob(caller.services.db, job, served.tool.waitMs ?? DEFAULT_WAIT_MS, { signal: options.signal, onProgress: options.onProgress });
    if (isFinished(ended)) return { result: await finishedResult(caller.services.db, caller.checks, served, ended, caller.era) };
    return { result: pendingResult(ended, `${caller.origin}/api/tenants/${encodeURIComponent(caller.tenant)}/jobs/${ended.id}`, served) };
  } catch (error) {
    if (error instanceof IsoboxError) return { result: errorResult(error.code, error.message, {}) };
    throw error;
  }
}

/** The outcome /metrics counts a call under. */
export function callOutcome(answer: CallAnswer): string {
  if ("task" in answer) return "task";
  return answer.result.isError ? "error" : answer.result._meta?.["isobox/status"] ? "pending" : "ok";
}

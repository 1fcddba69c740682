// One tenant's MCP server, made per request (createMcpHandler serves each request, in either era,
// from a fresh instance): tools/list, tools/call, and the tasks methods backed by jobs.
import {
  MissingRequiredClientCapabilityError, ProtocolError, ProtocolErrorCode, Server, TRACEPARENT_META_KEY,
  type CallToolResult, type JSONRPCRequest, type Result, type ServerContext,
} from "@modelcontextprotocol/server";
import { z } from "zod";
import { IsoboxError } from "../errors.ts";
import type { Services } from "../http/services.ts";
import { cancelJob, getJob, type JobRow } from "../jobs/queue.ts";
import { NAME_PATTERN } from "../names.ts";
import { callTool, traceOf } from "./call.ts";
import { DEFAULT_WAIT_MS, enqueueCall, finishedResult, isFinished, pendingResult, waitForJob } from "./job-calls.ts";
import type { SchemaChecks } from "./json-schema.ts";
import { errorResult, type Era } from "./results.ts";
import { RELATED_TASK, TASKS_EXTENSION, taskOf, wantsTask } from "./tasks.ts";
import { listTools, servedTool, type ServedTool } from "./tools.ts";

export const SERVER_INFO = { name: "isobox", version: "0.1.0" };

export interface McpRequest {
  services: Services;
  checks: SchemaChecks;
  tenant: string;
  /** The node's origin as the client reached it (status URLs, a fetch handler's request URL). */
  origin: string;
  era: Era;
}

/**
 * The SDK checks every tools/call answer against CallToolResult, which a task handle is not (in
 * either era's schema): a task handle is thrown past that check as a TaskAnswer and answered as is.
 */
class TaskAnswer {
  readonly result: Result;
  constructor(result: Result) {
    this.result = result;
  }
}

class TenantServer extends Server {
  protected override _wrapHandler(method: string, handler: (request: JSONRPCRequest, ctx: ServerContext) => Promise<Result>): (request: JSONRPCRequest, ctx: ServerContext) => Promise<Result> {
    const wrapped = super._wrapHandler(method, handler);
    if (method !== "tools/call") return wrapped;
    return async (request, ctx) => {
      try {
        return await wrapped(request, ctx);
      } catch (error) {
        if (error instanceof TaskAnswer) return error.result;
        throw error;
      }
    };
  }
}

const TaskParams = z.looseObject({ taskId: z.string().max(100) });

export function tenantServer(request: McpRequest): Server {
  const { era } = request;
  const tasks = era === "legacy" ? { tasks: { cancel: {}, requests: { tools: { call: {} } } } } : { extensions: { [TASKS_EXTENSION]: {} } };
  const server = new TenantServer(SERVER_INFO, {
    capabilities: { tools: { listChanged: true }, ...tasks } as ConstructorParameters<typeof Server>[1] extends infer O ? O extends { capabilities?: infer C } ? C : never : never,
    instructions: `The tools of the Isobox tenant ${request.tenant}: each is a function deployed with a tool manifest.`,
  });
  server.setRequestHandler("tools/list", async () => ({ tools: await listTools(request.services.db, request.tenant) }));
  server.setRequestHandler("tools/call", async (call, ctx) => {
    const result = await answerCall(request, call.params as CallParams, ctx);
    request.services.metrics.mcpCall(result instanceof TaskAnswer ? "task" : result.isError ? "error" : result._meta?.["isobox/status"] ? "pending" : "ok");
    if (result instanceof TaskAnswer) throw result;
    return result;
  });
  server.setRequestHandler("tasks/get", { params: TaskParams }, async ({ taskId }, ctx) => {
    requireTasks(era, ctx);
    const job = await taskJob(request, taskId);
    const task = taskOf(job, era, ttlOf(request));
    if (era === "legacy" || !isFinished(job)) return task as Result;
    const served = servedTool(await request.services.registry.get(request.tenant, job.function));
    const result = served ? await finishedResult(request.services.db, request.checks, served, job, era) : errorResult("ERR_NOT_FOUND", `The tool ${job.function} was deleted`, { jobId: job.id });
    return { ...task, result: { ...result, resultType: "complete" } } as Result;
  });
  server.setRequestHandler("tasks/cancel", { params: TaskParams }, async ({ taskId }, ctx) => {
    requireTasks(era, ctx);
    const job = await taskJob(request, taskId);
    const cancelled = await cancelJob(request.services.db, request.tenant, job.id);
    if (cancelled) request.services.notifier.notify(cancelled);
    // The 2026 extension acknowledges a cancel of a finished task too; the 2025 tasks refuse it.
    if (era === "modern") return {} as Result;
    if (!cancelled) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Task ${taskId} is ${job.status} and cannot be cancelled`);
    return taskOf(cancelled, era, ttlOf(request)) as Result;
  });
  if (era === "modern") {
    // A job never waits for input, so there is nothing to update.
    server.setRequestHandler("tasks/update", { params: TaskParams }, async ({ taskId }, ctx) => {
      requireTasks(era, ctx);
      const job = await taskJob(request, taskId);
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Task ${job.id} is not waiting for input`);
    });
  }
  // tasks/result is the 2025 vocabulary's: it waits for the task to end (the 2026 extension has none).
  if (era === "legacy") {
    server.setRequestHandler("tasks/result", { params: TaskParams }, async ({ taskId }, ctx) => {
      const job = await waitForJob(request.services.db, await taskJob(request, taskId), Number.POSITIVE_INFINITY, { signal: ctx.mcpReq.signal });
      const served = servedTool(await request.services.registry.get(request.tenant, job.function));
      const result = served ? await finishedResult(request.services.db, request.checks, served, job, era) : errorResult("ERR_NOT_FOUND", `The tool ${job.function} was deleted`, { jobId: job.id });
      return { ...result, _meta: { ...result._meta, [RELATED_TASK]: { taskId } } } as Result;
    });
  }
  return server;
}

type CallParams = { name: string; arguments?: Record<string, unknown>; task?: unknown; _meta?: Record<string, unknown> };

async function answerCall(request: McpRequest, params: CallParams, ctx: ServerContext): Promise<CallToolResult | TaskAnswer> {
  const { services, tenant, era } = request;
  const served = NAME_PATTERN.test(params.name) ? servedTool(await services.registry.get(tenant, params.name)) : undefined;
  if (!served) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown tool: ${params.name.slice(0, 100)}`);
  const args = params.arguments ?? {};
  const problem = request.checks.get(`${served.fn.image.key}#input`, served.tool.input ?? { type: "object" })(args);
  if (problem) return errorResult("ERR_INVALID_ARGUMENTS", `Invalid arguments for ${params.name}: ${problem}`, {});
  const traceparent = typeof ctx.mcpReq._meta?.[TRACEPARENT_META_KEY] === "string" ? (ctx.mcpReq._meta[TRACEPARENT_META_KEY] as string) : undefined;
  if (served.tool.mode !== "job") return callTool(services, request.checks, served, args, { era, traceparent, origin: request.origin });
  try {
    return await jobCall(request, served, args, params, ctx, traceOf(traceparent).callerTraceId);
  } catch (error) {
    if (error instanceof IsoboxError) return errorResult(error.code, error.message, {});
    throw error;
  }
}

async function jobCall(request: McpRequest, served: ServedTool, args: unknown, params: CallParams, ctx: ServerContext, traceId: string | undefined): Promise<CallToolResult | TaskAnswer> {
  const { services, era } = request;
  const job = await enqueueCall(services, served, args, traceId);
  if (wantsTask(era, params as Record<string, unknown>, clientCapabilities(ctx))) {
    const task = taskOf(job, era, ttlOf(request));
    return new TaskAnswer((era === "legacy" ? { task } : { resultType: "task", ...task }) as Result);
  }
  const progressToken = ctx.mcpReq._meta?.progressToken;
  let progress = 0;
  const onProgress = progressToken === undefined ? undefined : async (now: JobRow) => {
    await ctx.mcpReq.notify({ method: "notifications/progress", params: { progressToken, progress: ++progress, message: `job ${now.id} ${now.status}` } });
  };
  const ended = await waitForJob(services.db, job, served.tool.waitMs ?? DEFAULT_WAIT_MS, { signal: ctx.mcpReq.signal, onProgress });
  if (isFinished(ended)) return finishedResult(services.db, request.checks, served, ended, era);
  return pendingResult(ended, `${request.origin}/api/tenants/${encodeURIComponent(request.tenant)}/jobs/${ended.id}`, served);
}

function clientCapabilities(ctx: ServerContext): unknown {
  return ctx.mcpReq.envelope?.["io.modelcontextprotocol/clientCapabilities" as keyof typeof ctx.mcpReq.envelope];
}

/** The 2026 tasks methods are for clients that declare the extension on the request (-32021 otherwise). */
function requireTasks(era: Era, ctx: ServerContext): void {
  if (era === "legacy" || wantsTask(era, {}, clientCapabilities(ctx))) return;
  throw new MissingRequiredClientCapabilityError({ requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } } as never, `The tasks methods need the ${TASKS_EXTENSION} extension in the request's client capabilities`);
}

/** The job of a task: a job of this tenant started by an MCP call. */
async function taskJob(request: McpRequest, taskId: string): Promise<JobRow> {
  const job = await getJob(request.services.db, request.tenant, taskId);
  if (!job || job.trigger !== "mcp") throw new ProtocolError(ProtocolErrorCode.InvalidParams, `No task ${taskId.slice(0, 100)}`);
  return job;
}

/** A finished job is kept for ISOBOX_JOB_RETENTION_HOURS. */
function ttlOf(request: McpRequest): number {
  const hours = request.services.config.jobRetentionHours;
  return Math.round(hours * 3_600_000);
}

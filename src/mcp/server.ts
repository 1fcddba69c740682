// One tenant's MCP server, made per request (createMcpHandler serves each request, in either era,
// from a fresh instance): tools/list, tools/call, and the tasks methods backed by jobs.
import {
  MissingRequiredClientCapabilityError, ProtocolError, ProtocolErrorCode, Server, TRACEPARENT_META_KEY,
  type CallToolResult, type JSONRPCRequest, type Result, type ServerContext,
} from "@modelcontextprotocol/server";
import { z } from "zod";
import { cancelJob, getJob, type JobRow } from "../jobs/queue.ts";
import { NAME_PATTERN } from "../names.ts";
import { finishedResult, isFinished, waitForJob } from "./job-calls.ts";
import { callOutcome, runToolCall, type ToolCaller } from "./tool-call.ts";
import { errorResult, type Era } from "./results.ts";
import { RELATED_TASK, TASKS_EXTENSION, taskOf, wantsTask } from "./tasks.ts";
import { listTools, servedTool } from "./tools.ts";

export const SERVER_INFO = { name: "isobox", version: "0.1.0" };

export type McpRequest = ToolCaller;

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

/**
 * Answers a tools/call's TaskAnswer with its task handle. An error that is not the protocol's is
 * logged and answered as "Internal error": its message (a database error's text, say) is the
 * host's, not the client's.
 */
class TenantServer extends Server {
  protected override _wrapHandler(method: string, handler: (request: JSONRPCRequest, ctx: ServerContext) => Promise<Result>): (request: JSONRPCRequest, ctx: ServerContext) => Promise<Result> {
    const wrapped = super._wrapHandler(method, handler);
    return async (request, ctx) => {
      try {
        return await wrapped(request, ctx);
      } catch (error) {
        if (error instanceof TaskAnswer) return error.result;
        if (error instanceof ProtocolError) throw error;
        console.error(`isobox: mcp ${method}: unexpected error`, error);
        throw new ProtocolError(ProtocolErrorCode.InternalError, "Internal error");
      }
    };
  }
}

const TaskParams = z.looseObject({ taskId: z.string().max(100) });
/** A task's id is its job's, a UUID: anything else names no task (and never reaches SQL). */
const UUID = /^[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}$/;

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
    if (result instanceof TaskAnswer) throw result;
    return result;
  });
  server.setRequestHandler("tasks/get", { params: TaskParams }, async ({ taskId }, ctx) => {
    requireTasks(era, ctx);
    const job = await taskJob(request, taskId);
    const task = taskOf(job, era, ttlOf(request));
    if (era === "legacy" || !isFinished(job)) return task as Result;
    return { ...task, result: { ...(await jobResult(request, job)), resultType: "complete" } } as Result;
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
      const result = await jobResult(request, job);
      return { ...result, _meta: { ...result._meta, [RELATED_TASK]: { taskId } } } as Result;
    });
  }
  return server;
}

type CallParams = { name: string; arguments?: Record<string, unknown>; task?: unknown };

async function answerCall(request: McpRequest, params: CallParams, ctx: ServerContext): Promise<CallToolResult | TaskAnswer> {
  const { services, tenant, era } = request;
  const served = NAME_PATTERN.test(params.name) ? servedTool(await services.registry.get(tenant, params.name)) : undefined;
  if (!served) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown tool: ${params.name.slice(0, 100)}`);
  const meta = ctx.mcpReq._meta;
  const traceparent = typeof meta?.[TRACEPARENT_META_KEY] === "string" ? (meta[TRACEPARENT_META_KEY] as string) : undefined;
  const progressToken = meta?.progressToken;
  let progress = 0;
  const onProgress = progressToken === undefined ? undefined : async (now: JobRow) => {
    await ctx.mcpReq.notify({ method: "notifications/progress", params: { progressToken, progress: ++progress, message: `job ${now.id} ${now.status}` } });
  };
  const asTask = wantsTask(era, params as Record<string, unknown>, clientCapabilities(ctx));
  const answer = await runToolCall(request, served, params.arguments ?? {}, { traceparent, signal: ctx.mcpReq.signal, asTask, onProgress });
  services.metrics.mcpCall(callOutcome(answer));
  if ("result" in answer) return answer.result;
  const task = taskOf(answer.task, era, ttlOf(request));
  return new TaskAnswer((era === "legacy" ? { task } : { resultType: "task", ...task }) as Result);
}

function clientCapabilities(ctx: ServerContext): unknown {
  return ctx.mcpReq.envelope?.["io.modelcontextprotocol/clientCapabilities" as keyof typeof ctx.mcpReq.envelope];
}

/** The 2026 tasks methods are for clients that declare the extension on the request (-32021 otherwise). */
function requireTasks(era: Era, ctx: ServerContext): void {
  if (era === "legacy" || wantsTask(era, {}, clientCapabilities(ctx))) return;
  throw new MissingRequiredClientCapabilityError({ requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } } as never, `The tasks methods need the ${TASKS_EXTENSION} extension in the request's client capabilities`);
}

/** A finished task's result: its job's, as the tool's serving version shapes it. */
async function jobResult(request: McpRequest, job: JobRow): Promise<CallToolResult> {
  const served = servedTool(await request.services.registry.get(request.tenant, job.function));
  if (!served) return errorResult("ERR_NOT_FOUND", `The tool ${job.function} was deleted`, { jobId: job.id });
  return finishedResult(request.services.db, request.checks, served, job, request.era);
}

/** The job of a task: a job of this tenant started by an MCP call. */
async function taskJob(request: McpRequest, taskId: string): Promise<JobRow> {
  const job = UUID.test(taskId) ? await getJob(request.services.db, request.tenant, taskId) : undefined;
  if (!job || job.trigger !== "mcp") throw new ProtocolError(ProtocolErrorCode.InvalidParams, `No task ${JSON.stringify(taskId.slice(0, 100))}`);
  return job;
}

/** A finished job is kept for ISOBOX_JOB_RETENTION_HOURS. */
function ttlOf(request: McpRequest): number {
  const hours = request.services.config.jobRetentionHours;
  return Math.round(hours * 3_600_000);
}

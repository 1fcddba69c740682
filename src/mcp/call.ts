// A tools/call of a call-mode tool: one run with trigger "mcp" of the function's tool handler, or
// else of its fetch handler with POST / and the arguments as JSON. Quotas apply as for /fn.
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { randomUUID } from "node:crypto";
import type { CallToolResult } from "@modelcontextprotocol/server";
import type { WireRequest, WireResponse } from "../../sandbox/protocol.ts";
import { IsoboxError } from "../errors.ts";
import type { Services } from "../http/services.ts";
import { tracer } from "../telemetry/tracing.ts";
import type { SchemaChecks } from "./json-schema.ts";
import { errorResult, valueResult, type CallMeta, type Era } from "./results.ts";
import type { ServedTool } from "./tools.ts";

export interface CallContext {
  era: Era;
  /** The W3C traceparent in the request's _meta: the run continues the caller's trace. */
  traceparent?: string;
  /** The node's origin, for the URL a fetch handler sees. */
  origin: string;
}

const TRACEPARENT = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/;

/** The caller's trace context and the run's trace id: the span's, the caller's, or a new one. */
export function traceOf(traceparent: string | undefined): { parent: ReturnType<typeof context.active>; callerTraceId?: string } {
  const callerTraceId = traceparent ? TRACEPARENT.exec(traceparent)?.[1] : undefined;
  if (!callerTraceId) return { parent: context.active() };
  return { parent: propagation.extract(ROOT_CONTEXT, { traceparent }), callerTraceId };
}

export async function callTool(services: Services, checks: SchemaChecks, served: ServedTool, args: unknown, call: CallContext): Promise<CallToolResult> {
  const { fn, tool } = served;
  const { parent, callerTraceId } = traceOf(call.traceparent);
  const span = tracer.startSpan(`mcp tools/call ${fn.name}`, { kind: SpanKind.SERVER, attributes: { "isobox.tenant": fn.tenant, "isobox.function": fn.name } }, parent);
  const traceId = span.isRecording() ? span.spanContext().traceId : callerTraceId ?? randomUUID().replaceAll("-", "");
  const meta: CallMeta = { traceId };
  const output = tool.output ? checks.get(`${fn.image.key}#output`, tool.output) : undefined;
  try {
    await services.limiter.enter(fn.tenant);
    try {
      return await context.with(trace.setSpan(parent, span), async () => {
        if (fn.handlers.includes("tool")) {
          const { value, runId } = await services.invoker.invoke(fn, "tool", args, "mcp", { traceId });
          return valueResult(value, call.era, { ...meta, runId }, output);
        }
        const { value, runId } = await services.invoker.invoke<WireResponse>(fn, "fetch", jsonRequest(args, call.origin), "mcp", { traceId });
        return responseResult(value, call.era, { ...meta, runId }, output);
      });
    } finally {
      services.limiter.leave(fn.tenant);
    }
  } catch (error) {
    if (!(error instanceof IsoboxError)) throw error;
    span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
    const runId = typeof error.details?.runId === "string" ? error.details.runId : undefined;
    return errorResult(error.code, error.message, { ...meta, runId });
  } finally {
    span.end();
  }
}

function jsonRequest(args: unknown, origin: string): WireRequest {
  const body = new TextEncoder().encode(JSON.stringify(args ?? {}));
  return { method: "POST", url: `${origin}/`, headers: ["content-type", "application/json", "accept", "application/json"], body: body.buffer as ArrayBuffer };
}

/** A fetch handler's answer: a 2xx JSON body is the value, other text is text, any other status an error. */
function responseResult(response: WireResponse, era: Era, meta: CallMeta, output: ReturnType<SchemaChecks["get"]> | undefined): CallToolResult {
  const text = response.body === null ? "" : new TextDecoder().decode(response.body);
  if (response.status < 200 || response.status > 299) {
    return errorResult("ERR_TOOL_STATUS", `The function answered ${response.status}${text ? `: ${text}` : ""}`, meta);
  }
  if (isJson(response.headers)) {
    try {
      return valueResult(JSON.parse(text), era, meta, output);
    } catch {
      return errorResult("ERR_INVALID_TOOL_RESULT", "The function answered with a JSON content-type and a body that is not JSON", meta);
    }
  }
  return valueResult(text, era, meta, output);
}

function isJson(headers: string[]): boolean {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i].toLowerCase() === "content-type") return /^application\/([\w.+-]+\+)?json\b/i.test(headers[i + 1]);
  }
  return false;
}

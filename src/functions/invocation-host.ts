// What the host does for one invocation (sandbox/host/host-work.ts InvocationHost): its log
// lines go to its run and to the followers of its function's logs, its spans to the trace, and
// its fetches through the egress policy with the run's trace context, its secrets pinned.
import { randomUUID } from "node:crypto";
import { SpanKind, SpanStatusCode, type Context as OtelContext } from "@opentelemetry/api";
import type { InvocationHost } from "../../sandbox/host/host-work.ts";
import { RUN_LINE_LIMITS, type LogLevel, type WireRequest } from "../../sandbox/protocol.ts";
import { FetchDenied } from "../capabilities/egress.ts";
import type { Fetcher } from "../capabilities/fetch.ts";
import { pinCheck } from "../capabilities/secret-pins.ts";
import { redact } from "../capabilities/secrets.ts";
import { storableText } from "../db/storable.ts";
import type { LogLine } from "../runs/recorder.ts";
import { logFields } from "../runs/log-fields.ts";
import type { GuestSpans } from "../telemetry/guest-spans.ts";
import type { LiveLogs } from "../telemetry/live-logs.ts";
import { traceparentOf, tracer } from "../telemetry/tracing.ts";
import type { ActiveFunction } from "./registry.ts";

/** The guest sends at most this many lines of an invocation, and one notice when it reaches the cap. */
const MAX_LOG_LINES = RUN_LINE_LIMITS.lines + 1;

export interface RunContext {
  fn: ActiveFunction;
  runId: string;
  traceId: string;
  /** The run's log lines, as they arrive. */
  logs: LogLine[];
  env: Record<string, string>;
  /** The isolate call's span: the parent of the fetches' spans. */
  parent: OtelContext;
  spans?: GuestSpans;
}

export interface HostServices {
  fetcher: Fetcher;
  /** Outbound fetches one invocation may make. */
  maxSubrequests: number;
  liveLogs?: Pick<LiveLogs, "publish">;
}

/** Guest text as it may be stored and shown: the run's secrets replaced, what Postgres cannot hold too. */
export function shownText(text: string, secrets: string[]): string {
  return storableText(redact(text, secrets));
}

export function invocationHost(services: HostServices, run: RunContext): InvocationHost {
  const { fetcher, maxSubrequests, liveLogs } = services;
  const { fn, runId, traceId, logs, env, parent, spans } = run;
  const secrets = Object.values(env);
  const checkHop = pinCheck(fn.pins, env);
  let subrequests = 0;
  const log = (level: LogLevel, message: string, json?: string) => {
    if (logs.length >= MAX_LOG_LINES) return;
    const fields = logFields(json, secrets);
    const line = { time: new Date(), level, message: shownText(message, secrets), ...(fields ? { fields } : {}) };
    logs.push(line);
    liveLogs?.publish(fn.tenant, fn.name, { runId, time: line.time.toISOString(), level, message: line.message, ...(fields ? { fields } : {}) });
  };
  return {
    log,
    trace: spans && ((op) => spans.apply(op)),
    async fetch(request: WireRequest, signal: AbortSignal) {
      const span = tracer.startSpan(`fetch ${request.method}`, { kind: SpanKind.CLIENT, attributes: { "http.request.method": request.method, "url.full": redact(request.url, secrets) } }, parent);
      try {
        if (++subrequests > maxSubrequests) throw new FetchDenied(new URL(request.url).host, `more than ${maxSubrequests} subrequests in one invocation`);
        const response = await fetcher.fetch(fn.egress, withTraceparent(request, traceparentOf(span) ?? randomTraceparent(traceId)), { checkHop, signal });
        span.setAttribute("http.response.status_code", response.status);
        return response;
      } catch (error) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: shownText((error as Error).message, secrets) });
        log("warn", (error as Error).message);
        throw error;
      } finally {
        span.end();
      }
    },
  };
}

/** The run's trace continues downstream (W3C Trace Context), unless the guest set its own. */
function withTraceparent(request: WireRequest, traceparent: string): WireRequest {
  for (let i = 0; i < request.headers.length; i += 2) if (request.headers[i] === "traceparent") return request;
  return { ...request, headers: [...request.headers, "traceparent", traceparent] };
}

/** Without tracing, the run's trace id still goes out, with a fresh span id. */
function randomTraceparent(traceId: string): string {
  return `00-${traceId}-${randomUUID().replaceAll("-", "").slice(0, 16)}-01`;
}

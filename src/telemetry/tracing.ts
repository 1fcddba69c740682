// OpenTelemetry traces. Spans are made through @opentelemetry/api everywhere (no-ops that cost
// next to nothing when tracing is off); the SDK and an OTLP exporter load only when the standard
// OTEL_* settings ask for them (see src/config.ts).
import { context, trace, TraceFlags, type Context, type Span, type SpanContext } from "@opentelemetry/api";
import { randomBytes } from "node:crypto";
import type { Config } from "../config.ts";

export const tracer = trace.getTracer("isobox");

let started: Promise<(() => Promise<void>) | undefined> | undefined;

/** Starts the SDK once per process when configured; resolves to its shutdown (flushes spans). */
export function startTracing(config: Config): Promise<(() => Promise<void>) | undefined> {
  const wanted = config.otelTracesExporter === "otlp" || (config.otelTracesExporter === undefined && (config.otelEndpoint || config.otelTracesEndpoint));
  if (!wanted) return Promise.resolve(undefined);
  return started ??= (async () => {
    const { NodeTracerProvider, BatchSpanProcessor } = await import("@opentelemetry/sdk-trace-node");
    const { resourceFromAttributes } = await import("@opentelemetry/resources");
    // OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as given; OTEL_EXPORTER_OTLP_ENDPOINT gets the signal's path.
    const url = config.otelTracesEndpoint ?? (config.otelEndpoint ? `${config.otelEndpoint.replace(/\/+$/, "")}/v1/traces` : undefined);
    const { OTLPTraceExporter } = config.otelProtocol === "http/json"
      ? await import("@opentelemetry/exporter-trace-otlp-http")
      : await import("@opentelemetry/exporter-trace-otlp-proto");
    const provider = new NodeTracerProvider({
      resource: resourceFromAttributes({ "service.name": config.otelServiceName }),
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter(url ? { url } : {}), { scheduledDelayMillis: 1000 })],
    });
    provider.register();
    return async () => {
      await provider.forceFlush();
    };
  })();
}

/** A context whose parent is the job's trace (its id kept across attempts), so all its runs are one trace. */
export function jobTraceContext(traceId: string): Context {
  const parent: SpanContext = { traceId, spanId: randomBytes(8).toString("hex"), traceFlags: TraceFlags.SAMPLED, isRemote: true };
  return trace.setSpanContext(context.active(), parent);
}

/** A W3C traceparent for `span`, or undefined when it is not a real (sampled, valid) span. */
export function traceparentOf(span: Span): string | undefined {
  const ctx = span.spanContext();
  if (!trace.isSpanContextValid(ctx) || !span.isRecording()) return undefined;
  return `00-${ctx.traceId}-${ctx.spanId}-0${ctx.traceFlags & TraceFlags.SAMPLED}`;
}

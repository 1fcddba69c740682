// The host side of ctx.span and ctx.setAttribute: the guest's spans become OpenTelemetry spans
// under the invocation's span. Ids are the guest's, so a guest can only reach its own spans.
import { SpanStatusCode, trace, type Context, type Span } from "@opentelemetry/api";
import type { AttributeValue, TraceOp } from "../../sandbox/protocol.ts";
import { redact } from "../capabilities/secrets.ts";
import { tracer } from "./tracing.ts";

/** Spans one invocation may open; past it, new ones are dropped (a loop cannot flood the exporter). */
const MAX_SPANS = 500;

export interface GuestSpans {
  apply(op: TraceOp): void;
  /** Ends the spans the guest left open (its invocation is over). */
  endAll(): void;
}

export function guestSpans(parent: Context, hidden: string[]): GuestSpans {
  const root = trace.getSpan(parent);
  const open = new Map<number, Span>();
  let started = 0;
  const value = (v: AttributeValue) => (typeof v === "string" ? redact(v, hidden) : v);
  const spanOf = (id: number) => (id === 0 ? root : open.get(id));
  return {
    apply(op) {
      if (op.op === "attribute") {
        spanOf(op.id)?.setAttribute(op.key, value(op.value));
      } else if (op.op === "start") {
        const under = spanOf(op.parent);
        if (!under || open.has(op.id) || ++started > MAX_SPANS) return;
        const attributes = Object.fromEntries(Object.entries(op.attributes).map(([k, v]) => [k, value(v)]));
        open.set(op.id, tracer.startSpan(op.name, { attributes }, trace.setSpan(parent, under)));
      } else {
        const span = open.get(op.id);
        if (!span) return;
        open.delete(op.id);
        if (op.error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: redact(op.error, hidden) });
        span.end();
      }
    },
    endAll() {
      for (const span of open.values()) span.end();
      open.clear();
    },
  };
}

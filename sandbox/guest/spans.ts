// ctx.span and ctx.setAttribute: guest code adds its own child spans and attributes to the
// invocation's trace. The host makes the OpenTelemetry spans (the guest holds no tracer); with
// tracing off nothing crosses the boundary, so the calls cost a function call each.
import { TRACE_LIMITS, type AttributeValue, type HostBindings, type InvocationInfo, type TraceOp } from "../protocol.ts";
import { admitTraceOp } from "./run-lines.ts";

export interface GuestSpan {
  setAttribute(key: string, value: AttributeValue): GuestSpan;
  /** A child of this span. */
  span<T>(name: string, fn: (span: GuestSpan) => T | Promise<T>, attributes?: Record<string, AttributeValue>): Promise<T>;
}

let send: HostBindings["trace"] = () => {};

export function useTraceBinding(bindings: HostBindings): void {
  send = bindings.trace;
}

function checkAttribute(key: unknown, value: unknown): asserts key is string {
  if (typeof key !== "string" || key.length === 0 || key.length > TRACE_LIMITS.nameChars) {
    throw new TypeError(`A span attribute's key must be a non-empty string of at most ${TRACE_LIMITS.nameChars} characters`);
  }
  if (key.startsWith(TRACE_LIMITS.reservedPrefix)) throw new TypeError(`Span attribute "${key}": keys starting with "${TRACE_LIMITS.reservedPrefix}" are the platform's`);
  if (!(typeof value === "string" || typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value)))) {
    throw new TypeError(`Span attribute "${key}": the value must be a string, a finite number or a boolean`);
  }
  if (typeof value === "string" && value.length > TRACE_LIMITS.valueChars) {
    throw new TypeError(`Span attribute "${key}": a string value may hold at most ${TRACE_LIMITS.valueChars} characters`);
  }
}

function checkAttributes(attributes: unknown): Record<string, AttributeValue> {
  if (attributes === undefined) return {};
  if (typeof attributes !== "object" || attributes === null) throw new TypeError("Span attributes must be an object");
  const checked: Record<string, AttributeValue> = {};
  const entries = Object.entries(attributes);
  if (entries.length > TRACE_LIMITS.attributes) throw new TypeError(`A span may start with at most ${TRACE_LIMITS.attributes} attributes`);
  for (const [key, value] of entries) {
    checkAttribute(key, value);
    checked[key] = value as AttributeValue;
  }
  return checked;
}

export function createTracing(info: InvocationInfo): Pick<GuestSpan, "span"> & { setAttribute(key: string, value: AttributeValue): void } {
  let nextId = 1;
  const emit = (op: TraceOp) => {
    if (!info.tracing || !admitTraceOp(info.runId)) return;
    try {
      send(info.runId, op);
    } catch {
      // Tracing never fails user code.
    }
  };
  const handle = (id: number): GuestSpan => {
    const span: GuestSpan = {
      setAttribute(key, value) {
        checkAttribute(key, value);
        emit({ op: "attribute", id, key, value });
        return span;
      },
      span: (name, fn, attributes) => start(id, name, fn, attributes),
    };
    return span;
  };
  async function start<T>(parent: number, name: unknown, fn: unknown, attributes: unknown): Promise<T> {
    if (typeof name !== "string" || name.length === 0 || name.length > TRACE_LIMITS.nameChars) throw new TypeError(`A span name must be a non-empty string of at most ${TRACE_LIMITS.nameChars} characters`);
    if (typeof fn !== "function") throw new TypeError(`Span "${name}": the second argument must be a function`);
    const id = nextId++;
    emit({ op: "start", id, parent, name, attributes: checkAttributes(attributes) });
    try {
      const value = await (fn as (span: GuestSpan) => T | Promise<T>)(handle(id));
      emit({ op: "end", id });
      return value;
    } catch (error) {
      emit({ op: "end", id, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
      throw error;
    }
  }
  const root = handle(0);
  return {
    span: root.span,
    setAttribute(key, value) {
      root.setAttribute(key, value);
    },
  };
}

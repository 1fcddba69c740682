// A job attempt's steps in its run record: the guest's step calls pass through here on their way
// to the job store (guest-services.ts), and each becomes a line of the run (name, status, where
// it started within the run, how long it took, the start of its result) and a span.
import { SpanStatusCode, type Context as OtelContext } from "@opentelemetry/api";
import type { ServiceHandler } from "./guest-services.ts";
import type { StepLine } from "../runs/recorder.ts";
import { tracer } from "../telemetry/tracing.ts";

const MAX_STEP_LINES = 1000;
const PREVIEW_CHARS = 200;

/**
 * `service`, noting each step in `steps`; `started` is the run's start (performance.now() time),
 * `shown` makes guest text storable with the run's secrets redacted.
 */
export function recordingSteps(service: ServiceHandler, steps: StepLine[], started: number, shown: (text: string) => string, parent: OtelContext): ServiceHandler {
  const begun = new Map<string, number>();
  const origin = Date.now() - (performance.now() - started);
  const output = (json: string | null | undefined): Pick<StepLine, "outputBytes" | "preview"> =>
    typeof json === "string" ? { outputBytes: Buffer.byteLength(json), preview: shown(json.slice(0, PREVIEW_CHARS)) } : {};
  const push = (step: StepLine) => {
    if (steps.length < MAX_STEP_LINES) steps.push(step);
    // Each step is a span too, placed where it ran within the invocation.
    const span = tracer.startSpan(`step ${step.name}`, { startTime: origin + step.offsetMs, attributes: { "isobox.step.status": step.status, ...(step.outputBytes === undefined ? {} : { "isobox.step.output_bytes": step.outputBytes }) } }, parent);
    if (step.status === "failed") span.setStatus({ code: SpanStatusCode.ERROR, message: step.error?.message });
    span.end(origin + step.offsetMs + (step.status === "sleeping" ? 0 : step.durationMs));
  };
  return async (op, arg) => {
    const now = performance.now() - started;
    if (op === "stepSleep") {
      const sleep = arg as { name?: unknown; ms?: unknown };
      if (typeof sleep.name === "string" && typeof sleep.ms === "number") push({ name: shown(sleep.name), status: "sleeping", offsetMs: now, durationMs: sleep.ms });
    }
    const result = await service(op, arg);
    if (op === "stepBegin" && typeof arg === "string") {
      const stored = result as { done: boolean; value?: string | null };
      if (stored.done) push({ name: arg, status: "replayed", offsetMs: now, durationMs: 0, ...output(stored.value) });
      else begun.set(arg, now);
    } else if (op === "stepEnd") {
      const end = arg as { name: string; ok: boolean; value?: string; error?: { name: string; message: string } };
      const from = begun.get(end.name) ?? now;
      push({
        name: end.name, status: end.ok ? "succeeded" : "failed", offsetMs: from, durationMs: now - from,
        ...(end.ok ? output(end.value) : { error: { name: shown(String(end.error?.name ?? "Error")), message: shown(String(end.error?.message ?? "")).slice(0, 1000) } }),
      });
    }
    return result;
  };
}

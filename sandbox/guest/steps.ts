// ctx.step: durable steps. In a job attempt the host stores each step's outcome, and a later
// attempt gets the stored result back instead of running the step again. Outside a job (an HTTP
// invocation) there is nothing to resume, so a step simply runs.
import type { InvocationInfo } from "../protocol.ts";
import { hostCall } from "./host-call.ts";

/** Largest step result, as JSON text (checked on the host as well). */
export const MAX_STEP_RESULT_CHARS = 1024 * 1024;
const MAX_SLEEP_MS = 365 * 24 * 3600 * 1000;

function checkName(name: unknown, seen: Set<string>): string {
  if (typeof name !== "string" || name.length === 0 || name.length > 200) {
    throw new TypeError("A step name must be a non-empty string of at most 200 characters");
  }
  if (seen.has(name)) {
    throw new Error(`Step "${name}" ran twice in one attempt: give each step its own name (e.g. "fetch-\${i}")`);
  }
  seen.add(name);
  return name;
}

/** The result as it will read on a replay: JSON, so a first run and a replay agree. */
function toJson(name: string, value: unknown): string | null {
  if (value === undefined) return null;
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new TypeError(`Step "${name}" returned a value that is not JSON-serialisable: ${(error as Error).message}`);
  }
  if (json === undefined) return null;
  if (json.length > MAX_STEP_RESULT_CHARS) {
    throw new RangeError(`Step "${name}" returned ${json.length} characters of JSON; a step result may hold at most ${MAX_STEP_RESULT_CHARS}`);
  }
  return json;
}

export function createSteps(info: InvocationInfo) {
  const seen = new Set<string>();
  const durable = info.job !== undefined;
  return Object.freeze({
    async run<T>(name: string, fn: () => T | Promise<T>): Promise<unknown> {
      checkName(name, seen);
      if (typeof fn !== "function") throw new TypeError(`Step "${name}": the second argument must be a function`);
      if (!durable) return await fn();
      const stored = await hostCall("stepBegin", name);
      if (stored.done) return stored.value === null ? undefined : JSON.parse(stored.value);
      const startedAt = Date.now();
      let json: string | null;
      try {
        json = toJson(name, await fn());
      } catch (error) {
        const { name: errorName, message } = error instanceof Error ? error : { name: "Error", message: String(error) };
        await hostCall("stepEnd", { name, ok: false, error: { name: String(errorName), message: String(message) }, startedAt, durationMs: Date.now() - startedAt }).catch(() => {});
        throw error;
      }
      await hostCall("stepEnd", { name, ok: true, value: json ?? undefined, startedAt, durationMs: Date.now() - startedAt });
      return json === null ? undefined : JSON.parse(json);
    },

    async sleep(name: string, ms: number): Promise<void> {
      checkName(name, seen);
      if (typeof ms !== "number" || !(ms >= 0) || ms > MAX_SLEEP_MS) throw new RangeError(`Step "${name}": sleep takes 0 to ${MAX_SLEEP_MS} milliseconds`);
      if (!durable) throw new Error("ctx.step.sleep works only in a job: enqueue one with ctx.enqueue(payload)");
      const stored = await hostCall("stepBegin", name);
      if (stored.done) return;
      // The host ends this attempt here and queues the job again for when the sleep is over.
      await hostCall("stepSleep", { name, ms });
    },
  });
}

// What the guest's ctx.enqueue, ctx.jobs.get and ctx.step calls do on the host. Everything the
// guest sends is its own data: checked here before it reaches SQL, and refused as a TypeError the
// guest can read.
import type { ServiceCallName, StepEnd } from "../../sandbox/protocol.ts";
import type { Db } from "../db/connect.ts";
import type { ActiveFunction } from "../functions/registry.ts";
import { enqueue, EnqueueOptionsSchema, MAX_PAYLOAD_BYTES } from "./enqueue.ts";
import { getJob, getSteps, saveStep, type JobRow, type StepRow } from "./queue.ts";
import { jobView } from "./view.ts";
import { isStorableJsonText, isStorableText, jsonTextDepth, MAX_JSON_DEPTH, storableJsonText, storableText } from "../db/storable.ts";

/** Largest step result, as JSON text (the guest checks the same bound first). */
export const MAX_STEP_RESULT_CHARS = 1024 * 1024;
const MAX_STEP_NAME = 200;

/** The attempt a job invocation belongs to, and how it reports a step.sleep. */
export interface AttemptContext {
  job: JobRow;
  worker: string;
  /** Ends the attempt: the job waits `delayMs` and resumes without repeating finished steps. */
  sleep(delayMs: number): void;
}

export type ServiceHandler = (op: ServiceCallName, arg: unknown) => Promise<unknown>;

function fail(message: string): never {
  throw new TypeError(message);
}

function stepName(value: unknown): string {
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_STEP_NAME) fail(`A step name must be a non-empty string of at most ${MAX_STEP_NAME} characters`);
  if (!isStorableText(value)) fail("A step name must not hold a NUL character or a lone surrogate");
  return value;
}

/** JSON text the guest sends to be stored (a payload, a step's result), bounded, or a TypeError naming `what`. */
function guestJson(text: string, what: string): string {
  if (text.length > MAX_PAYLOAD_BYTES || Buffer.byteLength(text) > MAX_PAYLOAD_BYTES) fail(`${what} is larger than ${MAX_PAYLOAD_BYTES} bytes of JSON`);
  if (jsonTextDepth(text) > MAX_JSON_DEPTH) fail(`${what} nests deeper than ${MAX_JSON_DEPTH} levels`);
  try {
    JSON.parse(text);
  } catch {
    fail(`${what} is not JSON`);
  }
  return text;
}

export function guestServices(db: Db, fn: ActiveFunction, traceId: string, attempt?: AttemptContext): ServiceHandler {
  const begun = new Set<string>();
  let stored: Promise<Map<string, StepRow>> | undefined;
  const storedSteps = () => stored ??= getSteps(db, attempt!.job.id).then((rows) => new Map(rows.map((row) => [row.name, row])));

  const services: Record<ServiceCallName, (arg: unknown) => Promise<unknown>> = {
    async enqueue(arg) {
      const { payload, options } = (arg ?? {}) as { payload?: unknown; options?: unknown };
      if (typeof payload !== "string") fail("ctx.enqueue: the payload must be JSON-serialisable");
      guestJson(payload, "ctx.enqueue: the payload");
      // A payload is the guest's input to a job, refused as the API refuses it (a step's result is made storable).
      if (!isStorableJsonText(payload)) fail("ctx.enqueue: the payload holds a NUL character or a lone surrogate, which cannot be stored");
      const parsed = EnqueueOptionsSchema.omit({ notify: true }).safeParse(Object.fromEntries(Object.entries(options ?? {}).filter(([, v]) => v !== undefined)));
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        fail(`ctx.enqueue: options.${issue.path.join(".") || (issue as { keys?: string[] }).keys?.[0]}: ${issue.code === "unrecognized_keys" ? "unknown option" : issue.message}`);
      }
      const { id, status } = await enqueue(db, fn, payload, parsed.data, { traceId });
      return { id, status };
    },

    async getJob(arg) {
      if (typeof arg !== "string" || arg.length > 100 || !isStorableText(arg)) fail("ctx.jobs.get: the id must be a job id string");
      const job = await getJob(db, fn.tenant, arg);
      // A function sees its own jobs only.
      if (!job || job.function !== fn.name) return null;
      return jobView(job, await getSteps(db, job.id));
    },

    async stepBegin(arg) {
      if (!attempt) fail("Steps are durable only in jobs");
      const name = stepName(arg);
      if (begun.has(name)) fail(`Step "${name}" ran twice in one attempt: give each step its own name`);
      begun.add(name);
      const step = (await storedSteps()).get(name);
      if (step?.status !== "succeeded") return { done: false };
      return { done: true, value: step.result === null || step.result === undefined ? null : JSON.stringify(step.result) };
    },

    async stepEnd(arg) {
      if (!attempt) fail("Steps are durable only in jobs");
      const end = (arg ?? {}) as Partial<StepEnd>;
      const name = stepName(end.name);
      if (!begun.has(name)) fail(`Step "${name}" ended without beginning`);
      if (end.value !== undefined && (typeof end.value !== "string" || end.value.length > MAX_STEP_RESULT_CHARS)) {
        fail(`Step "${name}": a step result may hold at most ${MAX_STEP_RESULT_CHARS} characters of JSON`);
      }
      // Stored as the job's result is: a NUL or lone surrogate in it becomes U+FFFD.
      const value = end.value === undefined ? undefined : storableJsonText(guestJson(end.value, `Step "${name}": its result`));
      const error = end.ok === true ? null : {
        name: storableText(typeof end.error?.name === "string" ? end.error.name.slice(0, 100) : "Error"),
        message: storableText(typeof end.error?.message === "string" ? end.error.message.slice(0, 4000) : ""),
      };
      const startedAt = typeof end.startedAt === "number" && Number.isFinite(end.startedAt) ? new Date(end.startedAt) : new Date();
      const durationMs = typeof end.durationMs === "number" && Number.isFinite(end.durationMs) && end.durationMs >= 0 ? end.durationMs : 0;
      const saved = await saveStep(db, attempt.worker, {
        jobId: attempt.job.id, name, kind: "run", status: error ? "failed" : "succeeded", result: error ? null : value ?? null,
        error, attempt: attempt.job.attempts, startedAt, durationMs,
      });
      if (!saved) fail(`Step "${name}": this attempt no longer holds the job (it was cancelled or its lease expired)`);
      return null;
    },

    async stepSleep(arg) {
      if (!attempt) fail("ctx.step.sleep works only in jobs");
      const { name: raw, ms } = (arg ?? {}) as { name?: unknown; ms?: unknown };
      const name = stepName(raw);
      if (!begun.has(name)) fail(`Step "${name}" slept without beginning`);
      if (typeof ms !== "number" || !(ms >= 0)) fail(`Step "${name}": sleep takes a number of milliseconds`);
      await saveStep(db, attempt.worker, {
        jobId: attempt.job.id, name, kind: "sleep", status: "succeeded", result: null, error: null,
        attempt: attempt.job.attempts, startedAt: new Date(), durationMs: ms,
      });
      attempt.sleep(ms);
      // The attempt ends now; this call is never answered.
      return new Promise(() => {});
    },
  };
  // A guest sees its own mistakes (TypeErrors) and a plain word for the host's failures, never
  // the host's SQL or driver messages.
  return (op, arg) => services[op](arg).catch((error: unknown) => {
    if (error instanceof TypeError) throw error;
    throw new Error(`ctx.${OP_NAMES[op]}: the job store is unavailable right now; try again (in a job: the attempt is retried)`);
  });
}

const OP_NAMES: Record<ServiceCallName, string> = {
  enqueue: "enqueue",
  getJob: "jobs.get",
  stepBegin: "step.run",
  stepEnd: "step.run",
  stepSleep: "step.sleep",
};

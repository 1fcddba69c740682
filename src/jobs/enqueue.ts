// Starting a job: the one path for the API, ctx.enqueue and (later) cron and webhooks. Checks the
// input, applies the function's manifest defaults, and inserts the job.
import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { Db } from "../db/connect.ts";
import { IsoboxError } from "../errors.ts";
import type { ActiveFunction } from "../functions/registry.ts";
import { enqueueJob, type JobRow } from "./queue.ts";
import { isStorableText, jsonProblem } from "../db/storable.ts";
import type { EnqueueOptions as GuestEnqueueOptions, JobTrigger } from "../../sandbox/protocol.ts";

/** Largest payload, as JSON text. */
export const MAX_PAYLOAD_BYTES = 1024 * 1024;
export const DEFAULT_MAX_ATTEMPTS = 5;
const YEAR_MS = 365 * 24 * 3600 * 1000;

export const EnqueueOptionsSchema = z.strictObject({
  // cron: and webhook: keys belong to schedules' and deliveries' jobs.
  key: z.string().min(1).max(256).refine((key) => !/^(cron|webhook):/.test(key), "keys starting with cron: or webhook: are reserved")
    .refine(isStorableText, "holds a NUL character or a lone surrogate, which cannot be stored").optional(),
  delayMs: z.number().int().min(0).max(YEAR_MS).optional(),
  maxAttempts: z.number().int().min(1).max(100).optional(),
  priority: z.number().int().min(-1000).max(1000).optional(),
  notify: z.url({ protocol: /^https?$/ }).max(2048).optional(),
}) satisfies z.ZodType<EnqueueOptions>;

export const EnqueueBody = EnqueueOptionsSchema.extend({ payload: z.unknown().optional() });

/** ctx.enqueue's options (sandbox/protocol.ts) and, from the API, a notify URL. */
export type EnqueueOptions = GuestEnqueueOptions & { notify?: string };

export interface Enqueued {
  id: string;
  status: JobRow["status"];
  /** False when a job with the same key existed: that job is returned and nothing new starts. */
  created: boolean;
}

/** JSON text of a payload, or a 4xx naming the field. */
export function payloadJson(payload: unknown, field = "payload"): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(payload === undefined ? null : payload);
  } catch (error) {
    throw new IsoboxError("ERR_BAD_REQUEST", `${field}: not JSON-serialisable (${(error as Error).message})`, { details: { field } });
  }
  if (json === undefined) throw new IsoboxError("ERR_BAD_REQUEST", `${field}: not a JSON value`, { details: { field } });
  const problem = jsonProblem(payload);
  if (problem) throw new IsoboxError("ERR_BAD_REQUEST", `${field}${problem.path}: ${problem.problem}`, { details: { field: `${field}${problem.path}` } });
  if (Buffer.byteLength(json) > MAX_PAYLOAD_BYTES) {
    throw new IsoboxError("ERR_BODY_TOO_LARGE", `${field}: larger than ${MAX_PAYLOAD_BYTES} bytes of JSON`, { details: { field } });
  }
  return json;
}

export async function enqueue(db: Db, fn: ActiveFunction, payload: string, options: EnqueueOptions, extra: { trigger?: JobTrigger; traceId?: string } = {}): Promise<Enqueued> {
  return enqueueJob(db, {
    id: randomUUID(),
    tenant: fn.tenant,
    function: fn.name,
    trigger: extra.trigger,
    payload,
    maxAttempts: options.maxAttempts ?? fn.manifest.jobs?.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    delayMs: options.delayMs ?? 0,
    priority: options.priority ?? 0,
    key: options.key,
    concurrency: fn.manifest.jobs?.concurrency,
    notify: options.notify,
    traceId: extra.traceId ?? randomUUID().replaceAll("-", ""),
  });
}

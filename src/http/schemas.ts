// Request bodies of the management API; also the source of the OpenAPI document.
import { z } from "zod";
import { JOB_STATUSES } from "../../sandbox/protocol.ts";
import { RUN_STATUSES, RUN_TRIGGERS } from "../../schema/tables.ts";

export const Quotas = z.strictObject({
  functions: z.number().int().min(0).max(1_000_000).optional(),
  memoryMb: z.number().int().min(0).max(1_000_000).optional(),
  concurrency: z.number().int().min(0).max(1_000_000).optional(),
  requestsPerSecond: z.number().min(0).max(1_000_000).optional(),
  cpuMsPerMinute: z.number().int().min(0).max(1_000_000_000).optional(),
  schedules: z.number().int().min(0).max(1_000_000).optional(),
});

export const CreateTenant = z.strictObject({
  name: z.string(),
  quotas: Quotas.optional(),
});

export const UpdateTenant = z.strictObject({ quotas: Quotas });

/** A bundled module as `code` (what `isobox deploy` sends), or `source` the server compiles (the console). */
export const DeployFunction = z.strictObject({
  code: z.string().min(1).optional(),
  source: z.string().min(1).optional(),
  language: z.enum(["ts", "js"]).optional(),
  manifest: z.unknown().optional(),
  sourceMap: z.string().optional(),
});

export const SetSecret = z.strictObject({ value: z.string() });

/** Versions are Postgres integers. */
export const Rollback = z.strictObject({ version: z.number().int().min(1).max(2 ** 31 - 1) });

export const RunsQuery = z.strictObject({
  function: z.string().optional(),
  trigger: z.enum(RUN_TRIGGERS).optional(),
  status: z.enum(RUN_STATUSES).optional(),
  /** A job's id: its attempts' runs. */
  job: z.string().max(100).optional(),
  /** ISO 8601 times: runs started at or after `since`, before `until`. */
  since: z.iso.datetime({ offset: true }).transform((text) => new Date(text)).optional(),
  until: z.iso.datetime({ offset: true }).transform((text) => new Date(text)).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().optional(),
});

export { EnqueueBody } from "../jobs/enqueue.ts";

export const JobsQuery = z.strictObject({
  function: z.string().optional(),
  status: z.enum(JOB_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().optional(),
});

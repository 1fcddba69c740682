// Job-mode tools (`tool.mode: "job"`): a call enqueues a job of the function (trigger "mcp"); the
// job is the MCP task (durable across nodes and restarts, its id the task's id). A client that
// cannot follow a task gets the result if the job ends within `tool.waitMs`, else the job's id.
import { setTimeout as sleep } from "node:timers/promises";
import type { CallToolResult } from "@modelcontextprotocol/server";
import type { Db } from "../db/connect.ts";
import { IsoboxError } from "../errors.ts";
import type { Services } from "../http/services.ts";
import { enqueue } from "../jobs/enqueue.ts";
import { getJob, type JobRow } from "../jobs/queue.ts";
import { listRuns } from "../runs/store.ts";
import type { SchemaChecks } from "./json-schema.ts";
import { errorResult, metaOf, valueResult, type CallMeta, type Era } from "./results.ts";
import type { ServedTool } from "./tools.ts";

export const DEFAULT_WAIT_MS = 25_000;
/** How often a waiting call or a task's poller reads the job: quickly at first, then every 500 ms. */
const POLL_MS = [20, 50, 100, 200, 500] as const;
/** How long the run of a finished job's attempt is looked for (runs are written in batches). */
const RUN_LOOKUP_MS = 1_000;

const FINISHED = new Set(["succeeded", "failed", "cancelled"]);

export function isFinished(job: JobRow): boolean {
  return FINISHED.has(job.status);
}

/** Enqueues the call's job (quotas apply to the call as to a request); its arguments were checked by runToolCall. */
export async function enqueueCall(services: Services, served: ServedTool, args: unknown, traceId: string | undefined): Promise<JobRow> {
  const { fn } = served;
  const payload = JSON.stringify(args ?? {});
  await services.limiter.enter(fn.tenant);
  try {
    const { id } = await enqueue(services.db, fn, payload, {}, { trigger: "mcp", ...(traceId ? { traceId } : {}) });
    const job = await getJob(services.db, fn.tenant, id);
    if (!job) throw new IsoboxError("ERR_INTERNAL", `The job ${id} of the call was not found after its insert`);
    return job;
  } finally {
    services.limiter.leave(fn.tenant);
  }
}

export interface Waiting {
  signal: AbortSignal;
  /** Called when the job's status changes, and every PROGRESS_EVERY_MS while it does not (progress notifications). */
  onProgress?(job: JobRow): Promise<void>;
}

const PROGRESS_EVERY_MS = 1_000;

/** The job once it has finished, or as it is when `waitMs` ran out (or the caller went away). */
export async function waitForJob(db: Db, job: JobRow, waitMs: number, waiting: Waiting): Promise<JobRow> {
  const deadline = Date.now() + waitMs;
  let current = job;
  let told = Date.now();
  for (let i = 0; !isFinished(current) && Date.now() < deadline && !waiting.signal.aborted; i++) {
    // Aborted (the caller went away): the loop ends at its check.
    await sleep(Math.max(0, Math.min(POLL_MS[Math.min(i, POLL_MS.length - 1)], deadline - Date.now())), undefined, { signal: waiting.signal }).catch(() => {});
    const read = await getJob(db, job.tenant, job.id);
    if (!read) break;
    const changed = read.status !== current.status || read.attempts !== current.attempts;
    current = read;
    if (waiting.onProgress && (changed || Date.now() - told >= PROGRESS_EVERY_MS)) {
      told = Date.now();
      await waiting.onProgress(read);
    }
  }
  return current;
}

/** A finished job as the call's result: its value, or its error; the attempt's run in _meta. */
export async function finishedResult(db: Db, checks: SchemaChecks, served: ServedTool, job: JobRow, era: Era): Promise<CallToolResult> {
  const meta: CallMeta = { jobId: job.id, traceId: job.traceId, runId: job.attempts > 0 ? await attemptRun(db, job) : undefined };
  if (job.status === "succeeded") {
    const output = served.tool.output ? checks.get(`${served.fn.image.key}#output`, served.tool.output) : undefined;
    return valueResult(job.result, era, meta, output);
  }
  if (job.status === "cancelled") return errorResult("ERR_CANCELLED", "The job was cancelled", meta);
  return errorResult(job.error?.code ?? "ERR_INTERNAL", job.error?.message ?? "The job failed", meta);
}

/** The answer to a client that cannot follow a task, when the job is still going. */
export function pendingResult(job: JobRow, statusUrl: string, served: ServedTool): CallToolResult {
  const status = { jobId: job.id, status: job.status, statusUrl };
  return {
    content: [{ type: "text", text: `The job ${job.id} is ${job.status}; follow it at ${statusUrl} (jobId ${job.id}, status ${job.status}).` }],
    ...(served.tool.output ? {} : { structuredContent: status }),
    _meta: { ...metaOf({ jobId: job.id, traceId: job.traceId }), "isobox/status": job.status },
  };
}

/** The run of the job's latest attempt; runs are recorded in batches, so it may take a moment to appear. */
async function attemptRun(db: Db, job: JobRow): Promise<string | undefined> {
  const until = Date.now() + RUN_LOOKUP_MS;
  for (;;) {
    const { runs } = await listRuns(db.orm, job.tenant, { job: job.id, limit: 1 });
    if (runs[0] || Date.now() >= until) return runs[0]?.id;
    await sleep(50);
  }
}

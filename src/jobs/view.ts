// A job as the API and ctx.jobs.get show it.
import type { JobInfo } from "../../sandbox/protocol.ts";
import type { JobRow, StepRow } from "./queue.ts";

/** Characters of a step's result shown with it. */
const PREVIEW_CHARS = 200;

/** The API's and ctx.jobs.get's job: one shape (sandbox/protocol.ts JobInfo). */
export type JobView = JobInfo;

export function jobView(job: JobRow, steps?: StepRow[], withPayload = false): JobView {
  const finished = job.status === "succeeded" || job.status === "failed" || job.status === "cancelled";
  return {
    id: job.id,
    function: job.function,
    trigger: job.trigger,
    status: job.status,
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
    ...(job.key === null ? {} : { key: job.key }),
    ...(withPayload ? { payload: job.payload } : {}),
    ...(job.status === "succeeded" ? { result: job.result } : {}),
    ...(job.error ? { error: job.error } : {}),
    ...(job.status === "queued" ? { runAt: job.runAt.toISOString() } : {}),
    createdAt: job.createdAt.toISOString(),
    ...(job.startedAt ? { startedAt: job.startedAt.toISOString() } : {}),
    ...(finished && job.finishedAt ? { finishedAt: job.finishedAt.toISOString() } : {}),
    ...(job.version === null ? {} : { version: job.version }),
    ...(steps ? {
      steps: steps.map((step) => ({
        name: step.name,
        kind: step.kind,
        status: step.status,
        durationMs: Math.round(step.durationMs * 100) / 100,
        attempt: step.attempt,
        startedAt: step.startedAt.toISOString(),
        ...(step.result === null || step.result === undefined ? {} : { preview: JSON.stringify(step.result).slice(0, PREVIEW_CHARS) }),
        ...(step.error ? { error: step.error } : {}),
      })),
    } : {}),
  };
}

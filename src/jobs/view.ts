// A job as the API and ctx.jobs.get show it.
import type { JobRow, StepRow } from "./queue.ts";

export interface JobView {
  id: string;
  function: string;
  trigger: JobRow["trigger"];
  status: JobRow["status"];
  attempts: number;
  maxAttempts: number;
  key?: string;
  payload?: unknown;
  result?: unknown;
  error?: JobRow["error"];
  /** When it runs next: the first attempt, a retry after backoff, the end of a step.sleep. */
  runAt?: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  version?: number;
  steps?: { name: string; kind: StepRow["kind"]; status: StepRow["status"]; durationMs: number; attempt: number; startedAt: string; error?: StepRow["error"] }[];
}

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
        ...(step.error ? { error: step.error } : {}),
      })),
    } : {}),
  };
}

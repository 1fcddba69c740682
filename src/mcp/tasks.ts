// MCP tasks backed by jobs, in both eras' vocabularies: the 2025-11-25 tasks (a task-augmented
// tools/call; tasks/get, tasks/result, tasks/cancel) and the 2026-07-28 tasks extension
// (io.modelcontextprotocol/tasks: a `resultType: "task"` answer; tasks/get carries the result).
import type { JobRow } from "../jobs/queue.ts";
import type { Era } from "./results.ts";

export const TASKS_EXTENSION = "io.modelcontextprotocol/tasks";
export const RELATED_TASK = "io.modelcontextprotocol/related-task";
/** How often a client should poll a task. */
export const POLL_INTERVAL_MS = 500;

type TaskStatus = "working" | "completed" | "failed" | "cancelled";

/** A job's status as a task's. A modern tool failure is a completed task whose result has isError. */
function taskStatus(job: JobRow, era: Era): TaskStatus {
  switch (job.status) {
    case "succeeded": return "completed";
    case "failed": return era === "legacy" ? "failed" : "completed";
    case "cancelled": return "cancelled";
    default: return "working";
  }
}

function statusMessage(job: JobRow): string {
  if (job.status === "queued") return job.attempts > 0 ? `queued for attempt ${job.attempts + 1} of ${job.maxAttempts}` : "queued";
  if (job.status === "running") return `running attempt ${job.attempts} of ${job.maxAttempts}`;
  return job.status === "failed" && job.error ? `failed: ${job.error.code}` : job.status;
}

/** The task of a job; `ttlMs` is how long a finished job is kept. */
export function taskOf(job: JobRow, era: Era, ttlMs: number): Record<string, unknown> {
  const updated = job.finishedAt ?? job.startedAt ?? job.createdAt;
  const common = { taskId: job.id, status: taskStatus(job, era), statusMessage: statusMessage(job), createdAt: job.createdAt.toISOString(), lastUpdatedAt: updated.toISOString() };
  return era === "legacy" ? { ...common, ttl: ttlMs, pollInterval: POLL_INTERVAL_MS } : { ...common, ttlMs, pollIntervalMs: POLL_INTERVAL_MS };
}

/** Whether a request asks for a task: a 2025 task-augmented call, or a 2026 client with the extension. */
export function wantsTask(era: Era, params: Record<string, unknown>, clientCapabilities: unknown): boolean {
  if (era === "legacy") return typeof params.task === "object" && params.task !== null;
  const extensions = (clientCapabilities as { extensions?: Record<string, unknown> } | undefined)?.extensions;
  return typeof extensions === "object" && extensions !== null && TASKS_EXTENSION in extensions;
}

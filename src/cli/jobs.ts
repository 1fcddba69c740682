// isobox jobs: list, show, enqueue (optionally waiting for the result), cancel, retry.
import { tenantPath, type ApiClient } from "./client.ts";
import { fullId } from "./ids.ts";
import { CliError, type Output } from "./output.ts";

interface Job {
  id: string;
  function: string;
  status: string;
  attempts: number;
  maxAttempts: number;
  createdAt: string;
  runAt?: string;
  result?: unknown;
  error?: { code: string; message: string; stack?: string };
  steps?: { name: string; kind: string; status: string; durationMs: number; attempt: number }[];
}

function line(job: Job): string {
  const when = job.status === "queued" && job.runAt ? ` runs ${job.runAt}` : "";
  return `${job.id}  ${job.function.padEnd(20)} ${job.status.padEnd(9)} ${job.attempts}/${job.maxAttempts}  ${job.createdAt}${when}`;
}

function details(job: Job): string {
  const lines = [line(job)];
  for (const step of job.steps ?? []) {
    lines.push(`  ${step.status === "succeeded" ? "✓" : "✗"} ${step.name.padEnd(24)} ${step.kind.padEnd(5)} ${String(step.durationMs).padStart(8)} ms  attempt ${step.attempt}`);
  }
  if (job.result !== undefined) lines.push(`result: ${JSON.stringify(job.result)}`);
  if (job.error) lines.push(`error: ${job.error.code}: ${job.error.message}${job.error.stack ? `\n${job.error.stack}` : ""}`);
  return lines.join("\n");
}

export async function listJobs(client: ApiClient, out: Output, options: { tenant?: string; function?: string; status?: string; limit?: string }): Promise<void> {
  const tenant = options.tenant ?? "default";
  const query = new URLSearchParams();
  if (options.function) query.set("function", options.function);
  if (options.status) query.set("status", options.status);
  if (options.limit) query.set("limit", options.limit);
  const page = await client.request<{ jobs: Job[]; counts: Record<string, number>; nextCursor: string | null }>("GET", tenantPath(tenant, `/jobs?${query}`));
  const counts = Object.entries(page.counts).map(([status, n]) => `${n} ${status}`).join(", ");
  out.result(page, [...page.jobs.map(line), page.jobs.length ? "" : `No jobs in ${tenant}`, counts].filter((l, i, all) => l || i === all.length - 1).join("\n"));
}

interface Attempt { id: string; attempt?: number | null; status: string; startedAt: string; durationMs: number; error?: { code: string; message: string } | null }

/** A job with each attempt: its run id, how it ended, and why it failed. */
export async function showJob(client: ApiClient, out: Output, given: string, options: { tenant?: string }): Promise<void> {
  const id = await fullId(client, options.tenant, "jobs", given);
  const job = await client.request<Job>("GET", tenantPath(options.tenant, `/jobs/${encodeURIComponent(id)}`));
  const { runs } = await client.request<{ runs: Attempt[] }>("GET", tenantPath(options.tenant, `/runs?job=${encodeURIComponent(id)}&limit=100`));
  const attempts = runs.reverse().map((run) => `  attempt ${run.attempt ?? "?"}  run ${run.id}  ${run.status.padEnd(9)} ${Math.round(run.durationMs)} ms${run.error ? `  ${run.error.code}: ${run.error.message.split("\n")[0]}` : ""}`);
  out.result({ ...job, attempts: runs }, [details(job), ...(attempts.length ? ["attempts", ...attempts] : [])].join("\n"));
}

export async function enqueueJob(client: ApiClient, out: Output, name: string, options: { tenant?: string; payload?: string; key?: string; delay?: string; wait?: boolean }): Promise<void> {
  const tenant = options.tenant ?? "default";
  let payload: unknown = null;
  if (options.payload !== undefined) {
    try {
      payload = JSON.parse(options.payload);
    } catch (error) {
      throw new CliError(`--payload: not JSON (${(error as Error).message})`, 2);
    }
  }
  const delayMs = options.delay === undefined ? undefined : Number(options.delay);
  if (delayMs !== undefined && !(Number.isInteger(delayMs) && delayMs >= 0)) throw new CliError("--delay: milliseconds, a whole number", 2);
  const started = await client.request<{ id: string; status: string; created: boolean }>("POST", tenantPath(tenant, `/functions/${encodeURIComponent(name)}/jobs`), { payload, key: options.key, delayMs });
  if (!options.wait) {
    out.result(started, `${started.created ? "Enqueued" : "Already enqueued (same key)"}: job ${started.id} (${started.status})`);
    return;
  }
  out.progress(`Job ${started.id} ${started.status}`);
  let last = "";
  for (;;) {
    const job = await client.request<Job>("GET", tenantPath(tenant, `/jobs/${started.id}`));
    const now = `${job.status} attempt ${job.attempts}/${job.maxAttempts}, ${job.steps?.length ?? 0} steps`;
    if (now !== last) out.progress(`  ${now}`);
    last = now;
    if (job.status === "succeeded" || job.status === "failed" || job.status === "cancelled") {
      out.result(job, details(job));
      if (job.status !== "succeeded") process.exitCode = 1;
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export async function changeJob(client: ApiClient, out: Output, action: "cancel" | "retry", given: string, options: { tenant?: string }): Promise<void> {
  const id = await fullId(client, options.tenant, "jobs", given);
  const job = await client.request<Job>("POST", tenantPath(options.tenant ?? "default", `/jobs/${encodeURIComponent(id)}/${action}`), {});
  out.result(job, `${action === "cancel" ? "Cancelled" : "Queued again"}: ${line(job)}`);
}

// isobox runs: what ran and how it ended; isobox runs show <id>: one run as a timeline of its
// steps, then its error (on the author's source lines) and its logs.
import { tenantPath, type ApiClient } from "./client.ts";
import { fullId } from "./ids.ts";
import { showFields, type LogLine, type Output } from "./output.ts";

interface Run {
  id: string;
  function: string;
  trigger: string;
  status: string;
  startedAt: string;
  durationMs: number;
  cpuMs: number;
  httpStatus?: number | null;
  jobId?: string | null;
  attempt?: number | null;
  traceId: string;
  error?: { code: string; message: string; stack?: string } | null;
  steps?: { name: string; status: string; offsetMs: number; durationMs: number; outputBytes?: number | null; preview?: string | null; error?: { name: string; message: string } | null }[];
  logs?: LogLine[];
  memoryBytes?: number | null;
}

const ms = (n: number) => `${n < 10 ? n.toFixed(1) : Math.round(n)} ms`;
const WIDTH = 40;

function line(run: Run): string {
  const attempt = run.attempt ? ` attempt ${run.attempt}` : "";
  const outcome = run.error ? `${run.error.code}: ${run.error.message.split("\n")[0].slice(0, 80)}` : run.httpStatus ? String(run.httpStatus) : "";
  return `${run.id}  ${run.startedAt}  ${run.function.padEnd(20)} ${`${run.trigger}${attempt}`.padEnd(18)} ${run.status.padEnd(9)} ${ms(run.durationMs).padStart(9)}  ${outcome}`;
}

/** One bar per step, placed on the run's duration. */
function timeline(run: Run): string[] {
  const total = Math.max(run.durationMs, 1);
  return (run.steps ?? []).map((step) => {
    const from = Math.min(WIDTH - 1, Math.floor((step.offsetMs / total) * WIDTH));
    const width = Math.max(1, Math.min(WIDTH - from, Math.round((step.durationMs / total) * WIDTH)));
    const bar = `${" ".repeat(from)}${(step.status === "failed" ? "x" : "█").repeat(width)}`.padEnd(WIDTH);
    const mark = { succeeded: "✓", failed: "✗", replayed: "↺", sleeping: "…" }[step.status] ?? "?";
    const detail = step.error ? `${step.error.name}: ${step.error.message}` : step.status === "replayed" ? "stored result, not run again" : step.outputBytes != null ? `${step.outputBytes} B ${step.preview ?? ""}`.slice(0, 60) : "";
    return `  ${mark} ${step.name.padEnd(20)} |${bar}| ${ms(step.durationMs).padStart(9)}  ${detail}`;
  });
}

type RunFilters = Partial<Record<"function" | "trigger" | "status" | "since" | "until" | "limit" | "job", string>>;

export async function listRuns(client: ApiClient, out: Output, options: RunFilters & { tenant?: string }): Promise<void> {
  const query = new URLSearchParams();
  if (options.job) options = { ...options, job: await fullId(client, options.tenant, "jobs", options.job) };
  for (const key of ["function", "trigger", "status", "since", "until", "limit", "job"] as const) if (options[key]) query.set(key, options[key]!);
  const page = await client.request<{ runs: Run[] }>("GET", tenantPath(options.tenant, `/runs?${query}`));
  out.result(page, page.runs.length ? page.runs.map(line).join("\n") : "No runs");
}

export async function showRun(client: ApiClient, out: Output, given: string, options: { tenant?: string }): Promise<void> {
  const id = await fullId(client, options.tenant, "runs", given);
  const run = await client.request<Run>("GET", tenantPath(options.tenant, `/runs/${encodeURIComponent(id)}`));
  const memory = run.memoryBytes != null ? `  heap ${(run.memoryBytes / 1048576).toFixed(1)} MB` : "";
  const lines = [line(run), `trace ${run.traceId}${run.jobId ? `  job ${run.jobId}` : ""}  cpu ${ms(run.cpuMs)}${memory}`];
  if (run.steps?.length) lines.push("", "steps", ...timeline(run));
  if (run.error) lines.push("", `error ${run.error.code}: ${run.error.message}`, ...(run.error.stack ? run.error.stack.split("\n").slice(1).map((frame) => `  ${frame.trim()}`) : []));
  if (run.logs?.length) lines.push("", "logs", ...run.logs.map((log) => `  ${log.time} ${log.level.padEnd(5)} ${log.message}${showFields(log.fields)}`));
  out.result(run, lines.join("\n"));
}

// One job: its attempts with their runs, its steps, its result or error; Cancel, Retry, and Run
// again with an edited payload.
import { useEffect, useState } from "hono/jsx/dom";
import { api, query, seg } from "../api.ts";
import { ErrorNote, Loading, Status, useAction, useLoad } from "../components.tsx";
import { ago, ms, pretty, time } from "../format.ts";
import { go, tenantHref } from "../route.ts";
import type { JobItem } from "./jobs.tsx";
import { RunTable, type RunItem } from "./runs.tsx";

const FOLLOW_MS = 1000;

interface JobDetail extends JobItem {
  payload?: unknown;
  result?: unknown;
  runAt?: string;
  startedAt?: string;
  steps: { name: string; kind: string; status: string; durationMs: number; attempt: number; startedAt: string; preview?: string; error?: { name: string; message: string } }[];
}

export function JobView({ tenant, id }: { tenant: string; id: string }) {
  const path = `/tenants/${seg(tenant)}/jobs/${seg(id)}`;
  const loaded = useLoad(async () => {
    const [job, runs] = await Promise.all([
      api.get<JobDetail>(path),
      api.get<{ runs: RunItem[] }>(`/tenants/${seg(tenant)}/runs${query({ job: id, limit: 100 })}`),
    ]);
    return { job, runs: runs.runs };
  }, [tenant, id]);
  return <Loading loaded={loaded}>{({ job, runs }) => <JobPage tenant={tenant} job={job} runs={runs} path={path} reload={loaded.reload} />}</Loading>;
}

function JobPage({ tenant, job, runs, path, reload }: { tenant: string; job: JobDetail; runs: RunItem[]; path: string; reload: () => Promise<void> }) {
  const action = useAction();
  const [payload, setPayload] = useState(pretty(job.payload ?? null));
  const act = (what: "cancel" | "retry") => action.run(async () => {
    await api.post(`${path}/${what}`);
    await reload();
  });
  const again = () => action.run(async () => {
    let value: unknown;
    try {
      value = JSON.parse(payload);
    } catch (error) {
      throw new Error(`Payload: not valid JSON (${(error as Error).message})`);
    }
    const created = await api.post<{ id: string }>(`/tenants/${seg(tenant)}/functions/${seg(job.function)}/jobs`, { payload: value });
    go(tenantHref(tenant, "jobs", created.id));
  });
  const finished = job.status === "succeeded" || job.status === "failed" || job.status === "cancelled";
  // A job in progress is followed: its page refreshes until it ends.
  useEffect(() => {
    if (finished) return;
    const timer = setTimeout(() => void reload(), FOLLOW_MS);
    return () => clearTimeout(timer);
  }, [job]);
  return (
    <section>
      <h1>Job of {job.function} <Status value={job.status} /></h1>
      <dl class="facts-grid">
        <dt>Job id</dt><dd><code>{job.id}</code></dd>
        <dt>Function</dt><dd><a href={tenantHref(tenant, "functions", job.function)}>{job.function}</a></dd>
        <dt>Trigger</dt><dd>{job.trigger}</dd>
        <dt>Attempts</dt><dd>{job.attempts} of {job.maxAttempts}</dd>
        <dt>Created</dt><dd>{time(job.createdAt)}</dd>
        {job.runAt ? <><dt>Runs at</dt><dd>{time(job.runAt)} ({ago(job.runAt)})</dd></> : null}
        {job.finishedAt ? <><dt>Finished</dt><dd>{time(job.finishedAt)}</dd></> : null}
      </dl>
      <div class="row">
        <button type="button" onClick={() => act("cancel")} disabled={action.busy || finished}>Cancel</button>
        <button type="button" onClick={() => act("retry")} disabled={action.busy || !(job.status === "failed" || job.status === "cancelled")}>Retry</button>
        <button type="button" onClick={() => void reload()}>Refresh</button>
      </div>
      <ErrorNote error={action.error} />
      {job.status === "succeeded" ? <div class="card"><h2>Result</h2><pre aria-label="Result">{pretty(job.result)}</pre></div> : null}
      {job.error ? <div class="card failure"><h2>Error</h2><p role="alert">{job.error.code ?? job.error.name}: {job.error.message}</p></div> : null}
      <div class="card">
        <h2>Attempts</h2>
        {runs.length === 0 ? <p class="muted">No attempt has run yet.</p> : <RunTable tenant={tenant} runs={runs} />}
      </div>
      <div class="card">
        <h2>Steps</h2>
        {job.steps.length === 0 ? <p class="muted">No steps.</p> : (
          <table aria-label="Steps">
            <thead><tr><th>Step</th><th>Status</th><th>Attempt</th><th>Duration</th><th>Output</th></tr></thead>
            <tbody>
              {job.steps.map((step) => (
                <tr>
                  <td>{step.name}{step.kind === "sleep" ? <span class="muted"> (sleep)</span> : null}</td>
                  <td><Status value={step.status} /></td>
                  <td>{step.attempt}</td>
                  <td>{ms(step.durationMs)}</td>
                  <td class="clip">{step.error ? `${step.error.name}: ${step.error.message}` : step.preview ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
      <div class="card">
        <h2>Run again with edited payload</h2>
        <label class="block">Payload <textarea rows={6} value={payload} onInput={(e: Event) => setPayload((e.target as HTMLTextAreaElement).value)} /></label>
        <button type="button" onClick={again} disabled={action.busy}>Run again with edited payload</button>
      </div>
    </section>
  );
}

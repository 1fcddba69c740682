// One run: its facts, its steps on a timeline, its logs, its error with the stack on the author's lines.
import { useEffect, useState } from "hono/jsx/dom";
import { api, ApiError, seg } from "../api.ts";
import { ErrorNote } from "../components.tsx";
import { bytes, clock, ms, pretty, time } from "../format.ts";
import { tenantHref } from "../route.ts";
import type { RunItem } from "./runs.tsx";

interface RunDetail extends RunItem {
  memoryBytes: number | null;
  traceId: string;
  error: { code: string; message: string; stack?: string } | null;
  steps: { name: string; status: string; offsetMs: number; durationMs: number; outputBytes: number | null; preview: string | null; error: { name: string; message: string } | null }[];
  logs: { time: string; level: string; message: string; fields?: Record<string, unknown> | null }[];
}

/** A run is recorded just after it answers: a link followed at once may be a moment early. */
const RECORDING_RETRIES = 20;

export function RunView({ tenant, id }: { tenant: string; id: string }) {
  const [run, setRun] = useState<RunDetail | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  useEffect(() => {
    let stopped = false;
    const load = async (tries: number) => {
      try {
        const found = await api.get<RunDetail>(`/tenants/${seg(tenant)}/runs/${seg(id)}`);
        if (!stopped) setRun(found);
      } catch (caught) {
        if (caught instanceof ApiError && caught.status === 404 && tries > 0) setTimeout(() => !stopped && void load(tries - 1), 250);
        else if (!stopped) setError(caught as Error);
      }
    };
    void load(RECORDING_RETRIES);
    return () => { stopped = true; };
  }, [tenant, id]);
  if (error) return <ErrorNote error={error} />;
  if (!run) return <p class="muted" aria-busy="true">Loading…</p>;
  return (
    <section>
      <h1>Run of {run.function} <span class={`status status-${run.status}`}>{run.status}</span></h1>
      <dl class="facts-grid">
        <dt>Function</dt><dd><a href={tenantHref(tenant, "functions", run.function)}>{run.function}</a> v{run.version}</dd>
        <dt>Trigger</dt><dd>{run.trigger}</dd>
        <dt>Started</dt><dd>{time(run.startedAt)}</dd>
        <dt>Duration</dt><dd>{ms(run.durationMs)}</dd>
        <dt>CPU</dt><dd>{ms(run.cpuMs)}</dd>
        <dt>Memory</dt><dd>{bytes(run.memoryBytes)}</dd>
        {run.httpStatus !== null ? <><dt>HTTP status</dt><dd>{run.httpStatus}</dd></> : null}
        <dt>Trace id</dt><dd><code>{run.traceId}</code></dd>
        <dt>Run id</dt><dd><code>{run.id}</code></dd>
        {run.jobId ? <><dt>Job</dt><dd><a href={tenantHref(tenant, "jobs", run.jobId)}>{run.jobId}</a> attempt {run.attempt} · <a href={tenantHref(tenant, "runs", undefined, { job: run.jobId })}>all attempts</a></dd></> : null}
      </dl>
      {run.error ? (
        <div class="card failure">
          <h2>Error</h2>
          <p role="alert"><strong>{run.error.code}</strong>: {run.error.message}</p>
          {run.error.stack ? <pre class="stack" aria-label="Stack">{run.error.stack}</pre> : null}
        </div>
      ) : null}
      <Timeline run={run} />
      <Logs logs={run.logs} />
    </section>
  );
}

function Timeline({ run }: { run: RunDetail }) {
  if (run.steps.length === 0) return null;
  const span = Math.max(run.durationMs, ...run.steps.map((s) => s.offsetMs + s.durationMs), 1);
  return (
    <div class="card">
      <h2>Steps</h2>
      <ol class="timeline" aria-label="Steps">
        {run.steps.map((step) => (
          <li>
            <span class="step-name">{step.name}</span>
            <span class="track">
              <span class={`bar status-${step.status}`} style={{ left: `${(step.offsetMs / span) * 100}%`, width: `${Math.max((step.durationMs / span) * 100, 0.5)}%` }} />
            </span>
            <span class="step-facts">
              <span class={`status status-${step.status}`}>{step.status}</span> +{ms(step.offsetMs)} · {ms(step.durationMs)}
              {step.error ? ` · ${step.error.name}: ${step.error.message}` : step.preview ? ` · ${step.preview}` : ""}
            </span>
          </li>
        ))}
      </ol>
    </div>
  );
}

function Logs({ logs }: { logs: RunDetail["logs"] }) {
  return (
    <div class="card">
      <h2>Logs</h2>
      {logs.length === 0 ? <p class="muted">No log lines.</p> : (
        <table class="logs" aria-label="Logs">
          <thead><tr><th>Time</th><th>Level</th><th>Message</th><th>Fields</th></tr></thead>
          <tbody>
            {logs.map((line) => (
              <tr class={`level-${line.level}`}>
                <td>{clock(line.time)}</td>
                <td>{line.level}</td>
                <td class="message">{line.message}</td>
                <td class="fields">{line.fields ? pretty(line.fields) : ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

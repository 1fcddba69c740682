// Schedules: next fires, last run; Trigger, Pause, Resume.
import { useState } from "hono/jsx/dom";
import { api, seg } from "../api.ts";
import { ErrorNote, Loading, Status, useAction, useLoad } from "../components.tsx";
import { ago, time } from "../format.ts";
import { tenantHref } from "../route.ts";

interface Schedule {
  id: string;
  function: string;
  name: string;
  cron: string;
  timezone: string;
  paused: boolean;
  nextRuns: string[];
  lastRun: { scheduledTime: string | null; jobId: string; status: string | null } | null;
}

export function SchedulesView({ tenant, params }: { tenant: string; params: URLSearchParams }) {
  const only = params.get("function") ?? undefined;
  const list = useLoad(() => api.get<{ schedules: Schedule[] }>(`/tenants/${seg(tenant)}/schedules`), [tenant]);
  const action = useAction();
  const [fired, setFired] = useState<string | undefined>(undefined);
  const act = (schedule: Schedule, what: "trigger" | "pause" | "resume") => action.run(async () => {
    const answer = await api.post<{ id?: string }>(`/tenants/${seg(tenant)}/schedules/${seg(schedule.id)}/${what}`);
    if (what === "trigger") setFired(answer.id);
    await list.reload();
  });
  return (
    <section>
      <h1>Schedules</h1>
      <ErrorNote error={action.error} />
      {fired ? <p role="status">Fired: <a href={tenantHref(tenant, "jobs", fired)}>job {fired}</a></p> : null}
      <Loading loaded={list}>
        {({ schedules }) => {
          const shown = only ? schedules.filter((s) => s.function === only) : schedules;
          return shown.length === 0 ? <p class="muted">No schedules: a function's manifest declares them ("schedules").</p> : (
            <table>
              <thead><tr><th>Schedule</th><th>Cron</th><th>Next fires</th><th>Last run</th><th /></tr></thead>
              <tbody>
                {shown.map((s) => (
                  <tr>
                    <td><a href={tenantHref(tenant, "functions", s.function)}>{s.function}</a>.{s.name}{s.paused ? <span class="tag">paused</span> : null}</td>
                    <td><code>{s.cron}</code> <span class="muted">{s.timezone}</span></td>
                    <td>{s.nextRuns.length ? <span title={s.nextRuns.map(time).join("\n")}>{ago(s.nextRuns[0])}</span> : "—"}</td>
                    <td>{s.lastRun ? <><a href={tenantHref(tenant, "jobs", s.lastRun.jobId)}>{ago(s.lastRun.scheduledTime)}</a> <Status value={s.lastRun.status} /></> : "—"}</td>
                    <td class="actions">
                      <button type="button" class="small" aria-label={`Trigger ${s.id}`} onClick={() => act(s, "trigger")} disabled={action.busy}>Trigger</button>
                      {s.paused
                        ? <button type="button" class="small" aria-label={`Resume ${s.id}`} onClick={() => act(s, "resume")} disabled={action.busy}>Resume</button>
                        : <button type="button" class="small" aria-label={`Pause ${s.id}`} onClick={() => act(s, "pause")} disabled={action.busy}>Pause</button>}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          );
        }}
      </Loading>
    </section>
  );
}

// Runs, newest first, filtered by function, trigger, status and time; the filters are in the URL.
import { api, query, seg } from "../api.ts";
import { ErrorNote, Pager, Status, usePaged } from "../components.tsx";
import { ago, ms } from "../format.ts";
import { go, tenantHref } from "../route.ts";

export interface RunItem {
  id: string;
  function: string;
  version: number;
  trigger: string;
  status: string;
  startedAt: string;
  durationMs: number;
  cpuMs: number;
  httpStatus: number | null;
  error: { code: string; message: string } | null;
  jobId: string | null;
  attempt: number | null;
}

const TRIGGERS = ["http", "job", "cron", "webhook", "mcp"];
const STATUSES = ["succeeded", "failed", "suspended"];
const FILTERS = ["function", "trigger", "status", "since", "until", "job"] as const;

export function RunsView({ tenant, params }: { tenant: string; params: URLSearchParams }) {
  const filter = Object.fromEntries(FILTERS.map((name) => [name, params.get(name) ?? undefined])) as Record<(typeof FILTERS)[number], string | undefined>;
  const key = JSON.stringify(filter);
  const runs = usePaged(async (cursor) => {
    const since = filter.since && new Date(filter.since).toISOString();
    const until = filter.until && new Date(filter.until).toISOString();
    const page = await api.get<{ runs: RunItem[]; nextCursor: string | null }>(`/tenants/${seg(tenant)}/runs${query({ ...filter, since, until, cursor })}`);
    return { items: page.runs, next: page.nextCursor };
  }, [tenant, key]);
  const change = (name: string, value: string) => go(tenantHref(tenant, "runs", undefined, { ...filter, [name]: value || undefined }));
  return (
    <section>
      <h1>Runs</h1>
      <form class="filters" aria-label="Filters" onSubmit={(e: Event) => e.preventDefault()}>
        <label>Function <input value={filter.function ?? ""} onChange={(e: Event) => change("function", (e.target as HTMLInputElement).value)} /></label>
        <label>Trigger
          <select onChange={(e: Event) => change("trigger", (e.target as HTMLSelectElement).value)}>
            <option value="">any</option>
            {TRIGGERS.map((t) => <option value={t} selected={filter.trigger === t}>{t}</option>)}
          </select>
        </label>
        <label>Status
          <select onChange={(e: Event) => change("status", (e.target as HTMLSelectElement).value)}>
            <option value="">any</option>
            {STATUSES.map((s) => <option value={s} selected={filter.status === s}>{s}</option>)}
          </select>
        </label>
        <label>Since <input type="datetime-local" value={filter.since ?? ""} onChange={(e: Event) => change("since", (e.target as HTMLInputElement).value)} /></label>
        <label>Until <input type="datetime-local" value={filter.until ?? ""} onChange={(e: Event) => change("until", (e.target as HTMLInputElement).value)} /></label>
        {filter.job ? <span>job {filter.job} <a href={tenantHref(tenant, "runs")}>clear</a></span> : null}
      </form>
      <ErrorNote error={runs.error} />
      <RunTable tenant={tenant} runs={runs.items} />
      {runs.loading ? <p class="muted">Loading…</p> : runs.items.length === 0 && !runs.error ? <p class="muted">No runs match.</p> : null}
      <Pager next={runs.next} onMore={runs.more} />
    </section>
  );
}

export function RunTable({ tenant, runs }: { tenant: string; runs: RunItem[] }) {
  if (runs.length === 0) return null;
  return (
    <table>
      <thead><tr><th>Started</th><th>Function</th><th>Trigger</th><th>Status</th><th>Duration</th><th>CPU</th><th>Outcome</th></tr></thead>
      <tbody>
        {runs.map((run) => (
          <tr>
            <td><a href={tenantHref(tenant, "runs", run.id)} title={run.startedAt}>{ago(run.startedAt)}</a></td>
            <td>{run.function} <span class="muted">v{run.version}</span></td>
            <td>{run.trigger}{run.attempt ? <span class="muted"> #{run.attempt}</span> : null}</td>
            <td><Status value={run.status} /></td>
            <td>{ms(run.durationMs)}</td>
            <td>{ms(run.cpuMs)}</td>
            <td class="clip">{run.error ? `${run.error.code}: ${run.error.message}` : run.httpStatus ?? ""}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

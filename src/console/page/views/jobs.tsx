// Jobs: counts per status, filters by function and status, newest first.
import { api, query, seg } from "../api.ts";
import { ErrorNote, Pager, Status, usePaged } from "../components.tsx";
import { ago } from "../format.ts";
import { go, tenantHref } from "../route.ts";

export interface JobItem {
  id: string;
  function: string;
  trigger: string;
  status: string;
  attempts: number;
  maxAttempts: number;
  createdAt: string;
  finishedAt?: string;
  error?: { code?: string; name?: string; message: string };
}

export const JOB_STATUSES = ["queued", "running", "succeeded", "failed", "cancelled"];

export function JobsView({ tenant, params }: { tenant: string; params: URLSearchParams }) {
  const filter = { function: params.get("function") ?? undefined, status: params.get("status") ?? undefined };
  const jobs = usePaged(async (cursor) => {
    const page = await api.get<{ jobs: JobItem[]; nextCursor: string | null; counts: Record<string, number> }>(`/tenants/${seg(tenant)}/jobs${query({ ...filter, cursor })}`);
    return { items: page.jobs, next: page.nextCursor, extra: page.counts };
  }, [tenant, filter.function, filter.status]);
  const counts = (jobs.extra ?? {}) as Record<string, number>;
  const change = (name: string, value: string | undefined) => go(tenantHref(tenant, "jobs", undefined, { ...filter, [name]: value || undefined }));
  return (
    <section>
      <h1>Jobs</h1>
      <p class="counts" aria-label="Counts">
        {JOB_STATUSES.map((status) => (
          <button type="button" class={`count ${filter.status === status ? "on" : ""}`} aria-pressed={filter.status === status} onClick={() => change("status", filter.status === status ? undefined : status)}>
            <Status value={status} /> {counts[status] ?? 0}
          </button>
        ))}
      </p>
      <form class="filters" aria-label="Filters" onSubmit={(e: Event) => e.preventDefault()}>
        <label>Function <input value={filter.function ?? ""} onChange={(e: Event) => change("function", (e.target as HTMLInputElement).value)} /></label>
        <label>Status
          <select onChange={(e: Event) => change("status", (e.target as HTMLSelectElement).value)}>
            <option value="">any</option>
            {JOB_STATUSES.map((s) => <option value={s} selected={filter.status === s}>{s}</option>)}
          </select>
        </label>
      </form>
      <ErrorNote error={jobs.error} />
      {jobs.items.length > 0 ? (
        <table>
          <thead><tr><th>Job</th><th>Function</th><th>Trigger</th><th>Status</th><th>Attempts</th><th>Created</th><th>Error</th></tr></thead>
          <tbody>
            {jobs.items.map((job) => (
              <tr>
                <td><a href={tenantHref(tenant, "jobs", job.id)}><code>{job.id.slice(0, 8)}</code></a></td>
                <td>{job.function}</td>
                <td>{job.trigger}</td>
                <td><Status value={job.status} /></td>
                <td>{job.attempts}/{job.maxAttempts}</td>
                <td title={job.createdAt}>{ago(job.createdAt)}</td>
                <td class="clip">{job.error ? job.error.message : ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : jobs.loading ? <p class="muted">Loading…</p> : <p class="muted">No jobs match.</p>}
      <Pager next={jobs.next} onMore={jobs.more} />
    </section>
  );
}

// Webhooks: the URL to give each provider, the deliveries (rejected ones with why), Replay.
import { useState } from "hono/jsx/dom";
import { api, query, seg } from "../api.ts";
import { CopyButton, ErrorNote, Loading, Pager, Status, useAction, useLoad, usePaged } from "../components.tsx";
import { ago, pretty } from "../format.ts";
import { go, tenantHref } from "../route.ts";

interface Hook {
  function: string;
  hook: string;
  scheme: string;
  secret: string;
  url: string;
}

interface Delivery {
  id: string;
  function: string;
  hook: string;
  status: "accepted" | "rejected";
  reason?: { code: string; message: string };
  jobId?: string;
  receivedAt: string;
  headers?: Record<string, string>;
  body?: string;
}

export function WebhooksView({ tenant, params }: { tenant: string; params: URLSearchParams }) {
  const status = params.get("status") ?? undefined;
  const hooks = useLoad(() => api.get<{ webhooks: Hook[] }>(`/tenants/${seg(tenant)}/webhooks`), [tenant]);
  const events = usePaged(async (cursor) => {
    const page = await api.get<{ events: Delivery[]; nextCursor: string | null }>(`/tenants/${seg(tenant)}/webhooks/events${query({ status, cursor })}`);
    return { items: page.events, next: page.nextCursor };
  }, [tenant, status]);
  const action = useAction();
  const [open, setOpen] = useState<Delivery | undefined>(undefined);
  const replay = (event: Delivery) => action.run(async () => {
    const answer = await api.post<{ jobId: string }>(`/tenants/${seg(tenant)}/webhooks/events/${seg(event.id)}/replay`);
    go(tenantHref(tenant, "jobs", answer.jobId));
  });
  const show = (event: Delivery) => action.run(async () => setOpen(await api.get<Delivery>(`/tenants/${seg(tenant)}/webhooks/events/${seg(event.id)}`)));
  return (
    <section>
      <h1>Webhooks</h1>
      <Loading loaded={hooks}>
        {({ webhooks }) => webhooks.length === 0 ? <p class="muted">No webhooks: a function's manifest declares them ("webhooks").</p> : (
          <table>
            <thead><tr><th>Hook</th><th>Scheme</th><th>Secret</th><th>URL</th></tr></thead>
            <tbody>
              {webhooks.map((h) => (
                <tr>
                  <td>{h.function}/{h.hook}</td>
                  <td>{h.scheme}</td>
                  <td><a href={tenantHref(tenant, "secrets")}>{h.secret}</a></td>
                  <td class="url"><code>{h.url}</code> <CopyButton text={h.url} label="Copy URL" /></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Loading>
      <h2>Deliveries</h2>
      <p class="row">
        <label>Status
          <select onChange={(e: Event) => go(tenantHref(tenant, "webhooks", undefined, { status: (e.target as HTMLSelectElement).value || undefined }))}>
            <option value="">any</option>
            <option value="accepted" selected={status === "accepted"}>accepted</option>
            <option value="rejected" selected={status === "rejected"}>rejected</option>
          </select>
        </label>
      </p>
      <ErrorNote error={events.error ?? action.error} />
      {events.items.length > 0 ? (
        <table>
          <thead><tr><th>Received</th><th>Hook</th><th>Status</th><th>Why / job</th><th /></tr></thead>
          <tbody>
            {events.items.map((event) => (
              <tr>
                <td title={event.receivedAt}>{ago(event.receivedAt)}</td>
                <td>{event.function}/{event.hook}</td>
                <td><Status value={event.status} /></td>
                <td class="clip">{event.reason ? `${event.reason.code}: ${event.reason.message}` : event.jobId ? <a href={tenantHref(tenant, "jobs", event.jobId)}>job {event.jobId.slice(0, 8)}</a> : ""}</td>
                <td class="actions">
                  <button type="button" class="small" onClick={() => show(event)}>Details</button>
                  {event.status === "accepted" ? <button type="button" class="small" aria-label={`Replay ${event.id}`} onClick={() => replay(event)} disabled={action.busy}>Replay</button> : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : events.loading ? <p class="muted">Loading…</p> : <p class="muted">No deliveries yet.</p>}
      <Pager next={events.next} onMore={events.more} />
      {open ? (
        <div class="card" aria-label="Delivery">
          <h2>Delivery {open.id} <button type="button" class="small" onClick={() => setOpen(undefined)}>Close</button></h2>
          <pre>{pretty(open.headers)}</pre>
          {open.body !== undefined ? <pre>{open.body}</pre> : null}
        </div>
      ) : null}
    </section>
  );
}

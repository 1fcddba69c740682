// One tenant (admin): its quotas, its keys (issue, revoke), links to its views.
import { useState } from "hono/jsx/dom";
import { api, seg, type Principal } from "../api.ts";
import { ErrorNote, Loading, useAction, useLoad } from "../components.tsx";
import { ago, pretty } from "../format.ts";
import { tenantHref } from "../route.ts";
import { ShownOnce } from "./tenants.tsx";

const QUOTAS = ["functions", "memoryMb", "concurrency", "requestsPerSecond", "cpuMsPerMinute", "schedules"];

export function TenantView({ name, principal }: { name: string; principal: Principal }) {
  const path = `/tenants/${seg(name)}`;
  const loaded = useLoad(async () => {
    const [tenant, keys] = await Promise.all([api.get<{ name: string; quotas: Record<string, number> }>(path), api.get<{ keys: { id: string; prefix: string; createdAt: string }[] }>(`${path}/keys`)]);
    return { tenant, keys: keys.keys };
  }, [name]);
  const [issued, setIssued] = useState<string | undefined>(undefined);
  const action = useAction();
  const issue = () => action.run(async () => {
    setIssued((await api.post<{ apiKey: string }>(`${path}/keys`)).apiKey);
    await loaded.reload();
  });
  const revoke = (id: string) => action.run(async () => {
    if (!confirm(`Revoke key ${id}? Clients using it stop working.`)) return;
    await api.delete(`${path}/keys/${seg(id)}`);
    await loaded.reload();
  });
  return (
    <section>
      <h1>Tenant {name}</h1>
      <p class="facts"><a href={tenantHref(name, "functions")}>Functions</a><a href={tenantHref(name, "runs")}>Runs</a><a href={tenantHref(name, "jobs")}>Jobs</a></p>
      <ErrorNote error={action.error} />
      <Loading loaded={loaded}>
        {({ tenant, keys }) => (
          <>
            {principal.kind === "admin" ? <Quotas path={path} quotas={tenant.quotas} reload={loaded.reload} /> : <pre>{pretty(tenant.quotas)}</pre>}
            <div class="card">
              <h2>Keys</h2>
              {issued ? <ShownOnce label="New API key" secret={issued} /> : null}
              <table>
                <thead><tr><th>Key</th><th>Created</th><th /></tr></thead>
                <tbody>
                  {keys.map((key) => (
                    <tr>
                      <td><code>{key.prefix}…</code> <span class="muted">{key.id}</span></td>
                      <td title={key.createdAt}>{ago(key.createdAt)}</td>
                      <td><button type="button" class="small" aria-label={`Revoke ${key.id}`} onClick={() => revoke(key.id)} disabled={action.busy}>Revoke</button></td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <button type="button" onClick={issue} disabled={action.busy}>Issue key</button>
            </div>
          </>
        )}
      </Loading>
    </section>
  );
}

function Quotas({ path, quotas, reload }: { path: string; quotas: Record<string, number>; reload: () => Promise<void> }) {
  const [values, setValues] = useState<Record<string, string>>(Object.fromEntries(QUOTAS.map((q) => [q, quotas[q] === undefined ? "" : String(quotas[q])])));
  const action = useAction();
  const save = (event: Event) => {
    event.preventDefault();
    return action.run(async () => {
      const set = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== "").map(([k, v]) => [k, Number(v)]));
      await api.patch(path, { quotas: set });
      await reload();
    });
  };
  return (
    <form class="card" onSubmit={save} aria-label="Quotas">
      <h2>Quotas</h2>
      <p class="muted">Empty means the node's default.</p>
      <div class="grid">
        {QUOTAS.map((quota) => (
          <label>{quota} <input type="number" min="0" step="any" value={values[quota]} onInput={(e: Event) => setValues((old) => ({ ...old, [quota]: (e.target as HTMLInputElement).value }))} /></label>
        ))}
      </div>
      <button type="submit" disabled={action.busy}>Save quotas</button>
      <ErrorNote error={action.error} />
    </form>
  );
}

// Tenants (admin): the list, and a new tenant with its first key shown once.
import { useState } from "hono/jsx/dom";
import { api } from "../api.ts";
import { CopyButton, ErrorNote, Loading, useAction, useLoad } from "../components.tsx";
import { ago, pretty } from "../format.ts";
import { href } from "../route.ts";

interface Tenant {
  name: string;
  quotas: Record<string, number>;
  createdAt: string;
}

export function TenantsView() {
  const list = useLoad(() => api.get<{ tenants: Tenant[] }>("/tenants"), []);
  const [name, setName] = useState("");
  const [created, setCreated] = useState<{ name: string; apiKey: string } | undefined>(undefined);
  const action = useAction();
  const create = (event: Event) => {
    event.preventDefault();
    return action.run(async () => {
      const tenant = await api.post<{ name: string; apiKey: string }>("/tenants", { name });
      setCreated(tenant);
      setName("");
      await list.reload();
    });
  };
  return (
    <section>
      <h1>Tenants</h1>
      <form class="inline card" onSubmit={create} aria-label="New tenant">
        <label>Name <input value={name} required onInput={(e: Event) => setName((e.target as HTMLInputElement).value)} /></label>
        <button type="submit" disabled={action.busy}>Create tenant</button>
      </form>
      <ErrorNote error={action.error} />
      {created ? <ShownOnce label={`API key of ${created.name}`} secret={created.apiKey} /> : null}
      <Loading loaded={list}>
        {({ tenants }) => (
          <table>
            <thead><tr><th>Tenant</th><th>Quotas</th><th>Created</th></tr></thead>
            <tbody>
              {tenants.map((t) => (
                <tr>
                  <td><a href={href("tenants", t.name)}>{t.name}</a></td>
                  <td class="clip">{Object.keys(t.quotas).length ? pretty(t.quotas) : "defaults"}</td>
                  <td title={t.createdAt}>{ago(t.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Loading>
    </section>
  );
}

/** A key that is shown this once and never again. */
export function ShownOnce({ label, secret }: { label: string; secret: string }) {
  return (
    <div class="card once" role="status" aria-label={label}>
      <p><strong>{label}</strong>, shown this once: copy it now.</p>
      <p><code class="secret">{secret}</code> <CopyButton text={secret} /></p>
    </div>
  );
}

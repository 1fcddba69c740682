// Secrets: names and times; a value is set through a password field and never shown back.
import { useState } from "hono/jsx/dom";
import { api, seg } from "../api.ts";
import { ErrorNote, Loading, useAction, useLoad } from "../components.tsx";
import { ago } from "../format.ts";

export function SecretsView({ tenant }: { tenant: string }) {
  const list = useLoad(() => api.get<{ secrets: { name: string; updatedAt: string }[] }>(`/tenants/${seg(tenant)}/secrets`), [tenant]);
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const action = useAction();
  const set = (event: Event) => {
    event.preventDefault();
    return action.run(async () => {
      await api.put(`/tenants/${seg(tenant)}/secrets/${seg(name)}`, { value });
      setName("");
      setValue("");
      await list.reload();
    });
  };
  const remove = (secret: string) => action.run(async () => {
    if (!confirm(`Delete the secret ${secret}? Functions that use it stop getting it.`)) return;
    await api.delete(`/tenants/${seg(tenant)}/secrets/${seg(secret)}`);
    await list.reload();
  });
  return (
    <section>
      <h1>Secrets</h1>
      <form class="inline card" onSubmit={set} aria-label="Set a secret">
        <label>Name <input value={name} required pattern="[A-Z_][A-Z0-9_]{0,127}" title="UPPER_SNAKE_CASE" onInput={(e: Event) => setName((e.target as HTMLInputElement).value)} /></label>
        <label>Value <input type="password" autocomplete="new-password" value={value} onInput={(e: Event) => setValue((e.target as HTMLInputElement).value)} /></label>
        <button type="submit" disabled={action.busy}>Set</button>
      </form>
      <ErrorNote error={action.error} />
      <Loading loaded={list}>
        {({ secrets }) => secrets.length === 0 ? <p class="muted">No secrets.</p> : (
          <table>
            <thead><tr><th>Name</th><th>Updated</th><th /></tr></thead>
            <tbody>
              {secrets.map((secret) => (
                <tr>
                  <td><code>{secret.name}</code></td>
                  <td title={secret.updatedAt}>{ago(secret.updatedAt)}</td>
                  <td><button type="button" class="small" aria-label={`Delete ${secret.name}`} onClick={() => remove(secret.name)} disabled={action.busy}>Delete</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Loading>
    </section>
  );
}

// The tenant's functions, and New function from a template.
import { useState } from "hono/jsx/dom";
import { api, seg } from "../api.ts";
import { CopyButton, ErrorNote, Loading, useAction, useLoad } from "../components.tsx";
import { ago } from "../format.ts";
import { go, tenantHref } from "../route.ts";
import { TEMPLATES } from "../templates.ts";

interface FunctionItem {
  name: string;
  version: number;
  latestVersion: number;
  handlers: string[];
  url: string;
  tool?: { description: string };
  updatedAt: string;
}

export function FunctionsView({ tenant }: { tenant: string }) {
  const list = useLoad(() => api.get<{ functions: FunctionItem[] }>(`/tenants/${seg(tenant)}/functions`), [tenant]);
  return (
    <section>
      <h1>Functions</h1>
      <NewFunction tenant={tenant} />
      <Loading loaded={list}>
        {({ functions }) => <>
          <McpServer tenant={tenant} tools={functions.filter((fn) => fn.tool)} />
          {functions.length === 0 ? <p class="muted">No functions yet: create one from a template above.</p> : (
          <table>
            <thead><tr><th>Name</th><th>Version</th><th>Handlers</th><th>Last deploy</th><th>URL</th></tr></thead>
            <tbody>
              {functions.map((fn) => (
                <tr>
                  <td><a href={tenantHref(tenant, "functions", fn.name)}>{fn.name}</a>{fn.tool ? <span class="tag" title={fn.tool.description}>tool</span> : null}</td>
                  <td>v{fn.version}{fn.version !== fn.latestVersion ? <span class="muted"> (latest v{fn.latestVersion})</span> : null}</td>
                  <td>{fn.handlers.join(", ") || "—"}</td>
                  <td title={fn.updatedAt}>{ago(fn.updatedAt)}</td>
                  <td class="url"><code>{fn.url}</code> <CopyButton text={fn.url} label="Copy URL" /></td>
                </tr>
              ))}
            </tbody>
          </table>
          )}
        </>}
      </Loading>
    </section>
  );
}

/** The tenant's MCP endpoint, how a client is pointed at it, and the tools it lists. */
function McpServer({ tenant, tools }: { tenant: string; tools: FunctionItem[] }) {
  const url = `${location.origin}/mcp/${encodeURIComponent(tenant)}`;
  const config = JSON.stringify({ mcpServers: { [tenant]: { type: "http", url, headers: { Authorization: "Bearer <tenant API key>" } } } }, null, 2);
  return (
    <section class="card" aria-label="MCP server">
      <h2>MCP server</h2>
      <p><code>{url}</code> <CopyButton text={url} label="Copy MCP URL" /></p>
      <details>
        <summary>Client configuration</summary>
        <pre>{config}</pre>
        <CopyButton text={config} label="Copy configuration" />
      </details>
      {tools.length === 0 ? <p class="muted">No tools yet: a function whose manifest has "tool" is one.</p> : (
        <ul aria-label="Tools">
          {tools.map((fn) => <li><a href={tenantHref(tenant, "functions", fn.name)}>{fn.name}</a> <span class="muted">{fn.tool!.description}</span></li>)}
        </ul>
      )}
    </section>
  );
}

function NewFunction({ tenant }: { tenant: string }) {
  const [name, setName] = useState("");
  const [template, setTemplate] = useState(TEMPLATES[0].id);
  const action = useAction();
  const create = (event: Event) => {
    event.preventDefault();
    const chosen = TEMPLATES.find((t) => t.id === template)!;
    return action.run(async () => {
      await api.put(`/tenants/${seg(tenant)}/functions/${seg(name)}`, { source: chosen.source, language: "ts", manifest: chosen.manifest });
      go(tenantHref(tenant, "functions", name));
    });
  };
  return (
    <form class="inline card" onSubmit={create} aria-label="New function">
      <h2>New function</h2>
      <label>Name <input value={name} required pattern="[a-z0-9][a-z0-9_\-]{0,62}" title="1-63 of a-z, 0-9, - and _" onInput={(e: Event) => setName((e.target as HTMLInputElement).value)} /></label>
      <label>Template
        <select value={template} onChange={(e: Event) => setTemplate((e.target as HTMLSelectElement).value)}>
          {TEMPLATES.map((t) => <option value={t.id} selected={t.id === template}>{t.label}</option>)}
        </select>
      </label>
      <button type="submit" disabled={action.busy}>Create</button>
      <ErrorNote error={action.error} />
    </form>
  );
}

// Logs: a function's lines as they are written, on any node (server-sent events; the session
// cookie authenticates the stream), with a level filter and a text search.
import { useEffect, useState } from "hono/jsx/dom";
import { api, query, seg } from "../api.ts";
import { Loading, useLoad } from "../components.tsx";
import { clock, pretty } from "../format.ts";
import { go, tenantHref } from "../route.ts";

interface Line {
  runId: string;
  time: string;
  level: string;
  message: string;
  fields?: Record<string, unknown>;
}

const KEPT = 2000;
const LEVELS = ["debug", "info", "warn", "error"];

export function LogsView({ tenant, params }: { tenant: string; params: URLSearchParams }) {
  const fn = params.get("function") ?? "";
  const functions = useLoad(() => api.get<{ functions: { name: string }[] }>(`/tenants/${seg(tenant)}/functions`), [tenant]);
  return (
    <section>
      <h1>Logs</h1>
      <Loading loaded={functions}>
        {({ functions: list }) => (
          <label>Function
            <select onChange={(e: Event) => go(tenantHref(tenant, "logs", undefined, { function: (e.target as HTMLSelectElement).value || undefined }))}>
              <option value="">choose…</option>
              {list.map((f) => <option value={f.name} selected={f.name === fn}>{f.name}</option>)}
            </select>
          </label>
        )}
      </Loading>
      {fn ? <Tail key={`${tenant}/${fn}`} tenant={tenant} fn={fn} /> : <p class="muted">Choose a function to follow its log lines.</p>}
    </section>
  );
}

function Tail({ tenant, fn }: { tenant: string; fn: string }) {
  const [lines, setLines] = useState<Line[]>([]);
  const [state, setState] = useState<"connecting" | "live" | "reconnecting">("connecting");
  const [level, setLevel] = useState("");
  const [search, setSearch] = useState("");
  useEffect(() => {
    setLines([]);
    const source = new EventSource(`/api/tenants/${seg(tenant)}/logs${query({ function: fn, follow: 1, limit: 200 })}`);
    source.onopen = () => setState("live");
    source.onerror = () => setState("reconnecting");
    // A reconnect sends the latest lines again: those already shown are not repeated.
    const seen = new Set<string>();
    source.addEventListener("log", (event) => {
      const line = JSON.parse((event as MessageEvent).data) as Line;
      const key = `${line.runId}|${line.time}|${line.message}`;
      if (seen.has(key)) return;
      seen.add(key);
      setLines((old) => (old.length >= KEPT ? [...old.slice(old.length - KEPT + 1), line] : [...old, line]));
    });
    return () => source.close();
  }, [tenant, fn]);
  const needle = search.toLowerCase();
  const shown = lines.filter((line) => (!level || line.level === level) && (!needle || line.message.toLowerCase().includes(needle) || (line.fields && pretty(line.fields).toLowerCase().includes(needle))));
  return (
    <div class="card">
      <div class="row">
        <span class={`live live-${state}`} role="status">{state === "live" ? "Live" : state === "connecting" ? "Connecting…" : "Reconnecting…"}</span>
        <label>Level
          <select onChange={(e: Event) => setLevel((e.target as HTMLSelectElement).value)}>
            <option value="">all</option>
            {LEVELS.map((l) => <option value={l} selected={l === level}>{l}</option>)}
          </select>
        </label>
        <label class="grow">Search <input type="search" value={search} onInput={(e: Event) => setSearch((e.target as HTMLInputElement).value)} /></label>
        <button type="button" class="small" onClick={() => setLines([])}>Clear</button>
      </div>
      {shown.length === 0 ? <p class="muted">No lines yet.</p> : (
        <table class="logs" aria-label="Log lines">
          <thead><tr><th>Time</th><th>Level</th><th>Message</th><th>Run</th></tr></thead>
          <tbody>
            {shown.map((line) => (
              <tr class={`level-${line.level}`}>
                <td>{clock(line.time)}</td>
                <td>{line.level}</td>
                <td class="message">{line.message}{line.fields ? <span class="fields"> {pretty(line.fields)}</span> : null}</td>
                <td><a href={tenantHref(tenant, "runs", line.runId)}><code>{line.runId.slice(0, 8)}</code></a></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

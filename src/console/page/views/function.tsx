// One function: its source and manifest in editors, Deploy, its versions with Rollback, and the
// panels that exercise it (Test, the tool's form, Enqueue, Trigger).
import { useRef, useState } from "hono/jsx/dom";
import { api, ApiError, seg } from "../api.ts";
import { CopyButton, ErrorNote, Loading, useAction, useLoad } from "../components.tsx";
import type { EditorHandle, Problem } from "../editor/codemirror.ts";
import { ago, pretty } from "../format.ts";
import { go, tenantHref } from "../route.ts";
import { Editor } from "./editor.tsx";
import { TestPanel } from "./test-panel.tsx";
import { ToolForm } from "./tool-form.tsx";

export interface FunctionDetail {
  name: string;
  version: number;
  latestVersion: number;
  url: string;
  handlers: string[];
  manifest: Record<string, any>;
  versions: { version: number; createdAt: string }[];
  updatedAt: string;
  source: { text: string; language: "ts" | "js"; file?: string; bundled: boolean };
}

export function FunctionView({ tenant, name }: { tenant: string; name: string }) {
  const path = `/tenants/${seg(tenant)}/functions/${seg(name)}`;
  const detail = useLoad(() => api.get<FunctionDetail>(`${path}?source=1`), [tenant, name]);
  return (
    <Loading loaded={detail}>
      {(fn) => <FunctionPage tenant={tenant} fn={fn} path={path} reload={detail.reload} />}
    </Loading>
  );
}

function FunctionPage({ tenant, fn, path, reload }: { tenant: string; fn: FunctionDetail; path: string; reload: () => Promise<void> }) {
  return (
    <section>
      <h1>{fn.name} <span class="muted">v{fn.version}</span></h1>
      <p class="facts">
        <code>{fn.url}</code> <CopyButton text={fn.url} label="Copy URL" />
        <span>handlers: {fn.handlers.join(", ") || "—"}</span>
        <span>deployed {ago(fn.updatedAt)}</span>
        <a href={tenantHref(tenant, "runs", undefined, { function: fn.name })}>Runs</a>
        <a href={tenantHref(tenant, "logs", undefined, { function: fn.name })}>Logs</a>
        <a href={tenantHref(tenant, "jobs", undefined, { function: fn.name })}>Jobs</a>
      </p>
      <Source fn={fn} path={path} reload={reload} />
      <Versions fn={fn} path={path} reload={reload} />
      <TestPanel tenant={tenant} fn={fn} path={path} />
      {fn.manifest.tool ? <ToolForm tenant={tenant} fn={fn} path={path} /> : null}
      {fn.handlers.includes("job") ? <Enqueue tenant={tenant} path={path} /> : null}
      {fn.manifest.schedules?.length ? <Triggers tenant={tenant} fn={fn} /> : null}
    </section>
  );
}

function Source({ fn, path, reload }: { fn: FunctionDetail; path: string; reload: () => Promise<void> }) {
  const code = useRef<EditorHandle | null>(null);
  const manifest = useRef<EditorHandle | null>(null);
  const [language, setLanguage] = useState(fn.source.language);
  const [result, setResult] = useState<{ ok: boolean; text: string; warnings?: string[] } | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const deploy = async () => {
    if (!code.current || !manifest.current) return;
    code.current.mark([]);
    manifest.current.mark([]);
    setResult(undefined);
    const manifestText = manifest.current.text();
    let parsed: unknown;
    try {
      parsed = manifestText.trim() === "" ? {} : JSON.parse(manifestText);
    } catch (error) {
      const message = (error as Error).message;
      manifest.current.mark([{ message, ...jsonErrorPosition(message, manifestText) }]);
      setResult({ ok: false, text: `Not deployed: the manifest is not valid JSON (${message})` });
      return;
    }
    setBusy(true);
    try {
      const deployed = await api.put<{ version: number; warnings?: string[] }>(path, { source: code.current.text(), language, manifest: parsed });
      setResult({ ok: true, text: `Deployed v${deployed.version}`, warnings: deployed.warnings });
      await reload();
    } catch (error) {
      markDeployError(error, code.current, manifest.current);
      setResult({ ok: false, text: `Not deployed: ${error instanceof ApiError ? `${error.code}: ` : ""}${(error as Error).message}` });
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="card">
      <div class="row">
        <h2>Source</h2>
        <label>Language
          <select value={language} onChange={(e: Event) => setLanguage((e.target as HTMLSelectElement).value as "ts" | "js")}>
            <option value="ts" selected={language === "ts"}>TypeScript</option>
            <option value="js" selected={language === "js"}>JavaScript</option>
          </select>
        </label>
        <button type="button" class="primary" onClick={deploy} disabled={busy}>Deploy</button>
      </div>
      {fn.source.bundled ? <p class="muted">Bundled by the CLI; shown is its entry file {fn.source.file}. Deploying from here replaces the bundle with this file alone (it may not import other files).</p> : null}
      <div class="editors">
        <Editor label="Code" text={fn.source.text} language={language} handle={code} />
        <Editor label="Manifest" text={pretty(fn.manifest)} language="json" handle={manifest} />
      </div>
      {result ? <p class={result.ok ? "ok" : "error"} role={result.ok ? "status" : "alert"}>{result.text}</p> : null}
      {result?.warnings?.map((warning) => <p class="warning" role="note">Warning: {warning}</p>)}
    </div>
  );
}

/** Where the server found the problem: the code's line, or the manifest's field. */
function markDeployError(error: unknown, code: EditorHandle, manifest: EditorHandle): void {
  if (!(error instanceof ApiError)) return;
  const { line, column, field } = error.details as { line?: number; column?: number; field?: string };
  if (error.code === "ERR_COMPILE") code.mark([{ message: error.message, line, column }]);
  else if (typeof field === "string" && field.startsWith("manifest")) manifest.mark([{ message: error.message, path: field.split(".").slice(1) }]);
}

/** V8's JSON.parse messages name a position ("at position 12", "(line 2 column 3)"). */
function jsonErrorPosition(message: string, text: string): Omit<Problem, "message"> {
  const lineColumn = /line (\d+) column (\d+)/.exec(message);
  if (lineColumn) return { line: Number(lineColumn[1]), column: Number(lineColumn[2]) };
  const position = /position (\d+)/.exec(message);
  if (!position) return {};
  const before = text.slice(0, Number(position[1])).split("\n");
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

function Versions({ fn, path, reload }: { fn: FunctionDetail; path: string; reload: () => Promise<void> }) {
  const action = useAction();
  const rollback = (version: number) => action.run(async () => {
    await api.post(`${path}/rollback`, { version });
    await reload();
  });
  return (
    <div class="card">
      <h2>Versions</h2>
      <table>
        <thead><tr><th>Version</th><th>Deployed</th><th /></tr></thead>
        <tbody>
          {fn.versions.map((v) => (
            <tr>
              <td>v{v.version}</td>
              <td title={v.createdAt}>{ago(v.createdAt)}</td>
              <td>{v.version === fn.version ? <strong>serving</strong> : <button type="button" class="small" aria-label={`Rollback to v${v.version}`} onClick={() => rollback(v.version)} disabled={action.busy}>Rollback</button>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <ErrorNote error={action.error} />
    </div>
  );
}

function Enqueue({ tenant, path }: { tenant: string; path: string }) {
  const [payload, setPayload] = useState("{}");
  const action = useAction();
  const enqueue = () => action.run(async () => {
    let value: unknown;
    try {
      value = JSON.parse(payload);
    } catch (error) {
      throw new Error(`Payload: not valid JSON (${(error as Error).message})`);
    }
    const job = await api.post<{ id: string }>(`${path}/jobs`, { payload: value });
    go(tenantHref(tenant, "jobs", job.id));
  });
  return (
    <div class="card">
      <h2>Job</h2>
      <label class="block">Payload <textarea rows={4} value={payload} onInput={(e: Event) => setPayload((e.target as HTMLTextAreaElement).value)} /></label>
      <button type="button" onClick={enqueue} disabled={action.busy}>Enqueue</button>
      <ErrorNote error={action.error} />
    </div>
  );
}

function Triggers({ tenant, fn }: { tenant: string; fn: FunctionDetail }) {
  const action = useAction();
  const [fired, setFired] = useState<string | undefined>(undefined);
  const trigger = (id: string) => action.run(async () => {
    const job = await api.post<{ id: string }>(`/tenants/${seg(tenant)}/schedules/${seg(id)}/trigger`);
    setFired(job.id);
  });
  return (
    <div class="card">
      <h2>Schedules</h2>
      <ul>
        {(fn.manifest.schedules as { name?: string; cron: string }[]).map((schedule, i) => {
          const id = `${fn.name}.${schedule.name ?? i}`;
          return <li><code>{schedule.cron}</code> {schedule.name ?? String(i)} <button type="button" class="small" aria-label={`Trigger ${schedule.name ?? i}`} onClick={() => trigger(id)} disabled={action.busy}>Trigger</button></li>;
        })}
      </ul>
      {fired ? <p role="status">Fired: <a href={tenantHref(tenant, "jobs", fired)}>job {fired}</a></p> : null}
      <ErrorNote error={action.error} />
    </div>
  );
}

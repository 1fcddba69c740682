// A form made from the tool's input schema (its top-level properties), called as an MCP client
// calls it (POST …/tool-call): the arguments checked, the tool handler (or fetch) run, a job-mode
// tool waited for; the MCP result shown with its run or job.
import { useState } from "hono/jsx/dom";
import { api, ApiError } from "../api.ts";
import { tenantHref } from "../route.ts";
import type { FunctionDetail } from "./function.tsx";

interface ToolResult {
  content: { type: string; text?: string }[];
  structuredContent?: unknown;
  isError?: boolean;
  _meta?: Record<string, string>;
}

interface PropertySchema {
  type?: string;
  description?: string;
  enum?: unknown[];
}

export function ToolForm({ tenant, fn, path }: { tenant: string; fn: FunctionDetail; path: string }) {
  const schema = (fn.manifest.tool.input ?? {}) as { properties?: Record<string, PropertySchema>; required?: string[] };
  const properties = Object.entries(schema.properties ?? {});
  const [values, setValues] = useState<Record<string, string>>({});
  const [outcome, setOutcome] = useState<{ result?: ToolResult; error?: Error } | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const set = (name: string, value: string) => setValues((old) => ({ ...old, [name]: value }));
  const call = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    try {
      const args: Record<string, unknown> = {};
      for (const [name, property] of properties) {
        const text = values[name];
        if (text === undefined || text === "") continue;
        args[name] = property.type === "number" || property.type === "integer" ? Number(text)
          : property.type === "boolean" ? text === "true"
          : property.type === "object" || property.type === "array" ? JSON.parse(text) : text;
      }
      setOutcome({ result: await api.post<ToolResult>(`${path}/tool-call`, { arguments: args }) });
    } catch (error) {
      setOutcome({ error: error as Error });
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card" onSubmit={call} aria-label="Tool">
      <h2>Tool</h2>
      <p class="muted">{fn.manifest.tool.description}</p>
      {properties.map(([name, property]) => (
        <label class="block">
          {name}{schema.required?.includes(name) ? " *" : ""} {property.description ? <span class="muted">{property.description}</span> : null}
          {property.enum ? (
            <select value={values[name] ?? ""} onChange={(e: Event) => set(name, (e.target as HTMLSelectElement).value)}>
              <option value="" />
              {property.enum.map((option) => <option value={String(option)}>{String(option)}</option>)}
            </select>
          ) : property.type === "boolean" ? (
            <select value={values[name] ?? ""} onChange={(e: Event) => set(name, (e.target as HTMLSelectElement).value)}>
              <option value="" /><option value="true">true</option><option value="false">false</option>
            </select>
          ) : (
            <input type={property.type === "number" || property.type === "integer" ? "number" : "text"} required={schema.required?.includes(name)} value={values[name] ?? ""} onInput={(e: Event) => set(name, (e.target as HTMLInputElement).value)} />
          )}
        </label>
      ))}
      <button type="submit" disabled={busy}>Call tool</button>
      {outcome ? <ToolOutcome tenant={tenant} {...outcome} /> : null}
    </form>
  );
}

function ToolOutcome({ tenant, result, error }: { tenant: string; result?: ToolResult; error?: Error }) {
  if (error) return <p class="error" role="alert">{error instanceof ApiError ? `${error.status} ${error.code}: ` : ""}{error.message}</p>;
  if (!result) return null;
  const meta = result._meta ?? {};
  const text = result.content.map((block) => block.text ?? `(${block.type})`).join("\n");
  return (
    <div class="answer" aria-label="Tool result">
      <p>
        <strong class={result.isError ? "error" : "ok"}>{result.isError ? `Error ${meta["isobox/code"] ?? ""}` : "Result"}</strong>
        {meta["isobox/runId"] ? <> · <a href={tenantHref(tenant, "runs", meta["isobox/runId"])}>Open the run</a></> : null}
        {meta["isobox/jobId"] ? <> · <a href={tenantHref(tenant, "jobs", meta["isobox/jobId"])}>Open the job</a></> : null}
      </p>
      <pre class="body" aria-label="Tool result text">{result.structuredContent === undefined ? text : JSON.stringify(result.structuredContent, null, 2)}</pre>
    </div>
  );
}

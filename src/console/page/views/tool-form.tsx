// A form made from the tool's input schema (its top-level properties), sent the way an MCP call
// reaches a function without a tool handler: POST / with the arguments as JSON.
import { useState } from "hono/jsx/dom";
import { api } from "../api.ts";
import type { FunctionDetail } from "./function.tsx";
import { Outcome, type Answer } from "./test-panel.tsx";

interface PropertySchema {
  type?: string;
  description?: string;
  enum?: unknown[];
}

export function ToolForm({ tenant, fn, path }: { tenant: string; fn: FunctionDetail; path: string }) {
  const schema = fn.manifest.tool.input as { properties?: Record<string, PropertySchema>; required?: string[] };
  const properties = Object.entries(schema.properties ?? {});
  const [values, setValues] = useState<Record<string, string>>({});
  const [outcome, setOutcome] = useState<{ answer?: Answer; error?: Error } | undefined>(undefined);
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
      const answer = await api.post<Answer>(`${path}/invoke`, { method: "POST", path: "/", headers: { "content-type": "application/json" }, body: JSON.stringify(args) });
      setOutcome({ answer });
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
      {outcome ? <Outcome tenant={tenant} {...outcome} /> : null}
    </form>
  );
}

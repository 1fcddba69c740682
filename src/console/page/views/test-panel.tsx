// Test: one request to the function with the signed-in token's rights, its answer and its run.
import { useState } from "hono/jsx/dom";
import { api, ApiError } from "../api.ts";
import { ms } from "../format.ts";
import { tenantHref } from "../route.ts";
import type { FunctionDetail } from "./function.tsx";

export interface Answer {
  status: number;
  headers: [string, string][];
  body?: string;
  bodyBase64?: string;
  durationMs: number;
  runId: string;
}

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/** "Name: value" lines as a header object; a line without a colon is an error naming it. */
function parseHeaders(text: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [i, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error(`Headers, line ${i + 1}: expected "Name: value"`);
    headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return headers;
}

export function TestPanel({ tenant, fn, path }: { tenant: string; fn: FunctionDetail; path: string }) {
  const [method, setMethod] = useState(fn.handlers.includes("fetch") ? "GET" : "POST");
  const [target, setTarget] = useState("/");
  const [headers, setHeaders] = useState("");
  const [body, setBody] = useState("");
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<{ answer?: Answer; error?: ApiError | Error } | undefined>(undefined);
  const send = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    try {
      const sent = { method, path: target, headers: parseHeaders(headers), ...(method === "GET" || method === "HEAD" || body === "" ? {} : { body }) };
      setOutcome({ answer: await api.post<Answer>(`${path}/invoke`, sent) });
    } catch (error) {
      setOutcome({ error: error as Error });
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card" onSubmit={send} aria-label="Test">
      <h2>Test</h2>
      <div class="row">
        <label>Method
          <select value={method} onChange={(e: Event) => setMethod((e.target as HTMLSelectElement).value)}>
            {METHODS.map((m) => <option value={m} selected={m === method}>{m}</option>)}
          </select>
        </label>
        <label class="grow">Path <input value={target} onInput={(e: Event) => setTarget((e.target as HTMLInputElement).value)} /></label>
        <button type="submit" class="primary" disabled={busy}>Send</button>
      </div>
      <div class="row">
        <label class="grow block">Headers <textarea rows={3} placeholder="content-type: application/json" value={headers} onInput={(e: Event) => setHeaders((e.target as HTMLTextAreaElement).value)} /></label>
        <label class="grow block">Body <textarea rows={3} value={body} onInput={(e: Event) => setBody((e.target as HTMLTextAreaElement).value)} /></label>
      </div>
      {outcome ? <Outcome tenant={tenant} {...outcome} /> : null}
    </form>
  );
}

export function Outcome({ tenant, answer, error }: { tenant: string; answer?: Answer; error?: Error }) {
  if (error) {
    const runId = error instanceof ApiError ? (error.details.runId as string | undefined) : undefined;
    return (
      <div class="answer" aria-label="Response">
        <p class="error" role="alert">{error instanceof ApiError ? `${error.status} ${error.code}: ` : ""}{error.message}</p>
        {runId ? <p><a href={tenantHref(tenant, "runs", runId)}>Open the run</a></p> : null}
      </div>
    );
  }
  if (!answer) return null;
  return (
    <div class="answer" aria-label="Response">
      <p><strong class={answer.status < 400 ? "ok" : "error"}>Status {answer.status}</strong> · {ms(answer.durationMs)} · <a href={tenantHref(tenant, "runs", answer.runId)}>Open the run</a></p>
      <details>
        <summary>Headers ({answer.headers.length})</summary>
        <table><tbody>{answer.headers.map(([name, value]) => <tr><td>{name}</td><td>{value}</td></tr>)}</tbody></table>
      </details>
      <pre class="body" aria-label="Response body">{answer.body ?? `(binary, base64) ${answer.bodyBase64}`}</pre>
    </div>
  );
}

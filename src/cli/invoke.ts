// isobox invoke <name>: one HTTP request to a function, its answer printed.
import type { ApiClient } from "./client.ts";
import { CliError, type Output } from "./output.ts";

export interface InvokeOptions {
  tenant?: string;
  method?: string;
  path?: string;
  data?: string;
  headers?: string[];
}

export async function invokeFunction(client: ApiClient, out: Output, name: string, options: InvokeOptions): Promise<void> {
  const tenant = options.tenant ?? "default";
  const path = options.path ?? "/";
  const headers: Record<string, string> = {};
  for (const header of options.headers ?? []) {
    const colon = header.indexOf(":");
    if (colon <= 0) throw new CliError(`--header ${JSON.stringify(header)}: expected "Name: value"`);
    headers[header.slice(0, colon).trim()] = header.slice(colon + 1).trim();
  }
  if (options.data !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) {
    headers["content-type"] = options.data.trim().startsWith("{") || options.data.trim().startsWith("[") ? "application/json" : "text/plain";
  }
  const method = (options.method ?? (options.data === undefined ? "GET" : "POST")).toUpperCase();
  const started = performance.now();
  const response = await client.raw(method, `/fn/${encodeURIComponent(tenant)}/${encodeURIComponent(name)}${path.startsWith("/") ? path : `/${path}`}`, { headers, body: options.data });
  const body = await response.text();
  const ms = Math.round(performance.now() - started);
  out.result(
    { status: response.status, headers: Object.fromEntries(response.headers), body, durationMs: ms },
    body,
  );
  out.progress(`${response.status} ${response.statusText} in ${ms} ms`);
  if (response.status >= 400) process.exitCode = 1;
}

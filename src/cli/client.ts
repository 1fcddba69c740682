// The management API as the CLI calls it: ISOBOX_URL and ISOBOX_TOKEN, or the local node's
// URL and the admin token in its data dir.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CliError } from "./output.ts";

export interface ApiClient {
  baseUrl: string;
  request<T>(method: string, path: string, body?: unknown): Promise<T>;
  raw(method: string, path: string, init?: { headers?: Record<string, string>; body?: string }): Promise<Response>;
}

function localToken(): string | undefined {
  const dir = process.env.ISOBOX_DATA_DIR ?? "./.isobox";
  try {
    return readFileSync(join(dir, "admin-token"), "utf8").trim();
  } catch {
    return undefined;
  }
}

export function apiClient(options: { url?: string; token?: string } = {}): ApiClient {
  const baseUrl = (options.url ?? process.env.ISOBOX_URL ?? `http://localhost:${process.env.PORT ?? 8787}`).replace(/\/+$/, "");
  const token = options.token ?? process.env.ISOBOX_TOKEN ?? localToken();
  const raw = async (method: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}) => {
    const headers: Record<string, string> = { ...init.headers };
    if (token && !Object.keys(headers).some((h) => h.toLowerCase() === "authorization")) headers.authorization = `Bearer ${token}`;
    try {
      return await fetch(`${baseUrl}${path}`, { method, headers, body: init.body });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      throw new CliError(`Cannot reach Isobox at ${baseUrl} (${cause}); start it with \`isobox start\` or set ISOBOX_URL`);
    }
  };
  return {
    baseUrl,
    raw,
    async request<T>(method: string, path: string, body?: unknown): Promise<T> {
      const response = await raw(method, path, body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      const text = await response.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        throw new CliError(`${method} ${path}: HTTP ${response.status}, not JSON: ${text.slice(0, 200)}`);
      }
      if (!response.ok) {
        const error = (parsed as { error?: { code?: string; message?: string } })?.error;
        const hint = response.status === 401 ? " (set ISOBOX_TOKEN to the admin token or a tenant API key)" : "";
        throw new CliError(`${error?.code ?? `HTTP ${response.status}`}: ${error?.message ?? text.slice(0, 200)}${hint}`);
      }
      return parsed as T;
    },
  };
}

/** A management API path under a tenant (default: "default"). */
export function tenantPath(tenant: string | undefined, rest: string): string {
  return `/api/tenants/${encodeURIComponent(tenant ?? "default")}${rest}`;
}

// isobox functions: list, show, versions, rollback, delete.
import { tenantPath, type ApiClient } from "./client.ts";
import { confirm } from "./confirm.ts";
import type { Output } from "./output.ts";

interface FunctionItem { name: string; version: number; latestVersion: number; handlers: string[]; url: string; tool?: { description: string }; updatedAt: string }
interface FunctionDetail extends FunctionItem { manifest: unknown; versions: { version: number; createdAt: string }[] }

const fnPath = (tenant: string | undefined, name: string, rest = "") => tenantPath(tenant, `/functions/${encodeURIComponent(name)}${rest}`);

export async function listFunctions(client: ApiClient, out: Output, options: { tenant?: string }): Promise<void> {
  const { functions } = await client.request<{ functions: FunctionItem[] }>("GET", tenantPath(options.tenant, "/functions"));
  const lines = functions.map((fn) => `${fn.name.padEnd(24)} v${String(fn.version).padEnd(4)}${fn.version !== fn.latestVersion ? ` (latest v${fn.latestVersion})` : ""} ${(fn.handlers.join(",") || "—").padEnd(22)} ${fn.tool ? "tool " : ""}${fn.url}`);
  out.result({ functions }, lines.length ? lines.join("\n") : `No functions in ${options.tenant ?? "default"}`);
}

export async function showFunction(client: ApiClient, out: Output, name: string, options: { tenant?: string }): Promise<void> {
  const fn = await client.request<FunctionDetail>("GET", fnPath(options.tenant, name));
  out.result(fn, [
    `${fn.name} v${fn.version} (latest v${fn.latestVersion}, ${fn.versions.length} versions)`,
    `url:      ${fn.url}`,
    `handlers: ${fn.handlers.join(", ") || "—"}`,
    `manifest: ${JSON.stringify(fn.manifest, null, 2).replaceAll("\n", "\n          ")}`,
  ].join("\n"));
}

export async function listVersions(client: ApiClient, out: Output, name: string, options: { tenant?: string }): Promise<void> {
  const fn = await client.request<FunctionDetail>("GET", fnPath(options.tenant, name));
  out.result({ versions: fn.versions, serving: fn.version }, fn.versions.map((v) => `v${String(v.version).padEnd(4)} ${v.createdAt}${v.version === fn.version ? "  serving" : ""}`).join("\n"));
}

export async function rollback(client: ApiClient, out: Output, name: string, version: number, options: { tenant?: string }): Promise<void> {
  const result = await client.request<{ name: string; version: number; url: string }>("POST", fnPath(options.tenant, name, "/rollback"), { version });
  out.result(result, `${result.name} serves v${result.version} → ${result.url}`);
}

export async function deleteFunction(client: ApiClient, out: Output, name: string, options: { tenant?: string; yes?: boolean }): Promise<void> {
  await confirm(`Delete ${options.tenant ?? "default"}/${name} and all its versions?`, options.yes);
  const result = await client.request<{ name: string; deleted: boolean }>("DELETE", fnPath(options.tenant, name));
  out.result(result, `Deleted ${options.tenant ?? "default"}/${result.name}`);
}

// isobox tenants (list, create, quotas) and isobox keys (create, list, revoke).
import { tenantPath, type ApiClient } from "./client.ts";
import { confirm } from "./confirm.ts";
import { CliError, type Output } from "./output.ts";

interface Tenant { name: string; quotas?: Record<string, number> | null; createdAt?: string }

export async function listTenants(client: ApiClient, out: Output): Promise<void> {
  const { tenants } = await client.request<{ tenants: Tenant[] }>("GET", "/api/tenants");
  out.result({ tenants }, tenants.map((t) => `${t.name.padEnd(24)} ${t.quotas && Object.keys(t.quotas).length ? JSON.stringify(t.quotas) : "default quotas"}`).join("\n"));
}

export async function createTenant(client: ApiClient, out: Output, name: string): Promise<void> {
  const created = await client.request<{ name: string; apiKey: string }>("POST", "/api/tenants", { name });
  out.result(created, `Created tenant ${created.name}. Its API key (shown once, keep it): ${created.apiKey}`);
}

/** `--set requestsPerSecond=10 --set functions=20`: each a quota; without --set, the quotas shown. */
export async function tenantQuotas(client: ApiClient, out: Output, name: string, sets: string[] | undefined): Promise<void> {
  if (!sets?.length) {
    const tenant = await client.request<Tenant>("GET", `/api/tenants/${encodeURIComponent(name)}`);
    out.result(tenant, `${tenant.name}: ${tenant.quotas && Object.keys(tenant.quotas).length ? JSON.stringify(tenant.quotas) : "default quotas"}`);
    return;
  }
  const quotas: Record<string, number> = {};
  for (const set of sets) {
    const [key, value] = set.split("=");
    const n = Number(value);
    if (!key || value === undefined || !Number.isFinite(n)) throw new CliError(`--set ${set}: expected name=number, e.g. requestsPerSecond=10`, 2);
    quotas[key] = n;
  }
  const tenant = await client.request<Tenant>("PATCH", `/api/tenants/${encodeURIComponent(name)}`, { quotas });
  out.result(tenant, `${tenant.name}: ${JSON.stringify(tenant.quotas)}`);
}

export async function createKey(client: ApiClient, out: Output, options: { tenant?: string }): Promise<void> {
  const key = await client.request<{ id: string; apiKey: string }>("POST", tenantPath(options.tenant, "/keys"), {});
  out.result(key, `Key ${key.id} of ${options.tenant ?? "default"} (shown once, keep it): ${key.apiKey}`);
}

export async function listKeys(client: ApiClient, out: Output, options: { tenant?: string }): Promise<void> {
  const { keys } = await client.request<{ keys: { id: string; prefix?: string; createdAt: string }[] }>("GET", tenantPath(options.tenant, "/keys"));
  out.result({ keys }, keys.length ? keys.map((k) => `${k.id}  ${(k.prefix ?? "").padEnd(12)} ${k.createdAt}`).join("\n") : "No keys");
}

export async function revokeKey(client: ApiClient, out: Output, id: string, options: { tenant?: string; yes?: boolean }): Promise<void> {
  await confirm(`Revoke key ${id} of ${options.tenant ?? "default"}? Clients using it stop working within 5 s.`, options.yes);
  const result = await client.request<unknown>("DELETE", tenantPath(options.tenant, `/keys/${encodeURIComponent(id)}`));
  out.result(result, `Revoked key ${id}`);
}

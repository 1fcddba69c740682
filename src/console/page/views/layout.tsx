// Every signed-in view: the tenant selector, the navigation and Sign out.
import type { Child } from "hono/jsx";
import { api, signOut, type Principal } from "../api.ts";
import { useLoad } from "../components.tsx";
import { go, href, SECTIONS, tenantHref, type Route, type Section } from "../route.ts";

export function Layout({ principal, route, onSignedOut, children }: { principal: Principal; route: Route; onSignedOut: () => void; children: Child }) {
  const tenant = "tenant" in route ? route.tenant : principal.kind === "tenant" ? principal.tenant : "default";
  const section: Section = "tenant" in route ? route.view as Section : "functions";
  const tenants = useLoad(async () => {
    if (principal.kind === "tenant") return [principal.tenant];
    return ((await api.get<{ tenants: { name: string }[] }>("/tenants")).tenants).map((t) => t.name);
  }, [principal.kind]);
  const names = tenants.data ?? [tenant];
  const out = async () => {
    await signOut().catch(() => {});
    onSignedOut();
  };
  return (
    <div class="shell">
      <header>
        <a class="brand" href={tenantHref(tenant, "functions")}>Isobox</a>
        <label class="tenant-select">
          Tenant
          <select value={tenant} onChange={(e: Event) => go(tenantHref((e.target as HTMLSelectElement).value, section))}>
            {(names.includes(tenant) ? names : [tenant, ...names]).map((name) => <option value={name} selected={name === tenant}>{name}</option>)}
          </select>
        </label>
        <nav aria-label="Sections">
          {SECTIONS.map(({ section: s, label }) => (
            <a href={tenantHref(tenant, s)} aria-current={route.view === s ? "page" : undefined}>{label}</a>
          ))}
          {principal.kind === "admin" ? <a href={href("tenants")} aria-current={route.view === "tenants" ? "page" : undefined}>Tenants</a> : null}
        </nav>
        <span class="who">{principal.kind === "admin" ? "admin" : `key of ${principal.tenant}`}</span>
        <button type="button" onClick={out}>Sign out</button>
      </header>
      <main>{children}</main>
    </div>
  );
}

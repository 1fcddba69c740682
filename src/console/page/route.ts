// Each view has a URL of its own, in the fragment (the node serves one page at /): it survives a
// reload and can be shared. The tenant is part of it: #/t/<tenant>/<section>[/<id>][?filters].
import { useEffect, useState } from "hono/jsx/dom";

export type Section = "functions" | "runs" | "jobs" | "schedules" | "webhooks" | "secrets" | "logs";
export const SECTIONS: { section: Section; label: string }[] = [
  { section: "functions", label: "Functions" },
  { section: "runs", label: "Runs" },
  { section: "jobs", label: "Jobs" },
  { section: "schedules", label: "Schedules" },
  { section: "webhooks", label: "Webhooks" },
  { section: "secrets", label: "Secrets" },
  { section: "logs", label: "Logs" },
];

export type Route =
  | { view: "home" }
  | { view: "tenants"; name?: string }
  | { view: Section; tenant: string; id?: string; params: URLSearchParams };

export function parseRoute(hash: string): Route {
  const [path, search = ""] = hash.replace(/^#/, "").split("?", 2);
  const parts = path.split("/").filter(Boolean).map((part) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  });
  if (parts[0] === "tenants") return { view: "tenants", name: parts[1] };
  const section = SECTIONS.find((s) => s.section === parts[2])?.section;
  if (parts[0] === "t" && parts[1] && section) return { view: section, tenant: parts[1], id: parts[3], params: new URLSearchParams(search) };
  return { view: "home" };
}

/** The URL of a view; only ever "#/…" built from escaped parts, never a value taken as a URL. */
export function href(...parts: (string | Record<string, string | undefined>)[]): string {
  let params = "";
  const path = parts.map((part) => {
    if (typeof part === "string") return encodeURIComponent(part);
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(part)) if (value) search.set(key, value);
    params = search.toString();
    return "";
  }).filter(Boolean).join("/");
  return `#/${path}${params ? `?${params}` : ""}`;
}

export const tenantHref = (tenant: string, section: Section, id?: string, params?: Record<string, string | undefined>) =>
  href("t", tenant, section, ...(id ? [id] : []), ...(params ? [params] : []));

export function go(to: string): void {
  location.hash = to.slice(1);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const changed = () => setRoute(parseRoute(location.hash));
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  return route;
}

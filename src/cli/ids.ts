// Ids as people type them: a full id, or a unique prefix of 8 or more characters (as git takes
// commit ids), found among the tenant's recent jobs, runs or deliveries.
import { tenantPath, type ApiClient } from "./client.ts";
import { CliError } from "./output.ts";

const FULL_ID = /^[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}$/i;
const MIN_PREFIX = 8;
/** Pages of 500 read looking for a prefix: the last 5,000 of each kind. */
const MAX_PAGES = 10;

type Kind = "jobs" | "runs" | "webhooks/events";

export async function fullId(client: ApiClient, tenant: string | undefined, kind: Kind, given: string): Promise<string> {
  if (FULL_ID.test(given)) return given;
  const what = kind === "webhooks/events" ? "event" : kind.slice(0, -1);
  if (given.length < MIN_PREFIX) throw new CliError(`${given}: give the whole ${what} id or at least ${MIN_PREFIX} of its first characters`, 2);
  const matches = new Set<string>();
  let cursor: string | null = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const query = new URLSearchParams({ limit: "500", ...(cursor ? { cursor } : {}) });
    const answer: { [key: string]: unknown; nextCursor: string | null } = await client.request("GET", tenantPath(tenant, `/${kind}?${query}`));
    const items = (answer[kind === "webhooks/events" ? "events" : kind] as { id: string }[]) ?? [];
    for (const item of items) if (item.id.startsWith(given)) matches.add(item.id);
    cursor = answer.nextCursor;
    if (!cursor) break;
  }
  if (matches.size === 1) return [...matches][0];
  if (matches.size === 0) throw new CliError(`No ${what} of tenant ${tenant ?? "default"} starts with ${given}`);
  throw new CliError(`${given} is ambiguous: ${[...matches].slice(0, 5).join(", ")}${matches.size > 5 ? ", …" : ""}; give more characters`);
}

// isobox hooks: which URL to give each provider, the deliveries and why refused ones were, a
// replay, and a test delivery signed as the provider signs.
import { readFile } from "node:fs/promises";
import { tenantPath, type ApiClient } from "./client.ts";
import { fullId } from "./ids.ts";
import { CliError, type Output } from "./output.ts";

interface Hook { function: string; hook: string; scheme: string; secret: string; url: string }

interface Event { id: string; function: string; hook: string; status: string; reason?: { code: string; message: string }; jobId?: string; receivedAt: string }

export async function listHooks(client: ApiClient, out: Output, options: { tenant?: string }): Promise<void> {
  const { webhooks } = await client.request<{ webhooks: Hook[] }>("GET", tenantPath(options.tenant, "/webhooks"));
  const lines = webhooks.map((h) => `${`${h.function}/${h.hook}`.padEnd(30)} ${h.scheme.padEnd(12)} secret ${h.secret.padEnd(24)} ${h.url}`);
  out.result({ webhooks }, lines.length ? `Paste each URL into the provider's webhook settings:\n${lines.join("\n")}` : "No webhooks");
}

export async function listDeliveries(client: ApiClient, out: Output, options: { tenant?: string; function?: string; status?: string }): Promise<void> {
  const query = new URLSearchParams();
  if (options.function) query.set("function", options.function);
  if (options.status) query.set("status", options.status);
  const { events } = await client.request<{ events: Event[] }>("GET", tenantPath(options.tenant, `/webhooks/events?${query}`));
  const lines = events.map((e) => `${e.id}  ${`${e.function}/${e.hook}`.padEnd(30)} ${e.status.padEnd(9)} ${e.receivedAt}  ${e.reason ? `${e.reason.code}: ${e.reason.message}` : `job ${e.jobId}`}`);
  out.result({ events }, lines.length ? lines.join("\n") : "No deliveries");
}

export async function replayDelivery(client: ApiClient, out: Output, given: string, options: { tenant?: string }): Promise<void> {
  const id = await fullId(client, options.tenant, "webhooks/events", given);
  const result = await client.request<{ eventId: string; jobId: string }>("POST", tenantPath(options.tenant, `/webhooks/events/${encodeURIComponent(id)}/replay`), {});
  out.result(result, `Replayed ${result.eventId}: job ${result.jobId}`);
}

/** `--payload JSON` or `--payload @file`: the delivery's JSON body; none sends the provider's kind of test event. */
async function payloadOf(given: string | undefined): Promise<unknown> {
  if (given === undefined) return undefined;
  const text = given.startsWith("@") ? await readFile(given.slice(1), "utf8").catch((error: NodeJS.ErrnoException) => { throw new CliError(`--payload ${given}: cannot read the file (${error.code})`, 2); }) : given;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CliError(`--payload: not JSON (${(error as Error).message})`, 2);
  }
}

export async function sendDelivery(client: ApiClient, out: Output, fn: string, hook: string, options: { tenant?: string; payload?: string }): Promise<void> {
  const payload = await payloadOf(options.payload);
  const result = await client.request<{ eventId: string; jobId: string }>("POST", tenantPath(options.tenant, `/webhooks/${encodeURIComponent(fn)}/${encodeURIComponent(hook)}/send`), payload === undefined ? {} : { payload });
  out.result(result, `Delivered to ${fn}/${hook}, signed as its provider signs: 202, event ${result.eventId}, job ${result.jobId}`);
}

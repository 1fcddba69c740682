// isobox schedules and isobox hooks: what fires when, and which URL to give each provider.
import { tenantPath, type ApiClient } from "./client.ts";
import type { Output } from "./output.ts";

interface Schedule {
  id: string;
  cron: string;
  timezone: string;
  paused: boolean;
  nextRuns: string[];
  lastRun: { scheduledTime: string | null; jobId: string; status: string | null } | null;
}

interface Hook { function: string; hook: string; scheme: string; secret: string; url: string }

interface Event { id: string; function: string; hook: string; status: string; reason?: { code: string; message: string }; jobId?: string; receivedAt: string }


export async function listSchedules(client: ApiClient, out: Output, options: { tenant?: string }): Promise<void> {
  const { schedules } = await client.request<{ schedules: Schedule[] }>("GET", tenantPath(options.tenant, "/schedules"));
  const lines = schedules.map((s) => {
    const last = s.lastRun ? `last ${s.lastRun.scheduledTime} ${s.lastRun.status ?? ""}` : "never ran";
    return `${s.id.padEnd(28)} ${`${s.cron} (${s.timezone})`.padEnd(36)} ${s.paused ? "paused" : `next ${s.nextRuns[0]}`}  ${last}`;
  });
  out.result({ schedules }, lines.length ? lines.join("\n") : "No schedules");
}

export async function changeSchedule(client: ApiClient, out: Output, action: "trigger" | "pause" | "resume", id: string, options: { tenant?: string }): Promise<void> {
  const result = await client.request<{ jobId?: string; paused?: boolean }>("POST", tenantPath(options.tenant, `/schedules/${encodeURIComponent(id)}/${action}`), {});
  out.result(result, action === "trigger" ? `Fired ${id}: job ${result.jobId}` : `${id} ${action === "pause" ? "paused" : "resumed"}`);
}

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

export async function replayDelivery(client: ApiClient, out: Output, id: string, options: { tenant?: string }): Promise<void> {
  const result = await client.request<{ eventId: string; jobId: string }>("POST", tenantPath(options.tenant, `/webhooks/events/${encodeURIComponent(id)}/replay`), {});
  out.result(result, `Replayed ${result.eventId}: job ${result.jobId}`);
}

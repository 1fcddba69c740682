// isobox schedules: what fires when; fire, pause, resume.
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

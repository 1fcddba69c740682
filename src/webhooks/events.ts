// Webhook deliveries as stored: rejected ones recorded, lists and single events read back.
import { sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { storableHeaders } from "./storable.ts";
import { storableText } from "../db/storable.ts";
import { afterCursor, pageOf, type Cursor } from "../db/cursor.ts";

export interface EventRow {
  id: string;
  function: string;
  hook: string;
  deliveryId: string | null;
  status: "accepted" | "rejected";
  reason: { code: string; message: string } | null;
  headers: Record<string, string>;
  body: string | null;
  jobId: string | null;
  receivedAt: Date;
}

const COLUMNS = sql.raw(`id, function, hook, delivery_id as "deliveryId", status, reason, headers, body, job_id as "jobId", received_at as "receivedAt"`);
const SUMMARY = sql.raw(`id, function, hook, delivery_id as "deliveryId", status, reason, null as headers, null as body, job_id as "jobId", received_at as "receivedAt"`);

function toRow(row: Record<string, unknown>): EventRow {
  const event = row as unknown as EventRow;
  event.receivedAt = new Date(event.receivedAt);
  return event;
}

/**
 * Stores a refused delivery without its body. Its headers and reason may hold what made it
 * unstorable (a NUL, an unpaired surrogate), so they are made storable first.
 */
export async function recordRejected(db: Db, event: { id: string; tenant: string; function: string; hook: string; reason: { code: string; message: string }; headers: Record<string, string> }): Promise<void> {
  const reason = { code: event.reason.code, message: storableText(event.reason.message) };
  await db.rows(sql`
    insert into webhook_events (id, tenant, function, hook, status, reason, headers)
    values (${event.id}, ${event.tenant}, ${event.function}, ${event.hook}, 'rejected', ${JSON.stringify(reason)}::jsonb, ${JSON.stringify(storableHeaders(event.headers))}::jsonb)`);
}

export interface EventFilter {
  function?: string;
  hook?: string;
  status?: "accepted" | "rejected";
  limit: number;
  cursor?: Cursor;
}

export async function listEvents(db: Db, tenant: string, filter: EventFilter): Promise<{ page: EventRow[]; nextCursor: string | null }> {
  const conditions = [sql`tenant = ${tenant}`];
  if (filter.function) conditions.push(sql`function = ${filter.function}`);
  if (filter.hook) conditions.push(sql`hook = ${filter.hook}`);
  if (filter.status) conditions.push(sql`status = ${filter.status}`);
  if (filter.cursor) conditions.push(afterCursor(sql`received_at`, filter.cursor));
  const rows = await db.rows(sql`select ${SUMMARY} from webhook_events where ${sql.join(conditions, sql` and `)} order by received_at desc, id desc limit ${filter.limit + 1}::int`);
  return pageOf(rows.map(toRow), filter.limit, (event) => ({ at: event.receivedAt, id: event.id }));
}

export async function getEvent(db: Db, tenant: string, id: string): Promise<EventRow | undefined> {
  const [row] = await db.rows(sql`select ${COLUMNS} from webhook_events where tenant = ${tenant} and id = ${id}`);
  return row ? toRow(row) : undefined;
}

/**
 * Deletes deliveries received before `before` whose job is gone too: while its job exists, an
 * event must stay, or a late redelivery would start a second job.
 */
export async function deleteOldEvents(db: Db, before: Date): Promise<void> {
  await db.rows(sql`
    delete from webhook_events e where received_at < ${before.toISOString()}::timestamptz
      and (job_id is null or not exists (select 1 from jobs j where j.id = e.job_id))`);
}

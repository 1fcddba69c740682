// The database tables. drizzle-kit generates schema/migrations from this file. The types of
// column values come from sandbox/protocol.ts, their one source (it imports nothing).
import { sql } from "drizzle-orm";
import type { JobError, JobStatus, JobTrigger, StepKind, StepStatus } from "../sandbox/protocol.ts";
import { bigint, boolean, check, index, integer, jsonb, pgTable, primaryKey, real, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

const createdAt = () => timestamp("created_at", { withTimezone: true }).notNull().defaultNow();

export const tenants = pgTable("tenants", {
  name: text("name").primaryKey(),
  quotas: jsonb("quotas").$type<Record<string, number>>().notNull().default({}),
  createdAt: createdAt(),
});

/** Tenant API keys, stored as SHA-256 of the key; the key itself is shown once. */
export const apiKeys = pgTable("api_keys", {
  id: text("id").primaryKey(),
  tenant: text("tenant").notNull().references(() => tenants.name, { onDelete: "cascade" }),
  hash: text("hash").notNull(),
  prefix: text("prefix").notNull(),
  createdAt: createdAt(),
}, (t) => [uniqueIndex("api_keys_hash").on(t.hash), index("api_keys_tenant").on(t.tenant)]);

/** A deployed function: its name and which immutable version serves. */
export const functions = pgTable("functions", {
  tenant: text("tenant").notNull().references(() => tenants.name, { onDelete: "cascade" }),
  name: text("name").notNull(),
  activeVersion: integer("active_version").notNull(),
  latestVersion: integer("latest_version").notNull(),
  createdAt: createdAt(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
}, (t) => [primaryKey({ columns: [t.tenant, t.name] })]);

/** Every deploy is a new row here; rows are never updated. */
export const functionVersions = pgTable("function_versions", {
  tenant: text("tenant").notNull(),
  name: text("name").notNull(),
  version: integer("version").notNull(),
  code: text("code").notNull(),
  manifest: jsonb("manifest").$type<Record<string, unknown>>().notNull(),
  sourceMap: text("source_map"),
  /** What the console's editor shows: the source `code` was compiled from, when it was deployed as source. */
  source: text("source"),
  language: text("language").$type<"ts" | "js">(),
  /** The handlers the module's default export has (fetch, job, scheduled), read at deploy. */
  handlers: text("handlers").array(),
  createdAt: createdAt(),
}, (t) => [primaryKey({ columns: [t.tenant, t.name, t.version] })]);

/** What started a run: a request through /fn/, an attempt of a job (job, cron, webhook), an MCP tools/call. */
export const RUN_TRIGGERS = ["http", "job", "cron", "webhook", "mcp"] as const;
export type RunTrigger = (typeof RUN_TRIGGERS)[number];
export const RUN_STATUSES = ["succeeded", "failed", "suspended"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** One invocation of a function: an HTTP request, a job attempt, a cron fire, a webhook. */
export const runs = pgTable("runs", {
  id: text("id").primaryKey(),
  tenant: text("tenant").notNull(),
  function: text("function").notNull(),
  version: integer("version").notNull(),
  trigger: text("trigger").$type<RunTrigger>().notNull(),
  status: text("status").$type<RunStatus>().notNull(),
  startedAt: timestamp("started_at", { withTimezone: true }).notNull(),
  durationMs: real("duration_ms").notNull(),
  cpuMs: real("cpu_ms").notNull(),
  /** Heap the isolate held at the end of the run, in bytes. */
  memoryBytes: bigint("memory_bytes", { mode: "number" }),
  httpStatus: integer("http_status"),
  error: jsonb("error").$type<{ code: string; message: string; stack?: string }>(),
  traceId: text("trace_id").notNull(),
  logCount: integer("log_count").notNull().default(0),
  /** The job and attempt, for job, cron and webhook runs. */
  jobId: text("job_id"),
  attempt: integer("attempt"),
}, (t) => [
  index("runs_tenant_started").on(t.tenant, t.startedAt.desc(), t.id.desc()),
  index("runs_tenant_function_started").on(t.tenant, t.function, t.startedAt.desc()),
  index("runs_job").on(t.jobId).where(sql`job_id is not null`),
  // Retention deletes the oldest runs, whichever tenant's.
  index("runs_started").on(t.startedAt),
]);

export const runLogs = pgTable("run_logs", {
  runId: text("run_id").notNull().references(() => runs.id, { onDelete: "cascade" }),
  seq: integer("seq").notNull(),
  time: timestamp("time", { withTimezone: true }).notNull(),
  level: text("level").notNull(),
  message: text("message").notNull(),
  /** Structured fields of the line (console.log("text", { key: value })). */
  fields: jsonb("fields").$type<Record<string, unknown>>(),
}, (t) => [primaryKey({ columns: [t.runId, t.seq] })]);


/** Tenant secrets, encrypted with AES-256-GCM under the master key (see src/capabilities/secrets.ts). */
export const secrets = pgTable("secrets", {
  tenant: text("tenant").notNull().references(() => tenants.name, { onDelete: "cascade" }),
  name: text("name").notNull(),
  ciphertext: text("ciphertext").notNull(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
}, (t) => [primaryKey({ columns: [t.tenant, t.name] })]);

/**
 * Background work: one row per job; an attempt holds a lease (`locked_by`,
 * `locked_until`) renewed by heartbeat. All SQL about jobs is in src/jobs/queue.ts.
 */
export const jobs = pgTable("jobs", {
  id: text("id").primaryKey(),
  tenant: text("tenant").notNull(),
  function: text("function").notNull(),
  /** The version that ran the latest attempt (the active one when it started). */
  version: integer("version"),
  trigger: text("trigger").$type<JobTrigger>().notNull().default("job"),
  payload: jsonb("payload"),
  status: text("status").$type<JobStatus>().notNull(),
  attempts: integer("attempts").notNull().default(0),
  maxAttempts: integer("max_attempts").notNull(),
  runAt: timestamp("run_at", { withTimezone: true }).notNull().defaultNow(),
  priority: integer("priority").notNull().default(0),
  /** Idempotency key, unique per (tenant, function). */
  key: text("key"),
  /** The function's jobs.concurrency when enqueued; null is unbounded. */
  concurrency: integer("concurrency"),
  lockedBy: text("locked_by"),
  lockedUntil: timestamp("locked_until", { withTimezone: true }),
  result: jsonb("result"),
  error: jsonb("error").$type<JobError>(),
  notify: text("notify"),
  notifiedAt: timestamp("notified_at", { withTimezone: true }),
  traceId: text("trace_id").notNull(),
  createdAt: createdAt(),
  startedAt: timestamp("started_at", { withTimezone: true }),
  finishedAt: timestamp("finished_at", { withTimezone: true }),
}, (t) => [
  // Partial: a job without a key adds no entry, so its status changes write one index fewer.
  uniqueIndex("jobs_key").on(t.tenant, t.function, t.key).where(sql`key is not null`),
  // The claim's order: without it every claim sorted the whole queue (8–10 ms at 5,000 queued, 0.8–2 ms with it).
  index("jobs_claim").on(t.priority.desc(), t.runAt, t.id).where(sql`status = 'queued'`),
  index("jobs_due").on(t.runAt).where(sql`status = 'queued'`),
  index("jobs_running").on(t.tenant, t.function).where(sql`status = 'running'`),
  index("jobs_tenant_created").on(t.tenant, t.createdAt.desc(), t.id.desc()),
  index("jobs_finished").on(t.finishedAt).where(sql`finished_at is not null`),
]);

/** Durable step results: a later attempt of the job returns them instead of running the step. */
export const jobSteps = pgTable("job_steps", {
  jobId: text("job_id").notNull().references(() => jobs.id, { onDelete: "cascade" }),
  name: text("name").notNull(),
  kind: text("kind").$type<StepKind>().notNull(),
  status: text("status").$type<StepStatus>().notNull(),
  result: jsonb("result"),
  error: jsonb("error").$type<{ name: string; message: string }>(),
  attempt: integer("attempt").notNull(),
  startedAt: timestamp("started_at", { withTimezone: true }).notNull(),
  durationMs: real("duration_ms").notNull(),
}, (t) => [primaryKey({ columns: [t.jobId, t.name] })]);

/**
 * A function's cron schedules, replaced from its manifest on every deploy or rollback. Every node
 * ticks; `next_at` is advanced with a compare-and-set and each fire's job has the key
 * `cron:<name>:<scheduledTime>`, so a fire becomes one job however many nodes saw it.
 */
export const schedules = pgTable("schedules", {
  tenant: text("tenant").notNull(),
  function: text("function").notNull(),
  name: text("name").notNull(),
  cron: text("cron").notNull(),
  timezone: text("timezone"),
  payload: jsonb("payload"),
  overlap: text("overlap").$type<"skip" | "allow">().notNull(),
  missed: text("missed").$type<"skip" | "once" | "all">().notNull(),
  paused: boolean("paused").notNull().default(false),
  nextAt: timestamp("next_at", { withTimezone: true }).notNull(),
  lastScheduledAt: timestamp("last_scheduled_at", { withTimezone: true }),
  lastJobId: text("last_job_id"),
  createdAt: createdAt(),
}, (t) => [
  primaryKey({ columns: [t.tenant, t.function, t.name] }),
  index("schedules_due").on(t.nextAt).where(sql`not paused`),
]);

/**
 * Webhook deliveries: accepted ones with their body and the job they started (one per provider
 * delivery id), and rejected ones without the body, so a user can see why a provider's calls fail.
 */
export const webhookEvents = pgTable("webhook_events", {
  id: text("id").primaryKey(),
  tenant: text("tenant").notNull(),
  function: text("function").notNull(),
  hook: text("hook").notNull(),
  deliveryId: text("delivery_id"),
  status: text("status").$type<"accepted" | "rejected">().notNull(),
  /** Why a delivery was refused: {code, message}. */
  reason: jsonb("reason").$type<{ code: string; message: string }>(),
  headers: jsonb("headers").$type<Record<string, string>>().notNull(),
  body: text("body"),
  jobId: text("job_id"),
  receivedAt: timestamp("received_at", { withTimezone: true }).notNull().defaultNow(),
}, (t) => [
  uniqueIndex("webhook_events_delivery").on(t.tenant, t.function, t.hook, t.deliveryId).where(sql`status = 'accepted'`),
  index("webhook_events_tenant_received").on(t.tenant, t.receivedAt.desc(), t.id.desc()),
]);

/** The steps one run went through (a job attempt's step.run and step.sleep calls), in order. */
export const runSteps = pgTable("run_steps", {
  runId: text("run_id").notNull().references(() => runs.id, { onDelete: "cascade" }),
  seq: integer("seq").notNull(),
  name: text("name").notNull(),
  /** succeeded, failed, replayed (a stored result returned without running), sleeping. */
  status: text("status").notNull(),
  /** Milliseconds from the run's start. */
  offsetMs: real("offset_ms").notNull(),
  durationMs: real("duration_ms").notNull(),
  outputBytes: integer("output_bytes"),
  /** The start of the result's JSON, truncated. */
  preview: text("preview"),
  error: jsonb("error").$type<{ name: string; message: string }>(),
}, (t) => [primaryKey({ columns: [t.runId, t.seq] })]);

/**
 * What makes the nodes on this database one cluster (src/cluster/identity.ts): one row, written
 * by the first node. Never the key or the token themselves: a keyed hash of the master key that
 * encrypts the secrets, and the SHA-256 of the admin token.
 */
export const clusterIdentity = pgTable("cluster_identity", {
  /** Always true: the primary key and the check keep the table at one row. */
  id: boolean("id").primaryKey().default(true),
  /** HMAC-SHA256(master key, "isobox fingerprint"), hex; its first 16 characters are the key's fingerprint. */
  masterKeyCheck: text("master_key_check").notNull(),
  /** SHA-256 of the admin token, hex. */
  adminTokenHash: text("admin_token_hash").notNull(),
  createdAt: createdAt(),
  /** When rotate-key last made another key the cluster's. */
  keyChangedAt: timestamp("key_changed_at", { withTimezone: true }).notNull().defaultNow(),
}, (t) => [check("cluster_identity_one_row", sql`${t.id}`)]);

/**
 * Browser console sessions (src/console/sessions.ts). The cookie's value is never stored: the row
 * is found by its SHA-256, and holds the SHA-256 of the token that signed in, so a revoked key or
 * a changed admin token ends the sessions it opened.
 */
export const consoleSessions = pgTable("console_sessions", {
  idHash: text("id_hash").primaryKey(),
  tokenHash: text("token_hash").notNull(),
  createdAt: createdAt(),
  lastSeenAt: timestamp("last_seen_at", { withTimezone: true }).notNull().defaultNow(),
}, (t) => [index("console_sessions_last_seen").on(t.lastSeenAt)]);

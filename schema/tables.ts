// The database tables. drizzle-kit generates schema/migrations from this file.
import { index, integer, jsonb, pgTable, primaryKey, real, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

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
  createdAt: createdAt(),
}, (t) => [primaryKey({ columns: [t.tenant, t.name, t.version] })]);

/** One invocation of a function: an HTTP request, a job attempt, a cron fire, a webhook. */
export const runs = pgTable("runs", {
  id: text("id").primaryKey(),
  tenant: text("tenant").notNull(),
  function: text("function").notNull(),
  version: integer("version").notNull(),
  trigger: text("trigger").$type<"http" | "job" | "cron" | "webhook">().notNull(),
  status: text("status").$type<"succeeded" | "failed">().notNull(),
  startedAt: timestamp("started_at", { withTimezone: true }).notNull(),
  durationMs: real("duration_ms").notNull(),
  cpuMs: real("cpu_ms").notNull(),
  httpStatus: integer("http_status"),
  error: jsonb("error").$type<{ code: string; message: string; stack?: string }>(),
  traceId: text("trace_id").notNull(),
  logCount: integer("log_count").notNull().default(0),
}, (t) => [
  index("runs_tenant_started").on(t.tenant, t.startedAt.desc(), t.id.desc()),
  index("runs_tenant_function_started").on(t.tenant, t.function, t.startedAt.desc()),
]);

export const runLogs = pgTable("run_logs", {
  runId: text("run_id").notNull().references(() => runs.id, { onDelete: "cascade" }),
  seq: integer("seq").notNull(),
  time: timestamp("time", { withTimezone: true }).notNull(),
  level: text("level").notNull(),
  message: text("message").notNull(),
}, (t) => [primaryKey({ columns: [t.runId, t.seq] })]);


/** Tenant secrets, encrypted with AES-256-GCM under the master key (see src/capabilities/secrets.ts). */
export const secrets = pgTable("secrets", {
  tenant: text("tenant").notNull().references(() => tenants.name, { onDelete: "cascade" }),
  name: text("name").notNull(),
  ciphertext: text("ciphertext").notNull(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
}, (t) => [primaryKey({ columns: [t.tenant, t.name] })]);

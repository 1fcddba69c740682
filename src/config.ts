// Configuration: one zod schema, and the one reader of process.env.
import { z } from "zod";
import { DEFAULT_DB_SCHEMA, schemaNameProblem } from "./db/storage-schema.ts";

const int = (min: number) => z.coerce.number().int().min(min);

export const ConfigSchema = z.object({
  /** postgres://… to use a Postgres server; unset means embedded PGlite in dataDir. */
  databaseUrl: z.string().url().optional(),
  /** The Postgres schema of Isobox's tables and migrations journal (never public). */
  dbSchema: z.string().default(DEFAULT_DB_SCHEMA).superRefine((name, ctx) => {
    const problem = schemaNameProblem(name);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  }),
  dataDir: z.string().default("./.isobox"),
  host: z.string().default("0.0.0.0"),
  port: int(0).max(65535).default(8787),
  /** Worker processes; 0 means one per CPU with Postgres, one with PGlite. */
  workers: int(0).default(0),
  /** Bearer token GET /metrics requires; unset means /metrics is open. */
  metricsToken: z.string().min(16).optional(),
  /** Admin bearer token; unset means the one generated into dataDir. */
  adminToken: z.string().min(16).optional(),
  /** 32 bytes as hex or base64; unset means the one generated into dataDir. */
  masterKey: z.string().optional(),
  /** host:port pairs (or host:*) that the egress policy lets through despite a private address. */
  egressAllowPrivate: z.string().default(""),
  maxBodyBytes: int(1024).default(10 * 1024 * 1024),
  /** Outbound fetches one invocation may make. */
  maxSubrequests: int(1).default(1000),
  /** Warm isolates kept per process (LRU beyond this). */
  maxIsolates: int(1).default(500),
  /** Bare isolates kept booted so that a cold start is only a compile. */
  spareIsolates: int(0).default(2),
  /** How long SIGTERM waits for in-flight requests. */
  drainMs: int(0).default(10_000),
  /** Fraction of successful HTTP runs stored (failures are always stored). */
  httpRunSampleRate: z.coerce.number().min(0).max(1).default(1),
  /** Default limits for functions whose manifest does not set them. */
  defaultMemoryMb: int(8).default(128),
  defaultCpuMs: int(1).default(50),
  defaultWallMs: int(1).default(30_000),
  /** Processes that split each tenant's rate quotas (all workers of all nodes); unset: this node's workers. */
  quotaProcesses: int(1).optional(),
  /** Quotas of tenants that set none; unset means unlimited. */
  quotaFunctions: int(0).optional(),
  quotaMemoryMb: int(0).optional(),
  quotaConcurrency: int(0).optional(),
  quotaRequestsPerSecond: z.coerce.number().min(0).optional(),
  quotaCpuMsPerMinute: int(0).optional(),
  /** Schedules a tenant may have over all its functions, when its quotas set none. */
  quotaSchedules: int(0).default(1000),
  /** OpenTelemetry: the standard variables; traces are exported only when an endpoint or OTEL_TRACES_EXPORTER=otlp is set. */
  otelEndpoint: z.string().url().optional(),
  otelTracesEndpoint: z.string().url().optional(),
  otelProtocol: z.enum(["http/protobuf", "http/json"]).default("http/protobuf"),
  otelTracesExporter: z.enum(["otlp", "none"]).optional(),
  otelServiceName: z.string().default("isobox"),
  /** Whether this process runs jobs (a node may only serve HTTP and enqueue). */
  jobRunner: z.union([z.boolean(), z.stringbool()]).default(true),
  /** Whether this process turns due cron fires into jobs (every node may: a fire is one job whoever sees it). */
  scheduler: z.union([z.boolean(), z.stringbool()]).default(true),
  /** Job attempts one process runs at once. */
  jobConcurrency: int(1).default(100),
  /** How long a claimed job is held without a heartbeat before another node may take it. */
  jobLeaseMs: int(1000).default(30_000),
  /** How often an idle runner looks for due jobs when no NOTIFY came (delayed jobs, lost notifications). */
  jobPollMs: int(10).default(1000),
  /** Runs (with their logs and steps) are deleted this long after they started. */
  runRetentionHours: z.coerce.number().min(0).default(168),
  /** The most runs kept; beyond it the oldest go first. */
  runRetentionMax: int(1).default(1_000_000),
  /** Finished jobs are deleted this long after they finished. */
  jobRetentionHours: z.coerce.number().min(0).default(168),
  /** CPU time of one job attempt, when the manifest's cpuMs is lower (cpuMs is sized for HTTP). */
  jobCpuMs: int(1).default(30_000),
  /** Whether the node serves the browser console at / (and sandboxes function pages for it, see README "Console"). */
  console: z.union([z.boolean(), z.stringbool()]).default(true),
  /** A console session idle this long ends. */
  consoleSessionIdleHours: z.coerce.number().min(0.001).max(24 * 365).default(12),
  /** Origins (besides the node's own) whose pages may call /mcp/… (README "MCP"): comma-separated. */
  mcpOrigins: z.union([z.array(z.string()), z.string()]).default([]).transform((given, ctx) => {
    const list = typeof given === "string" ? given.split(",").map((s) => s.trim()).filter(Boolean) : given;
    const origins: string[] = [];
    for (const entry of list) {
      const origin = URL.parse(entry)?.origin;
      if (!origin || origin === "null") ctx.addIssue({ code: "custom", message: `${JSON.stringify(entry.slice(0, 100))} is not an origin such as https://app.example.com` });
      else origins.push(origin);
    }
    return origins;
  }),
});

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;

const ENV: Record<keyof Config, string> = {
  databaseUrl: "DATABASE_URL",
  dbSchema: "ISOBOX_DB_SCHEMA",
  dataDir: "ISOBOX_DATA_DIR",
  host: "ISOBOX_HOST",
  port: "PORT",
  workers: "ISOBOX_WORKERS",
  metricsToken: "ISOBOX_METRICS_TOKEN",
  adminToken: "ISOBOX_ADMIN_TOKEN",
  masterKey: "ISOBOX_MASTER_KEY",
  egressAllowPrivate: "ISOBOX_EGRESS_ALLOW_PRIVATE",
  maxBodyBytes: "ISOBOX_MAX_BODY_BYTES",
  maxSubrequests: "ISOBOX_MAX_SUBREQUESTS",
  maxIsolates: "ISOBOX_MAX_ISOLATES",
  spareIsolates: "ISOBOX_SPARE_ISOLATES",
  drainMs: "ISOBOX_DRAIN_MS",
  httpRunSampleRate: "ISOBOX_HTTP_RUN_SAMPLE_RATE",
  defaultMemoryMb: "ISOBOX_DEFAULT_MEMORY_MB",
  defaultCpuMs: "ISOBOX_DEFAULT_CPU_MS",
  defaultWallMs: "ISOBOX_DEFAULT_WALL_MS",
  quotaProcesses: "ISOBOX_QUOTA_PROCESSES",
  quotaFunctions: "ISOBOX_QUOTA_FUNCTIONS",
  quotaMemoryMb: "ISOBOX_QUOTA_MEMORY_MB",
  quotaConcurrency: "ISOBOX_QUOTA_CONCURRENCY",
  quotaRequestsPerSecond: "ISOBOX_QUOTA_REQUESTS_PER_SECOND",
  quotaCpuMsPerMinute: "ISOBOX_QUOTA_CPU_MS_PER_MINUTE",
  quotaSchedules: "ISOBOX_QUOTA_SCHEDULES",
  otelEndpoint: "OTEL_EXPORTER_OTLP_ENDPOINT",
  otelTracesEndpoint: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
  otelProtocol: "OTEL_EXPORTER_OTLP_PROTOCOL",
  otelTracesExporter: "OTEL_TRACES_EXPORTER",
  otelServiceName: "OTEL_SERVICE_NAME",
  jobRunner: "ISOBOX_JOB_RUNNER",
  scheduler: "ISOBOX_SCHEDULER",
  jobConcurrency: "ISOBOX_JOB_CONCURRENCY",
  jobLeaseMs: "ISOBOX_JOB_LEASE_MS",
  jobPollMs: "ISOBOX_JOB_POLL_MS",
  jobRetentionHours: "ISOBOX_JOB_RETENTION_HOURS",
  runRetentionHours: "ISOBOX_RUN_RETENTION_HOURS",
  runRetentionMax: "ISOBOX_RUN_RETENTION_MAX",
  jobCpuMs: "ISOBOX_JOB_CPU_MS",
  console: "ISOBOX_CONSOLE",
  consoleSessionIdleHours: "ISOBOX_CONSOLE_SESSION_IDLE_HOURS",
  mcpOrigins: "ISOBOX_MCP_ORIGINS",
};

/** The environment's settings, overridden by `overrides`; a bad value is an error naming the variable. */
export function loadConfig(overrides: ConfigInput = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const fromEnv: Record<string, string> = {};
  for (const [key, name] of Object.entries(ENV)) {
    const value = env[name];
    if (value !== undefined && value !== "") fromEnv[key] = value;
  }
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const parsed = ConfigSchema.safeParse({ ...fromEnv, ...defined });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = String(issue.path[0]) as keyof Config;
    const where = key in fromEnv && !(key in defined) ? ENV[key] : key;
    throw new Error(`Invalid configuration ${where}: ${issue.message}`);
  }
  return parsed.data;
}

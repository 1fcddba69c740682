// What the HTTP layer needs from the rest of Isobox.
import type { Config } from "../config.ts";
import type { SecretStore } from "../capabilities/secrets.ts";
import type { Db } from "../db/connect.ts";
import type { Invoker } from "../functions/invoker.ts";
import type { FunctionRegistry } from "../functions/registry.ts";
import type { TenantLimiter } from "../tenancy/quotas.ts";
import type { Notifier } from "../jobs/notify.ts";
import type { Metrics } from "../telemetry/metrics/counters.ts";
import type { LiveLogs } from "../telemetry/live-logs.ts";
import type { Authenticator } from "./auth.ts";
import type { ConsoleSessions } from "../console/sessions.ts";

export interface Services {
  config: Config;
  db: Db;
  registry: FunctionRegistry;
  invoker: Invoker;
  auth: Authenticator;
  sessions: ConsoleSessions;
  secrets: SecretStore;
  limiter: TenantLimiter;
  notifier: Notifier;
  /** Counts requests to functions; renders GET /metrics. */
  metrics: Metrics;
  /** GET /metrics sums the worker processes of `isobox start`. */
  nodeMetrics: boolean;
  liveLogs: LiveLogs;
  /** Re-encrypts every secret under the master key ring's first key (see capabilities/master-key.ts). */
  rotateKey(): Promise<{ keyId: string; reencrypted: number }>;
  /** True once migrations ran and until shutdown starts. */
  isReady(): boolean;
}

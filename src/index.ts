// Public exports only.
export { createIsobox } from "./isobox.ts";
export type { Isobox, IsoboxOptions } from "./isobox.ts";
export type { AdminToken } from "./cluster/admin-token.ts";
export type { DeployInput, Deployed } from "./functions/deploy.ts";
export type { Manifest } from "./functions/manifest.ts";
export { IsoboxError } from "./errors.ts";
export type { ErrorCode } from "./errors.ts";
export type { Handler, Env, Context, ScheduledEvent, EnqueueOptions, JobInfo, JobStatus, Steps, Span, AttributeValue } from "./types.ts";
export { NonRetriableError, RetryAfterError } from "./jobs/retry-errors.ts";
export { bundleFunction } from "./cli/bundle.ts";
export type { Bundle } from "./cli/bundle.ts";

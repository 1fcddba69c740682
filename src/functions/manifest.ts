// The function manifest (README, "Manifest"): what a function may do and how it is served.
// Strict: an unknown key or a bad value is refused with a message that names the field.
import { Cron } from "croner";
import { z } from "zod";
import { compileSchema } from "../mcp/json-schema.ts";
import { isAllowRule } from "../capabilities/egress.ts";
import { IsoboxError } from "../errors.ts";
import { PART_NAME_PATTERN, SECRET_NAME_PATTERN } from "../names.ts";
import { jsonProblem } from "../db/storable.ts";
import { MAX_PAYLOAD_BYTES } from "../jobs/enqueue.ts";

/**
 * A host ("api.openai.com", "*.github.com", "localhost:8080", "[::1]:80") or a URL prefix ending
 * in "*", optionally led by methods ("GET,HEAD https://x.com/files/*").
 */
const FETCH_RULE = /^([A-Z]+(,[A-Z]+)*\s+)?(https?:\/\/)?((\*\.)?[a-z0-9.-]+|\[[0-9a-f:.]+\])(:\d{1,5})?(\/[^\s]*)?$/i;

const YEAR_MS = 365 * 24 * 3600 * 1000;

const Hosts = z.array(z.string().regex(FETCH_RULE, "expected a host name or URL prefix").refine(isAllowRule, "expected a host name or URL prefix")).max(100);

const Limits = z.strictObject({
  memoryMb: z.number().int().min(8).max(4096).optional(),
  cpuMs: z.number().int().min(1).max(600_000).optional(),
  wallMs: z.number().int().min(1).max(900_000).optional(),
  jobWallMs: z.number().int().min(1).max(86_400_000).optional(),
});

const Secrets = z.union([
  z.array(z.string().regex(SECRET_NAME_PATTERN, "secret names are UPPER_SNAKE_CASE")).max(100),
  z.record(z.string().regex(SECRET_NAME_PATTERN, "secret names are UPPER_SNAKE_CASE"), z.strictObject({ hosts: Hosts.optional() })),
]);

const Webhook = z.strictObject({
  name: z.string().regex(PART_NAME_PATTERN, "1-63 of a-z, 0-9, - and _"),
  verify: z.strictObject({
    scheme: z.enum(["stripe", "github", "standard", "hmac-sha256"]),
    /** The tenant secret holding the signing secret (several, one per line, during a rotation). */
    secret: z.string().regex(SECRET_NAME_PATTERN, "secret names are UPPER_SNAKE_CASE"),
    /** hmac-sha256: the header carrying the signature. */
    header: z.string().regex(/^[a-z0-9-]+$/i, "a header name").optional(),
    encoding: z.enum(["hex", "base64"]).optional(),
    /** hmac-sha256: a header with a Unix timestamp, signed as "<timestamp>.<body>" and checked for age. */
    timestampHeader: z.string().regex(/^[a-z0-9-]+$/i, "a header name").optional(),
    /** hmac-sha256: the header with the provider's delivery id (redeliveries start no second job). */
    idHeader: z.string().regex(/^[a-z0-9-]+$/i, "a header name").optional(),
    toleranceSeconds: z.number().int().min(1).max(86_400).optional(),
  }).refine((verify) => verify.scheme !== "hmac-sha256" || verify.header !== undefined, { message: "hmac-sha256 needs the signature's header", path: ["header"] }),
});

/** Whether croner reads the expression in the zone (a bad zone only fails when a time is computed). */
function cronProblem(cron: string, timezone: string | undefined): string | undefined {
  try {
    new Cron(cron, { timezone, paused: true }).nextRun();
    return undefined;
  } catch (error) {
    return (error as Error).message.split(". Original error")[0];
  }
}

const Schedule = z.strictObject({
  /** Names the schedule in the API and in its jobs' keys; defaults to its index. */
  name: z.string().regex(PART_NAME_PATTERN, "1-63 of a-z, 0-9, - and _").optional(),
  /** Cron expression; a sixth leading field is seconds. */
  cron: z.string().min(1).max(200),
  /** IANA zone, e.g. "Europe/Berlin"; default UTC. */
  timezone: z.string().min(1).max(100).optional(),
  payload: z.unknown().optional(),
  /** skip: no fire while the previous fire's job is queued or running. */
  overlap: z.enum(["skip", "allow"]).optional(),
  /** Fires missed while no node ran: skip them, run the latest once, or all (at most 100). */
  missed: z.enum(["skip", "once", "all"]).optional(),
}).superRefine((schedule, ctx) => {
  // Every fire is a job: its payload is bounded as every job's is.
  if (schedule.payload !== undefined && Buffer.byteLength(JSON.stringify(schedule.payload) ?? "") > MAX_PAYLOAD_BYTES) {
    ctx.addIssue({ code: "custom", path: ["payload"], message: `larger than ${MAX_PAYLOAD_BYTES} bytes of JSON, the most a job's payload may hold` });
  }
  if (schedule.timezone !== undefined && cronProblem("* * * * *", schedule.timezone)) {
    ctx.addIssue({ code: "custom", path: ["timezone"], message: `unknown time zone "${schedule.timezone}" (expected an IANA name such as "Europe/Berlin")` });
    return;
  }
  const problem = cronProblem(schedule.cron, schedule.timezone);
  if (problem) ctx.addIssue({ code: "custom", path: ["cron"], message: `invalid cron expression "${schedule.cron}": ${problem}` });
});

export const ManifestSchema = z.strictObject({
  routes: z.strictObject({ auth: z.enum(["key", "public"]).default("key") }).optional(),
  limits: Limits.optional(),
  fetch: z.strictObject({ allow: Hosts.default([]) }).optional(),
  secrets: Secrets.optional(),
  jobs: z.strictObject({
    maxAttempts: z.number().int().min(1).max(100).optional(),
    backoff: z.strictObject({ baseMs: z.number().int().min(0).max(YEAR_MS).optional(), maxMs: z.number().int().min(0).max(YEAR_MS).optional() }).optional(),
    concurrency: z.number().int().min(1).max(10_000).optional(),
  }).optional(),
  schedules: z.array(Schedule).max(50).refine(uniqueNames, "two schedules with the same name").optional(),
  webhooks: z.array(Webhook).max(50).refine(uniqueNames, "two webhooks with the same name").optional(),
  /** The function as an MCP tool (README, "MCP"). */
  tool: z.strictObject({
    description: z.string().min(1).max(4000),
    /** JSON Schema (2020-12) of the arguments; default {"type": "object"}. */
    input: z.record(z.string(), z.unknown()).optional(),
    /** JSON Schema of the result's structuredContent: an object schema, as MCP requires. */
    output: z.record(z.string(), z.unknown()).refine((schema) => schema.type === "object", "an output schema has \"type\": \"object\"").optional(),
    annotations: z.strictObject({
      title: z.string().max(200).optional(),
      readOnlyHint: z.boolean().optional(),
      destructiveHint: z.boolean().optional(),
      idempotentHint: z.boolean().optional(),
      openWorldHint: z.boolean().optional(),
    }).optional(),
    /** "job": a call enqueues a job of the function (its job handler gets the arguments). */
    mode: z.enum(["call", "job"]).optional(),
    /** A job-mode call's wait for the job before it answers with the job's id instead. */
    waitMs: z.number().int().min(0).max(300_000).optional(),
  }).superRefine((tool, ctx) => {
    if (tool.input !== undefined && tool.input.type !== undefined && tool.input.type !== "object") ctx.addIssue({ code: "custom", path: ["input"], message: "an input schema describes the arguments object: \"type\": \"object\"" });
    for (const field of ["input", "output"] as const) {
      const schema = tool[field];
      if (schema === undefined) continue;
      try {
        compileSchema(schema);
      } catch (error) {
        ctx.addIssue({ code: "custom", path: [field], message: `not a JSON Schema this node can use: ${(error as Error).message.slice(0, 300)}` });
      }
    }
  }).optional(),
});

export type Manifest = z.infer<typeof ManifestSchema>;
export type ScheduleSpec = z.infer<typeof Schedule>;
export type WebhookSpec = z.infer<typeof Webhook>;

function uniqueNames(items: { name?: string }[]): boolean {
  const names = items.map((item, i) => item.name ?? String(i));
  return new Set(names).size === names.length;
}

/** Manifest values with every default filled in, as the runtime uses them. */
export interface ResolvedLimits {
  memoryMb: number;
  cpuMs: number;
  wallMs: number;
  jobWallMs: number;
}

/** Largest manifest, as JSON text. */
export const MAX_MANIFEST_BYTES = 1024 * 1024 * 2;

export function parseManifest(input: unknown): Manifest {
  const problem = jsonProblem(input);
  if (problem) throw invalid(`manifest${problem.path}`, problem.problem);
  if (Buffer.byteLength(JSON.stringify(input ?? {}) ?? "") > MAX_MANIFEST_BYTES) throw invalid("manifest", `larger than ${MAX_MANIFEST_BYTES} bytes of JSON`);
  const parsed = ManifestSchema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const unknownKey = issue.code === "unrecognized_keys";
  const path = unknownKey ? [...issue.path, issue.keys[0]] : issue.path;
  throw invalid(["manifest", ...path.map(String)].join("."), unknownKey ? "unknown key" : issue.message);
}

function invalid(field: string, message: string): IsoboxError {
  return new IsoboxError("ERR_INVALID_MANIFEST", `${field}: ${message}`, { details: { field } });
}

/** Names of the secrets a manifest grants. */
export function secretNames(manifest: Manifest): string[] {
  const secrets = manifest.secrets;
  if (!secrets) return [];
  return Array.isArray(secrets) ? secrets : Object.keys(secrets);
}

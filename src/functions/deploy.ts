// Deploying a function: validate name, manifest and code, store a new immutable version, tell
// every node.
import { checkModule } from "../../sandbox/host/module-check.ts";
import type { Db } from "../db/connect.ts";
import { IsoboxError } from "../errors.ts";
import { getTenant } from "../tenancy/tenants.ts";
import { checkName } from "../names.ts";
import { parseManifest, secretNames, type Manifest, type ResolvedLimits } from "./manifest.ts";
import { compileSource, type SourceLanguage } from "./compile-source.ts";
import { StackMapper } from "./source-map.ts";
import type { TenantLimiter } from "../tenancy/quotas.ts";
import { moduleFilename, type FunctionRegistry } from "./registry.ts";
import { getFunction, getVersion, insertVersion, listFunctions, setActiveVersion } from "./store.ts";
import { countSchedules, replaceSchedules } from "../jobs/schedules.ts";
import { isStorableText } from "../db/storable.ts";
import type { SecretStore } from "../capabilities/secrets.ts";
import { checkWebhookSecrets } from "../webhooks/secret-check.ts";

export const MAX_CODE_BYTES = 10 * 1024 * 1024;

export interface DeployInput {
  /** A bundled module (what `isobox deploy` sends), or else `source` with its `language`. */
  code?: string;
  source?: string;
  language?: SourceLanguage;
  manifest?: unknown;
  sourceMap?: string;
}

export interface Deployed {
  name: string;
  version: number;
  /** What will go wrong at run time though the deploy is fine (a secret the tenant does not have). */
  warnings?: string[];
}

export async function deployFunction(db: Db, registry: FunctionRegistry, limiter: TenantLimiter, secrets: SecretStore, tenant: string, name: string, input: DeployInput): Promise<Deployed> {
  checkName("function", name);
  const given = checkedText(input);
  const manifest = parseManifest(input.manifest);
  if (!(await getTenant(db.orm, tenant))) throw new IsoboxError("ERR_NOT_FOUND", `Tenant ${tenant} does not exist`);
  await checkWebhookSecrets(secrets, tenant, manifest);
  await checkQuotas(db, limiter, tenant, name, manifest);
  const language = given.field === "source" ? input.language ?? "ts" : null;
  const { code, sourceMap } = language ? await compileSource(given.text, language, `${name}.${language}`) : { code: given.text, sourceMap: input.sourceMap ?? null };
  const handlers = await moduleHandlers(code, sourceMap, given.field, moduleFilename(tenant, name), registry.limitsOf(manifest));
  checkToolHandler(manifest, handlers);
  const source = language ? given.text : null;
  const version = await insertVersion(db.orm, tenant, name, { code, manifest, sourceMap, source, language, handlers });
  await replaceSchedules(db, tenant, name, manifest.schedules ?? []);
  await registry.changed(tenant, name);
  const warnings = await missingSecrets(secrets, tenant, manifest);
  return { name, version, ...(warnings.length ? { warnings } : {}) };
}

/** The manifest's secrets the tenant does not have: env lacks them until they are set. */
async function missingSecrets(secrets: SecretStore, tenant: string, manifest: Manifest): Promise<string[]> {
  const have = new Set((await secrets.list(tenant)).map((secret) => secret.name));
  return secretNames(manifest).filter((name) => !have.has(name)).map((name) => `manifest.secrets: tenant ${tenant} has no secret ${name} (env.${name} is undefined until it is set: isobox secrets set ${name})`);
}

/** Exactly one of code and source, each within size and storable (sourceMap too). */
function checkedText(input: DeployInput): { field: "code" | "source"; text: string } {
  const field = input.source !== undefined ? "source" : "code";
  if (input.source !== undefined && input.code !== undefined) throw new IsoboxError("ERR_BAD_REQUEST", "body: send either code (a bundled module) or source (with language), not both", { details: { field: "body.source" } });
  const text = input[field];
  if (typeof text !== "string" || text.length === 0) throw new IsoboxError("ERR_BAD_REQUEST", `${field}: expected the module's source as a non-empty string`, { details: { field } });
  if (input.language !== undefined && field !== "source") throw new IsoboxError("ERR_BAD_REQUEST", "language: goes with source, not with code", { details: { field: "language" } });
  if (Buffer.byteLength(text) > MAX_CODE_BYTES) throw new IsoboxError("ERR_BODY_TOO_LARGE", `${field}: larger than ${MAX_CODE_BYTES} bytes`);
  for (const [name, value] of [[field, text], ["sourceMap", input.sourceMap ?? ""]] as const) {
    if (!isStorableText(value)) throw new IsoboxError("ERR_BAD_REQUEST", `${name}: holds a NUL character or a lone surrogate, which cannot be stored`, { details: { field: name } });
  }
  return { field, text };
}

/**
 * The module's handlers, read by loading it as the pool will; a module that would fail every call
 * (no default export, no handler, a throw or a loop at its top level) is refused now, at the
 * author's line when its source map knows it.
 */
async function moduleHandlers(code: string, sourceMap: string | null, field: "code" | "source", filename: string, limits: ResolvedLimits): Promise<string[]> {
  const report = await checkModule(code, filename, { memoryMb: limits.memoryMb, timeoutMs: Math.max(limits.cpuMs, 1000) });
  if (report.ok) return report.handlers;
  const { message, line, column } = report.problem;
  const origin = line === undefined ? undefined : new StackMapper(sourceMap).origin(line, column ?? 1);
  if (origin) throw new IsoboxError("ERR_COMPILE", `${message} at ${origin.file}:${origin.line}:${origin.column}`, { details: { field, ...origin } });
  const at = line === undefined ? "" : ` at line ${line}, column ${column}`;
  throw new IsoboxError("ERR_COMPILE", `${message}${at}`, { details: { field, line, column } });
}

/** A tool's calls need their handler: a job-mode tool's job, else tool or fetch. */
function checkToolHandler(manifest: Manifest, handlers: string[]): void {
  const tool = manifest.tool;
  if (!tool) return;
  const needed = tool.mode === "job" ? ["job"] : ["tool", "fetch"];
  if (needed.some((handler) => handlers.includes(handler))) return;
  const what = tool.mode === "job" ? "tool.mode \"job\" runs each call as a job: the module needs a job handler" : "the module needs a tool handler (or a fetch handler) to serve tool calls";
  throw new IsoboxError("ERR_INVALID_MANIFEST", `manifest.tool: ${what}; it exports ${handlers.join(", ")}`, { details: { field: "manifest.tool" } });
}

export async function rollbackFunction(db: Db, registry: FunctionRegistry, tenant: string, name: string, version: number): Promise<Deployed> {
  if (!Number.isInteger(version) || version < 1) throw new IsoboxError("ERR_BAD_REQUEST", "version: expected a positive integer");
  if (!(await getFunction(db.orm, tenant, name))) throw new IsoboxError("ERR_NOT_FOUND", `Function ${tenant}/${name} does not exist`);
  const row = await getVersion(db.orm, tenant, name, version);
  if (!row) throw new IsoboxError("ERR_NOT_FOUND", `Function ${tenant}/${name} has no version ${version}`);
  await setActiveVersion(db.orm, tenant, name, version);
  // The schedules are the serving version's.
  await replaceSchedules(db, tenant, name, parseManifest(row.manifest).schedules ?? []);
  await registry.changed(tenant, name);
  return { name, version };
}

/** The tenant's count and size quotas: how many functions, how much memory one may ask for. */
async function checkQuotas(db: Db, limiter: TenantLimiter, tenant: string, name: string, manifest: Manifest): Promise<void> {
  const quotas = await limiter.quotas(tenant);
  if (quotas.memoryMb !== undefined && (manifest.limits?.memoryMb ?? 0) > quotas.memoryMb) {
    throw new IsoboxError("ERR_QUOTA_EXCEEDED", `manifest.limits.memoryMb: tenant ${tenant} may use at most ${quotas.memoryMb} MB per function`);
  }
  if (quotas.functions !== undefined) {
    const existing = await listFunctions(db.orm, tenant);
    if (!existing.some((fn) => fn.name === name) && existing.length >= quotas.functions) {
      throw new IsoboxError("ERR_QUOTA_EXCEEDED", `Tenant ${tenant} has ${existing.length} functions, its quota`);
    }
  }
  const schedules = manifest.schedules?.length ?? 0;
  if (quotas.schedules !== undefined && schedules > 0) {
    const others = await countSchedules(db, tenant, name);
    if (others + schedules > quotas.schedules) {
      throw new IsoboxError("ERR_QUOTA_EXCEEDED", `manifest.schedules: tenant ${tenant} may have at most ${quotas.schedules} schedules, and has ${others} in other functions`, { details: { field: "manifest.schedules" } });
    }
  }
}

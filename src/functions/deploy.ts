// Deploying a function: validate name, manifest and code, store a new immutable version, tell
// every node.
import { checkModule } from "../../sandbox/host/compile-check.ts";
import type { Db } from "../db/connect.ts";
import { IsoboxError } from "../errors.ts";
import { getTenant } from "../tenancy/tenants.ts";
import { checkName } from "../names.ts";
import { parseManifest, type Manifest } from "./manifest.ts";
import type { TenantLimiter } from "../tenancy/quotas.ts";
import type { FunctionRegistry } from "./registry.ts";
import { getFunction, getVersion, insertVersion, listFunctions, setActiveVersion } from "./store.ts";
import { countSchedules, replaceSchedules } from "../jobs/schedules.ts";
import { isStorableText } from "../db/storable.ts";
import type { SecretStore } from "../capabilities/secrets.ts";
import { checkWebhookSecrets } from "../webhooks/secret-check.ts";

export const MAX_CODE_BYTES = 10 * 1024 * 1024;

export interface DeployInput {
  code: string;
  manifest?: unknown;
  sourceMap?: string;
}

export interface Deployed {
  name: string;
  version: number;
}

export async function deployFunction(db: Db, registry: FunctionRegistry, limiter: TenantLimiter, secrets: SecretStore, tenant: string, name: string, input: DeployInput): Promise<Deployed> {
  checkName("function", name);
  if (typeof input.code !== "string" || input.code.length === 0) throw new IsoboxError("ERR_BAD_REQUEST", "code: expected the module's source as a non-empty string");
  if (Buffer.byteLength(input.code) > MAX_CODE_BYTES) throw new IsoboxError("ERR_BODY_TOO_LARGE", `code: larger than ${MAX_CODE_BYTES} bytes`);
  for (const [field, text] of [["code", input.code], ["sourceMap", input.sourceMap ?? ""]] as const) {
    if (!isStorableText(text)) throw new IsoboxError("ERR_BAD_REQUEST", `${field}: holds a NUL character or a lone surrogate, which cannot be stored`, { details: { field } });
  }
  const manifest = parseManifest(input.manifest);
  if (!(await getTenant(db.orm, tenant))) throw new IsoboxError("ERR_NOT_FOUND", `Tenant ${tenant} does not exist`);
  await checkWebhookSecrets(secrets, tenant, manifest);
  await checkQuotas(db, limiter, tenant, name, manifest);
  const problem = await checkModule(input.code, `file:///${tenant}/${name}.js`);
  if (problem) {
    const where = problem.line === undefined ? "" : ` at line ${problem.line}, column ${problem.column}`;
    throw new IsoboxError("ERR_COMPILE", `${problem.message}${where}`, { details: { line: problem.line, column: problem.column } });
  }
  const version = await insertVersion(db.orm, tenant, name, input.code, manifest, input.sourceMap ?? null);
  await replaceSchedules(db, tenant, name, manifest.schedules ?? []);
  await registry.changed(tenant, name);
  return { name, version };
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

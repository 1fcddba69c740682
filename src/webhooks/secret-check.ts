// A webhook's signing secret is checked where it is given, not only when a delivery finds it
// unusable: when the secret is set (against the serving functions' webhooks that name it) and
// when a function is deployed (against the secrets its webhooks name that exist already).
import { and, eq, sql } from "drizzle-orm";
import { functions, functionVersions } from "../../schema/tables.ts";
import type { SecretStore } from "../capabilities/secrets.ts";
import type { Database } from "../db/connect.ts";
import { IsoboxError } from "../errors.ts";
import type { Manifest, WebhookSpec } from "../functions/manifest.ts";
import { checkSigningSecret } from "./keys.ts";

/** The webhooks of the tenant's serving versions whose verify.secret is `secret`. */
async function hooksNaming(db: Database, tenant: string, secret: string): Promise<{ fn: string; hook: WebhookSpec }[]> {
  // jsonb containment finds the versions in the database, so functions without such a webhook are not read.
  const naming = JSON.stringify({ webhooks: [{ verify: { secret } }] });
  const rows = await db.select({ name: functions.name, manifest: functionVersions.manifest })
    .from(functions)
    .innerJoin(functionVersions, and(eq(functionVersions.tenant, functions.tenant), eq(functionVersions.name, functions.name), eq(functionVersions.version, functions.activeVersion)))
    .where(and(eq(functions.tenant, tenant), sql`${functionVersions.manifest} @> ${naming}::jsonb`))
    .orderBy(functions.name);
  return rows.flatMap((row) => ((row.manifest as Manifest).webhooks ?? [])
    .filter((hook) => hook.verify.secret === secret)
    .map((hook) => ({ fn: row.name, hook })));
}

/**
 * Refuses a value for the secret `name` that a serving webhook of the tenant could not verify
 * with: 400 naming body.value and the webhook. A secret no webhook names is not judged.
 */
export async function checkSecretForHooks(db: Database, tenant: string, name: string, value: string): Promise<void> {
  for (const { fn, hook } of await hooksNaming(db, tenant, name)) {
    const problem = checkSigningSecret(hook.verify.scheme, value);
    if (problem) {
      throw new IsoboxError("ERR_BAD_REQUEST", `body.value: not a usable ${hook.verify.scheme} signing secret for webhook ${fn}/${hook.name}, which verifies with ${name}: ${problem}`, { details: { field: "body.value" } });
    }
  }
}

/**
 * For deploy: refuses a manifest whose webhook names a secret that exists and is unusable for the
 * webhook's scheme (ERR_INVALID_MANIFEST naming the field). A secret not set yet is not judged:
 * it is often set after the deploy, and is checked then.
 */
export async function checkWebhookSecrets(secrets: SecretStore, tenant: string, manifest: Manifest): Promise<void> {
  const hooks = manifest.webhooks ?? [];
  const values = await secrets.env(tenant, hooks.map((hook) => hook.verify.secret));
  hooks.forEach((hook, i) => {
    const value = values[hook.verify.secret];
    const problem = value === undefined ? undefined : checkSigningSecret(hook.verify.scheme, value);
    if (!problem) return;
    const field = `manifest.webhooks.${i}.verify.secret`;
    throw new IsoboxError("ERR_INVALID_MANIFEST", `${field}: the secret ${hook.verify.secret} is not a usable ${hook.verify.scheme} signing secret: ${problem}`, { details: { field } });
  });
}

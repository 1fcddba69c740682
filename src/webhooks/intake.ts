// Webhook intake: verify the raw body against the manifest's scheme and the tenant's secret,
// store the event and its job together, answer at once. The function's job handler later gets
// { headers, body, event } (event: the body parsed as JSON, else null).
//
// Every delivery is its own statements (one insert of event and job, or one of a rejection): a
// delivery that cannot be stored fails alone and never takes others with it.
import { randomUUID } from "node:crypto";
import type { SecretStore } from "../capabilities/secrets.ts";
import type { Db } from "../db/connect.ts";
import { IsoboxError } from "../errors.ts";
import type { WebhookSpec } from "../functions/manifest.ts";
import type { ActiveFunction } from "../functions/registry.ts";
import { DEFAULT_MAX_ATTEMPTS } from "../jobs/enqueue.ts";
import { acceptDelivery } from "../jobs/queue.ts";
import { recordRejected } from "./events.ts";
import { checkSigningSecret, usableKeys } from "./keys.ts";
import type { RejectionBudget } from "./rejection-budget.ts";
import { WebhookRejected } from "./signature.ts";
import { bodyText, checkDeliveryId, parseEvent } from "./storable.ts";
import { dataError } from "../db/storable.ts";
import { verifyDelivery } from "./verify.ts";

/** Largest webhook body (GitHub's and Stripe's events are far smaller). */
export const MAX_WEBHOOK_BYTES = 1024 * 1024;
/** Headers not kept with an event: they may carry credentials unrelated to the signature. */
export const UNSTORED_HEADERS: ReadonlySet<string> = new Set(["authorization", "cookie", "proxy-authorization"]);

export interface Received {
  eventId: string;
  jobId: string;
  /** False for a redelivery: the first delivery's event and job. */
  created: boolean;
}

export function storedHeaders(headers: Headers): Record<string, string> {
  const kept: Record<string, string> = {};
  headers.forEach((value, name) => {
    if (!UNSTORED_HEADERS.has(name)) kept[name] = value;
  });
  return kept;
}

/** The job's payload; throws WebhookRejected when the body's JSON cannot be stored (see storable.ts). */
export function webhookPayload(headers: Record<string, string>, body: string): string {
  return JSON.stringify({ headers, body, event: parseEvent(body) });
}

/** The usable keys of the hook's secret; refused when there are none, so nothing is verified against an empty key. */
async function signingKeys(secrets: SecretStore, fn: ActiveFunction, hook: WebhookSpec): Promise<Buffer[]> {
  const name = hook.verify.secret;
  const secret = (await secrets.env(fn.tenant, [name]))[name];
  // Refused like a bad signature (nothing verifies), but the message says what to fix.
  if (secret === undefined) throw new WebhookRejected("ERR_BAD_SIGNATURE", `The secret ${name} is not set in tenant ${fn.tenant}`);
  const keys = usableKeys(hook.verify.scheme, secret);
  if (keys.length > 0) return keys;
  const problem = checkSigningSecret(hook.verify.scheme, secret) ?? "it holds no usable key";
  // Not the delivery's fault: the hook cannot verify anything until its secret is replaced.
  throw new WebhookRejected("ERR_CONFLICT", `The signing secret ${name} of webhook ${fn.name}/${hook.name} is invalid for scheme ${hook.verify.scheme}: ${problem}; every delivery is refused until it is set to the provider's signing secret`);
}

async function store(db: Db, fn: ActiveFunction, hook: WebhookSpec, deliveryId: string, headers: Record<string, string>, text: string): Promise<Received> {
  try {
    return await acceptDelivery(db, { eventId: randomUUID(), hook: hook.name, deliveryId, headers, body: text }, {
      id: randomUUID(),
      tenant: fn.tenant,
      function: fn.name,
      trigger: "webhook",
      payload: webhookPayload(headers, text),
      maxAttempts: fn.manifest.jobs?.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      delayMs: 0,
      priority: 0,
      key: `webhook:${hook.name}:${deliveryId}`,
      concurrency: fn.manifest.jobs?.concurrency,
      traceId: randomUUID().replaceAll("-", ""),
    });
  } catch (error) {
    // The checks in storable.ts should leave nothing for the database to refuse; if it still
    // does, for this delivery's data, the delivery is refused rather than answered with a 500.
    const problem = dataError(error);
    if (!problem) throw error;
    console.error(`isobox: webhook ${fn.tenant}/${fn.name}/${hook.name}: a verified delivery could not be stored: ${problem}`);
    throw new WebhookRejected("ERR_BAD_REQUEST", `The delivery cannot be stored: ${problem}`);
  }
}

export async function receive(db: Db, secrets: SecretStore, budget: RejectionBudget, fn: ActiveFunction, hookName: string, headers: Record<string, string>, body: Buffer | WebhookRejected): Promise<Received> {
  const hook = fn.manifest.webhooks?.find((h) => h.name === hookName);
  if (!hook) throw new IsoboxError("ERR_NOT_FOUND", `Function ${fn.tenant}/${fn.name} has no webhook ${hookName}`);
  try {
    if (body instanceof WebhookRejected) throw body;
    const keys = await signingKeys(secrets, fn, hook);
    const { deliveryId } = verifyDelivery(hook, keys, { headers, body, now: Date.now() / 1000 });
    // Only a verified delivery is examined further: a forged one is a bad signature, whatever it holds.
    const text = bodyText(body);
    checkDeliveryId(deliveryId);
    return await store(db, fn, hook, deliveryId, headers, text);
  } catch (error) {
    if (!(error instanceof WebhookRejected)) throw error;
    await keepRejection(db, budget, fn, hook, error, headers);
    throw new IsoboxError(error.code, error.message);
  }
}

/**
 * Stores the refusal so the user sees why (within the hook's budget). A refusal is answered as one
 * even when it cannot be stored: the provider must not see a 500 for a delivery that was refused.
 */
async function keepRejection(db: Db, budget: RejectionBudget, fn: ActiveFunction, hook: WebhookSpec, error: WebhookRejected, headers: Record<string, string>): Promise<void> {
  if (!budget.take(`${fn.tenant}/${fn.name}/${hook.name}`)) return;
  try {
    await recordRejected(db, { id: randomUUID(), tenant: fn.tenant, function: fn.name, hook: hook.name, reason: { code: error.code, message: error.message }, headers });
  } catch (failure) {
    console.error(`isobox: webhook ${fn.tenant}/${fn.name}/${hook.name}: the rejected delivery could not be recorded`, failure);
  }
}

// Webhook intake: verify the raw body against the manifest's scheme and the tenant's secret,
// store the event and its job together, answer at once. The function's job handler later gets
// { headers, body, event } (event: the body parsed as JSON, else null).
import { randomUUID } from "node:crypto";
import type { SecretStore } from "../capabilities/secrets.ts";
import type { Db } from "../db/connect.ts";
import { IsoboxError } from "../errors.ts";
import type { ActiveFunction } from "../functions/registry.ts";
import { DEFAULT_MAX_ATTEMPTS } from "../jobs/enqueue.ts";
import { acceptDelivery } from "../jobs/queue.ts";
import { recordRejected } from "./events.ts";
import type { RejectionBudget } from "./rejection-budget.ts";
import { WebhookRejected } from "./signature.ts";
import { verifyDelivery } from "./verify.ts";

/** Largest webhook body (GitHub's and Stripe's events are far smaller). */
export const MAX_WEBHOOK_BYTES = 1024 * 1024;
/** Headers not kept with an event: they may carry credentials unrelated to the signature. */
const UNSTORED = new Set(["authorization", "cookie", "proxy-authorization"]);

export interface Received {
  eventId: string;
  jobId: string;
  /** False for a redelivery: the first delivery's event and job. */
  created: boolean;
}

export function storedHeaders(headers: Headers): Record<string, string> {
  const kept: Record<string, string> = {};
  headers.forEach((value, name) => {
    if (!UNSTORED.has(name)) kept[name] = value;
  });
  return kept;
}

export function webhookPayload(headers: Record<string, string>, body: string): string {
  let event: unknown = null;
  try {
    event = JSON.parse(body);
  } catch {
    // Not JSON (form-encoded, XML): the handler reads `body`.
  }
  return JSON.stringify({ headers, body, event });
}

export async function receive(db: Db, secrets: SecretStore, budget: RejectionBudget, fn: ActiveFunction, hookName: string, headers: Record<string, string>, body: Buffer | WebhookRejected): Promise<Received> {
  const hook = fn.manifest.webhooks?.find((h) => h.name === hookName);
  if (!hook) throw new IsoboxError("ERR_NOT_FOUND", `Function ${fn.tenant}/${fn.name} has no webhook ${hookName}`);
  try {
    if (body instanceof WebhookRejected) throw body;
    const secret = (await secrets.env(fn.tenant, [hook.verify.secret]))[hook.verify.secret];
    // Refused like a bad signature (nothing verifies), but the message says what to fix.
    if (!secret) throw new WebhookRejected("ERR_BAD_SIGNATURE", `The secret ${hook.verify.secret} is not set in tenant ${fn.tenant}`);
    const { deliveryId } = verifyDelivery(hook, secret, { headers, body, now: Date.now() / 1000 });
    const text = body.toString("utf8");
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
    if (!(error instanceof WebhookRejected)) throw error;
    if (budget.take(`${fn.tenant}/${fn.name}/${hook.name}`)) {
      await recordRejected(db, { id: randomUUID(), tenant: fn.tenant, function: fn.name, hook: hook.name, reason: { code: error.code, message: error.message }, headers });
    }
    throw new IsoboxError(error.code, error.message);
  }
}

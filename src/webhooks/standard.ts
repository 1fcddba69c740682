// Standard Webhooks (and Svix, which uses svix- header names): webhook-id, webhook-timestamp and
// webhook-signature: space-separated "v1,<base64>" entries (several during a key rotation),
// HMAC-SHA256 over "<id>.<timestamp>.<raw body>" keyed with the base64-decoded part of "whsec_…"
// (or a bare base64 key); 300 s tolerance.
import { anyMatches, checkTimestamp, decode, hmacSha256, requireHeader, WebhookRejected, type Delivery, type Verified } from "./signature.ts";

function header(delivery: Delivery, name: string): string {
  return delivery.headers[`webhook-${name}`] ?? delivery.headers[`svix-${name}`] ?? requireHeader(delivery, `webhook-${name}`);
}

/** `keys`: the hook secret's usable keys, already base64-decoded (see keys.ts). */
export function verifyStandard(delivery: Delivery, keys: Buffer[], toleranceSeconds = 300): Verified {
  const id = header(delivery, "id");
  const timestamp = header(delivery, "timestamp");
  const signatures = header(delivery, "signature").split(" ")
    .map((entry) => entry.split(","))
    .filter(([version, value]) => version === "v1" && value)
    .map(([, value]) => decode(value, "base64"));
  if (signatures.length === 0) throw new WebhookRejected("ERR_BAD_REQUEST", "The webhook-signature header has no v1 signature");
  const matched = keys.some((key) => anyMatches(hmacSha256(key, `${id}.${timestamp}.`, delivery.body), signatures));
  if (!matched) throw new WebhookRejected("ERR_BAD_SIGNATURE", "No v1 signature in webhook-signature matches the body and the secret");
  checkTimestamp(timestamp, delivery, toleranceSeconds, "webhook-timestamp");
  return { deliveryId: id };
}

// Standard Webhooks (and Svix, which uses svix- header names): webhook-id, webhook-timestamp and
// webhook-signature: space-separated "v1,<base64>" entries (several during a key rotation),
// HMAC-SHA256 over "<id>.<timestamp>.<raw body>" keyed with the base64 part of "whsec_…";
// 300 s tolerance.
import { anyMatches, checkTimestamp, decode, hmacSha256, requireHeader, secretList, WebhookRejected, type Delivery, type Verified } from "./signature.ts";

function header(delivery: Delivery, name: string): string {
  return delivery.headers[`webhook-${name}`] ?? delivery.headers[`svix-${name}`] ?? requireHeader(delivery, `webhook-${name}`);
}

export function verifyStandard(delivery: Delivery, secret: string, toleranceSeconds = 300): Verified {
  const id = header(delivery, "id");
  const timestamp = header(delivery, "timestamp");
  const signatures = header(delivery, "signature").split(" ")
    .map((entry) => entry.split(","))
    .filter(([version, value]) => version === "v1" && value)
    .map(([, value]) => decode(value, "base64"));
  if (signatures.length === 0) throw new WebhookRejected("ERR_BAD_REQUEST", "The webhook-signature header has no v1 signature");
  const matched = secretList(secret).some((key) => anyMatches(hmacSha256(Buffer.from(key.replace(/^whsec_/, ""), "base64"), `${id}.${timestamp}.`, delivery.body), signatures));
  if (!matched) throw new WebhookRejected("ERR_BAD_SIGNATURE", "No v1 signature in webhook-signature matches the body and the secret");
  checkTimestamp(timestamp, delivery, toleranceSeconds, "webhook-timestamp");
  return { deliveryId: id };
}

// Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]`, HMAC-SHA256 over "<t>.<raw body>"
// keyed with the endpoint secret ("whsec_…" as it is), 300 s tolerance; the event id is the body's `id`.
import { anyMatches, checkTimestamp, decode, hmacSha256, requireHeader, WebhookRejected, type Delivery, type Verified } from "./signature.ts";

/** `keys`: the hook secret's usable keys, "whsec_…" as it is (see keys.ts). */
export function verifyStripe(delivery: Delivery, keys: Buffer[], toleranceSeconds = 300): Verified {
  const header = requireHeader(delivery, "stripe-signature");
  const pairs = header.split(",").map((part) => part.trim().split("="));
  const timestamp = pairs.find(([key]) => key === "t")?.[1];
  const signatures = pairs.filter(([key, value]) => key === "v1" && value).map(([, value]) => decode(value, "hex"));
  if (!timestamp || signatures.length === 0) throw new WebhookRejected("ERR_BAD_REQUEST", "The stripe-signature header has no t= or v1= part");
  const matched = keys.some((key) => anyMatches(hmacSha256(key, `${timestamp}.`, delivery.body), signatures));
  if (!matched) throw new WebhookRejected("ERR_BAD_SIGNATURE", "No v1 signature in stripe-signature matches the body and the secret");
  checkTimestamp(timestamp, delivery, toleranceSeconds, "stripe-signature");
  let id: unknown;
  try {
    id = (JSON.parse(delivery.body.toString("utf8")) as { id?: unknown }).id;
  } catch {
    throw new WebhookRejected("ERR_BAD_REQUEST", "The body is not a Stripe event (not JSON)");
  }
  if (typeof id !== "string" || id.length === 0) throw new WebhookRejected("ERR_BAD_REQUEST", "The Stripe event has no id");
  return { deliveryId: id };
}

// GitHub: `X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 over the raw body keyed with the
// webhook secret; the delivery id is `X-GitHub-Delivery`. GitHub signs no timestamp.
import { anyMatches, decode, hmacSha256, requireHeader, WebhookRejected, type Delivery, type Verified } from "./signature.ts";

/** `keys`: the hook secret's usable keys (see keys.ts). */
export function verifyGithub(delivery: Delivery, keys: Buffer[]): Verified {
  const header = requireHeader(delivery, "x-hub-signature-256");
  const deliveryId = requireHeader(delivery, "x-github-delivery");
  if (!header.startsWith("sha256=")) throw new WebhookRejected("ERR_BAD_REQUEST", "The x-hub-signature-256 header does not start with sha256=");
  const signature = decode(header.slice(7), "hex");
  const matched = keys.some((key) => anyMatches(hmacSha256(key, delivery.body), [signature]));
  if (!matched) throw new WebhookRejected("ERR_BAD_SIGNATURE", "x-hub-signature-256 does not match the body and the secret");
  return { deliveryId };
}

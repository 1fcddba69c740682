// Picks the manifest's scheme for a delivery.
import type { WebhookSpec } from "../functions/manifest.ts";
import { verifyGithub } from "./github.ts";
import { verifyHmac } from "./hmac.ts";
import type { Delivery, Verified } from "./signature.ts";
import { verifyStandard } from "./standard.ts";
import { verifyStripe } from "./stripe.ts";

/** `keys`: the usable keys of the hook's secret (usableKeys in keys.ts), never empty. */
export function verifyDelivery(hook: WebhookSpec, keys: Buffer[], delivery: Delivery): Verified {
  const { verify } = hook;
  switch (verify.scheme) {
    case "stripe": return verifyStripe(delivery, keys, verify.toleranceSeconds);
    case "github": return verifyGithub(delivery, keys);
    case "standard": return verifyStandard(delivery, keys, verify.toleranceSeconds);
    case "hmac-sha256": return verifyHmac(delivery, keys, verify);
  }
}

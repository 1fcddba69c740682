// Picks the manifest's scheme for a delivery.
import type { WebhookSpec } from "../functions/manifest.ts";
import { verifyGithub } from "./github.ts";
import { verifyHmac } from "./hmac.ts";
import type { Delivery, Verified } from "./signature.ts";
import { verifyStandard } from "./standard.ts";
import { verifyStripe } from "./stripe.ts";

export function verifyDelivery(hook: WebhookSpec, secret: string, delivery: Delivery): Verified {
  const { verify } = hook;
  switch (verify.scheme) {
    case "stripe": return verifyStripe(delivery, secret, verify.toleranceSeconds);
    case "github": return verifyGithub(delivery, secret);
    case "standard": return verifyStandard(delivery, secret, verify.toleranceSeconds);
    case "hmac-sha256": return verifyHmac(delivery, secret, verify);
  }
}

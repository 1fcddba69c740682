// Generic HMAC-SHA256 (Slack-like and in-house senders): the signature in a named header, hex or
// base64, an optional "sha256=" prefix; with a timestamp header the signed text is
// "<timestamp>.<raw body>" and the timestamp must be within the tolerance. The delivery id is the
// `idHeader`'s value, else derived from the signature (a redelivery of the same signed message
// carries the same one).
import { createHash } from "node:crypto";
import type { WebhookSpec } from "../functions/manifest.ts";
import { anyMatches, checkTimestamp, decode, hmacSha256, requireHeader, WebhookRejected, type Delivery, type Verified } from "./signature.ts";

/** `keys`: the hook secret's usable keys (see keys.ts). */
export function verifyHmac(delivery: Delivery, keys: Buffer[], verify: WebhookSpec["verify"]): Verified {
  const name = verify.header!.toLowerCase();
  const raw = requireHeader(delivery, name).replace(/^sha256=/, "");
  const signature = decode(raw, verify.encoding ?? "hex");
  const timestampHeader = verify.timestampHeader?.toLowerCase();
  const timestamp = timestampHeader ? requireHeader(delivery, timestampHeader) : undefined;
  const signed = timestamp === undefined ? [delivery.body] : [`${timestamp}.`, delivery.body];
  const matched = keys.some((key) => anyMatches(hmacSha256(key, ...signed), [signature]));
  if (!matched) throw new WebhookRejected("ERR_BAD_SIGNATURE", `${name} does not match the body and the secret`);
  if (timestamp !== undefined) checkTimestamp(timestamp, delivery, verify.toleranceSeconds ?? 300, timestampHeader!);
  const idHeader = verify.idHeader?.toLowerCase();
  const deliveryId = idHeader ? requireHeader(delivery, idHeader) : createHash("sha256").update(raw).update(timestamp ?? "").digest("hex");
  return { deliveryId };
}

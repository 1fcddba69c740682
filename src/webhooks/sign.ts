// Signing a test delivery exactly as each provider signs (the inverse of the verifiers), so that
// `isobox hooks send` exercises a webhook function end to end with the tenant's stored secret.
import { randomBytes, randomUUID } from "node:crypto";
import type { WebhookSpec } from "../functions/manifest.ts";
import { hmacSha256 } from "./signature.ts";

/** A body for a hook when the caller gives none: what the provider's own test events look like. */
export function samplePayload(scheme: WebhookSpec["verify"]["scheme"]): unknown {
  switch (scheme) {
    case "stripe": return { id: `evt_test_${randomBytes(12).toString("hex")}`, object: "event", type: "isobox.test", data: { object: {} } };
    case "github": return { zen: "Sent by isobox hooks send.", hook_id: 0 };
    default: return { type: "isobox.test", sentAt: new Date().toISOString() };
  }
}

/** The headers the provider would send with `body`, signed with `key` (a usable key of the hook's secret). */
export function signedHeaders(hook: WebhookSpec, key: Buffer, body: Buffer, now = Math.floor(Date.now() / 1000)): Record<string, string> {
  const { verify } = hook;
  const json = { "content-type": "application/json" };
  switch (verify.scheme) {
    case "github":
      return { ...json, "x-github-event": "ping", "x-github-delivery": randomUUID(), "x-hub-signature-256": `sha256=${hmacSha256(key, body).toString("hex")}` };
    case "stripe":
      return { ...json, "stripe-signature": `t=${now},v1=${hmacSha256(key, `${now}.`, body).toString("hex")}` };
    case "standard": {
      const id = `msg_${randomBytes(12).toString("hex")}`;
      return { ...json, "webhook-id": id, "webhook-timestamp": String(now), "webhook-signature": `v1,${hmacSha256(key, `${id}.${now}.`, body).toString("base64")}` };
    }
    case "hmac-sha256": {
      const timestamp = verify.timestampHeader ? { [verify.timestampHeader.toLowerCase()]: String(now) } : {};
      const signed = verify.timestampHeader ? hmacSha256(key, `${now}.`, body) : hmacSha256(key, body);
      const id = verify.idHeader ? { [verify.idHeader.toLowerCase()]: randomUUID() } : {};
      return { ...json, ...timestamp, ...id, [verify.header!.toLowerCase()]: signed.toString(verify.encoding ?? "hex") };
    }
  }
}

// Fingerprints: short hex names for a master key or an admin token, so that a refusal can say
// which one a node has and which one the cluster expects. An HMAC keyed by the secret over a fixed
// text names the secret without revealing anything usable about it.
import { createHmac } from "node:crypto";
import { sha256Hex } from "../tenancy/secret-compare.ts";

const LABEL = "isobox fingerprint";
const FINGERPRINT_CHARS = 16;

/** The check value the cluster stores for a master key: HMAC-SHA256(key, label), hex. */
export function keyCheck(key: Buffer): string {
  return createHmac("sha256", key).update(LABEL).digest("hex");
}

/** A master key's fingerprint: the start of its check value. */
export function keyFingerprint(check: string): string {
  return check.slice(0, FINGERPRINT_CHARS);
}

/** What the cluster stores of an admin token: its SHA-256 (as of tenant API keys). */
export function tokenHash(token: string): string {
  return sha256Hex(token);
}

/** An admin token's fingerprint, from its stored hash alone: a node can name the cluster's without knowing it. */
export function tokenFingerprint(hash: string): string {
  return keyFingerprint(keyCheck(Buffer.from(hash, "hex")));
}

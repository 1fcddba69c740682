// What every verifier shares: the refusal, constant-time comparison, and the timestamp window.
import { createHmac, timingSafeEqual } from "node:crypto";

/** ERR_CONFLICT: the hook itself cannot verify anything (its signing secret is unusable). */
export type RejectCode = "ERR_BAD_SIGNATURE" | "ERR_STALE_TIMESTAMP" | "ERR_BAD_REQUEST" | "ERR_BODY_TOO_LARGE" | "ERR_CONFLICT";

/** A delivery refused before it reached the function; stored as a rejected event. */
export class WebhookRejected extends Error {
  readonly code: RejectCode;
  constructor(code: RejectCode, message: string) {
    super(message);
    this.name = "WebhookRejected";
    this.code = code;
  }
}

export interface Delivery {
  /** Lower-case header names. */
  headers: Record<string, string>;
  body: Buffer;
  /** Seconds since the epoch, for timestamp windows. */
  now: number;
}

export interface Verified {
  /** The provider's id of this delivery: a redelivery carries the same one. */
  deliveryId: string;
}

export function hmacSha256(key: Buffer | string, ...parts: (string | Buffer)[]): Buffer {
  const hmac = createHmac("sha256", key);
  for (const part of parts) hmac.update(part);
  return hmac.digest();
}

/** True when any candidate equals `expected`, compared in constant time. */
export function anyMatches(expected: Buffer, candidates: Buffer[]): boolean {
  let found = false;
  for (const candidate of candidates) {
    // timingSafeEqual needs equal lengths; a length mismatch says nothing about the secret.
    if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) found = true;
  }
  return found;
}

export function requireHeader(delivery: Delivery, name: string): string {
  const value = delivery.headers[name];
  if (!value) throw new WebhookRejected("ERR_BAD_REQUEST", `The ${name} header is missing`);
  return value;
}

/** Refuses a timestamp outside ±tolerance of now (a replayed or delayed delivery). */
export function checkTimestamp(raw: string, delivery: Delivery, toleranceSeconds: number, header: string): void {
  const timestamp = Number(raw);
  if (!/^\d{1,12}$/.test(raw) || !Number.isSafeInteger(timestamp)) throw new WebhookRejected("ERR_BAD_REQUEST", `The ${header} timestamp is not a number of seconds`);
  const age = delivery.now - timestamp;
  if (Math.abs(age) > toleranceSeconds) {
    throw new WebhookRejected("ERR_STALE_TIMESTAMP", `The ${header} timestamp is ${Math.round(age)} s from now; at most ${toleranceSeconds} s is accepted`);
  }
}

export function decode(text: string, encoding: "hex" | "base64"): Buffer {
  return Buffer.from(text.trim(), encoding);
}

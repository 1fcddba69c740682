// Signing keys: what a tenant secret must hold before it may verify a scheme's deliveries. An
// empty or short key would make forged deliveries verify (an empty HMAC key is a key anyone
// knows), so such a secret is refused when it is set, at deploy, and at every delivery.
import type { WebhookSpec } from "../functions/manifest.ts";

export type Scheme = WebhookSpec["verify"]["scheme"];

/**
 * Standard Webhooks keys are random bytes, base64 after "whsec_"; the scheme asks for 24 to 64
 * of them (24 is what Svix issues). Outside that range the value is not such a key: a truncated
 * paste, or another credential.
 */
export const STANDARD_KEY_BYTES = { min: 24, max: 64 } as const;

/**
 * Shared-secret schemes (stripe, github, hmac-sha256) take the key's text as the HMAC key. Anyone
 * who sees one signed delivery (a log, a proxy, a provider's dashboard) can test guesses against
 * it offline, at GPU speed, without ever calling Isobox, so a key must be long enough not to be
 * guessed: 16 bytes is 128 bits when random and about 95 as random letters and digits. Stripe
 * issues 32 characters after "whsec_" and generated secrets are longer still; what falls below is
 * a short hand-typed string such as a password, the kind that is guessed. Counted in UTF-8 bytes,
 * after Stripe's "whsec_" prefix (the prefix is known to everyone).
 */
export const MIN_SHARED_KEY_BYTES = 16;

/** One line of a secret: its key, or why it is no key. */
type Judged = { line: number; key: Buffer } | { line: number; problem: string };

/**
 * The non-empty lines of a secret, numbered from 1. During a rotation a secret holds several keys,
 * one per line; empty lines (a trailing newline from a shell or a file) are no key at all.
 */
function keyLines(value: string): { line: number; text: string }[] {
  return value.split(/\r?\n/).flatMap((text, i) => (text.length > 0 ? [{ line: i + 1, text }] : []));
}

// URL-safe letters are accepted as the base64 decoder accepts them; anything else is not base64.
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

function judgeStandard(text: string): Buffer | string {
  // Whitespace cannot be part of base64: surrounding whitespace is a paste's, not the key's.
  const trimmed = text.trim();
  if (trimmed.length === 0) return "the line is only whitespace";
  const encoded = trimmed.replace(/^whsec_/, "");
  if (encoded.length === 0) return "the key after whsec_ is empty";
  if (!BASE64.test(encoded)) return "the key after whsec_ is not base64";
  const key = Buffer.from(encoded, "base64");
  const { min, max } = STANDARD_KEY_BYTES;
  if (key.length < min || key.length > max) return `the key is ${key.length} bytes after base64-decoding; the scheme needs ${min} to ${max}`;
  return key;
}

function judgeShared(scheme: Scheme, text: string): Buffer | string {
  if (text.trim().length === 0) return "the line is only whitespace";
  const counted = scheme === "stripe" ? text.replace(/^whsec_/, "") : text;
  const bytes = Buffer.byteLength(counted);
  if (bytes === 0) return "the key after whsec_ is empty";
  if (bytes < MIN_SHARED_KEY_BYTES) return `the key is ${bytes} bytes${counted === text ? "" : " after whsec_"}; at least ${MIN_SHARED_KEY_BYTES} are needed`;
  // The verifiers key the HMAC with the text's UTF-8 bytes, as the providers do.
  return Buffer.from(text, "utf8");
}

function judge(scheme: Scheme, value: string): Judged[] {
  return keyLines(value).map(({ line, text }) => {
    const result = scheme === "standard" ? judgeStandard(text) : judgeShared(scheme, text);
    return typeof result === "string" ? { line, problem: result } : { line, key: result };
  });
}

/** The keys of a secret that may verify the scheme's deliveries; unusable lines are left out. */
export function usableKeys(scheme: Scheme, value: string): Buffer[] {
  return judge(scheme, value).flatMap((judged) => ("key" in judged ? [judged.key] : []));
}

/**
 * Why `value` is not a signing secret for `scheme`, or undefined when every non-empty line is a
 * usable key. Never quotes the value. For deploy and the secrets API: a bad line is refused there,
 * even next to a good one, as it is a mistake; deliveries are verified with the good lines.
 */
export function checkSigningSecret(scheme: Scheme, value: string): string | undefined {
  const judged = judge(scheme, value);
  if (judged.length === 0) return "it holds no key (it is empty)";
  const bad = judged.find((line): line is { line: number; problem: string } => "problem" in line);
  if (!bad) return undefined;
  return judged.length === 1 ? bad.problem : `line ${bad.line}: ${bad.problem}`;
}

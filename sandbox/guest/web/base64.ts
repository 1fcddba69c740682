// atob and btoa (HTML "forgiving-base64"), on the `base-64` package; its own error class is turned
// into the DOMException("InvalidCharacterError") that browsers throw.
import base64 from "base-64";
import { DOMException } from "./dom-exception.ts";
import { requireArgs } from "./util.ts";

function invalidCharacter(error: unknown): DOMException {
  const message = error instanceof Error ? error.message : "The string contains invalid characters.";
  return new DOMException(message, "InvalidCharacterError");
}

export function atob(data: unknown): string {
  requireArgs(arguments.length, 1, "atob");
  try {
    return base64.decode(String(data));
  } catch (error) {
    throw invalidCharacter(error);
  }
}

export function btoa(data: unknown): string {
  requireArgs(arguments.length, 1, "btoa");
  try {
    return base64.encode(String(data));
  } catch (error) {
    throw invalidCharacter(error);
  }
}

/** base64url without padding (JWK key material). */
export function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
  return base64.encode(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromBase64Url(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
